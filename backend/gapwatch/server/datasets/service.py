"""Decisions about datasets: upload into a project, read, delete, serve the file to its readers,
and resolve a custom benchmark's dataset when a run is submitted.

Files live in the artifact store, one canonical .npz per content digest
(`<artifacts_dir>/datasets/<digest>.npz`), shared by every row with that digest; a row is what
a project sees. Services flush; the request commits.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from gapwatch.config import Settings
from gapwatch.datasets.layout import normalization_problem
from gapwatch.resources import DatasetShape
from gapwatch.server.access import service as access
from gapwatch.server.access.principal import Principal
from gapwatch.server.datasets import content, repository
from gapwatch.server.datasets.schemas import DATASET_NAME_PATTERN, DatasetList, DatasetRead
from gapwatch.server.datasets.upload import ReceivedUpload, invalid
from gapwatch.server.db import call_after_commit
from gapwatch.server.errors import Conflict, Forbidden, NotFound, first_line
from gapwatch.server.models import Dataset, Project, Role, Run, RunStatus
from gapwatch.spec import PROJECT_NAME_PATTERN, CustomBenchmarkSpec, RunSpec

log = logging.getLogger(__name__)

DEFAULT_NAME = "dataset"
# Labels shown in a refusal before "...".
SHOWN_LABELS = 20


def datasets_folder(settings: Settings) -> Path:
    """Where the API keeps datasets: the canonical files and the uploads being received."""
    return settings.artifacts_dir / "datasets"


def default_name(filename: str | None) -> str:
    """A dataset name from a file name: 'My Digits.v2.npz' -> 'my-digits.v2'."""
    stem = Path(filename or "").name
    for suffix in (".npz", ".pt", ".pth"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    name = re.sub(r"[^a-z0-9_.-]+", "-", stem.lower())
    name = re.sub(r"^[^a-z0-9]+", "", name)[:64]
    return name or DEFAULT_NAME


def _text_field(upload: ReceivedUpload, field: str, pattern: str) -> str | None:
    value = upload.fields.get(field)
    if value is None:
        return None
    if not re.fullmatch(pattern, value):
        raise invalid(("body", field), f"{field} must match {pattern}", value)
    return value


# --- upload -----------------------------------------------------------------------------------


def check_uploader(session: Session, caller: Principal) -> None:
    """Refuse, before a byte of the body is read, a caller who may upload into no project:
    the project an upload goes to is only known once its `project` part has been read, but
    one who is an editor nowhere would be refused whichever it names (an API key narrowed to
    one project is judged by its role there).

    Raises:
        NotFound: The caller is in no project (as an upload into any would answer).
        Forbidden: The caller is only a viewer wherever they are.
    """
    roles = access.project_roles(session, caller)
    if any(role.includes(Role.editor) for role in roles.values()):
        return
    if not roles:
        raise NotFound("you are in no project: an owner adds you to one as an editor")
    via = " through this API key" if caller.via == "key" else ""
    raise Forbidden(
        f"uploading a dataset needs the {Role.editor} role in a project; you are a "
        f"{Role.viewer} wherever you are{via}"
    )


def create_dataset(
    session: Session, caller: Principal, upload: ReceivedUpload, settings: Settings
) -> Dataset:
    """Read, check and store an upload as a dataset of its project (the caller an editor there).

    Raises:
        RequestValidationError: A bad name or project, or content that is not a dataset
            (the message names the array at fault).
        NotFound: The caller is not in the project (or it does not exist).
        Forbidden: The caller is only a viewer there.
        Conflict: The project has a dataset of that name.
        ContentTooLarge: The arrays take more than GAPWATCH_MAX_DATASET_BYTES uncompressed.
    """
    project_name = _text_field(upload, "project", PROJECT_NAME_PATTERN)
    name = _text_field(upload, "name", DATASET_NAME_PATTERN) or default_name(upload.filename)
    project, _ = access.authorize_project(
        session,
        caller,
        project_name or access.default_project_name(session, caller),
        Role.editor,
    )
    _refuse_taken_name(session, project, name)
    try:
        parsed = content.read_dataset(upload.path, upload.filename, settings.max_dataset_bytes)
    except content.ContentError as error:
        raise invalid(("body", error.field), error.message, upload.filename) from None
    folder = datasets_folder(settings)
    stored = content.store_canonical(parsed.arrays, folder, parsed.digest)
    dataset = Dataset(
        project_id=project.id,
        project=project,
        name=name,
        digest=parsed.digest,
        format=parsed.format,
        size_bytes=stored.stat().st_size,
        shapes=parsed.shapes,
        dtype=parsed.dtype,
        classes=parsed.classes,
        n_train=parsed.n_train,
        n_test=parsed.n_test,
        created_by=caller.user_name,
    )
    if not repository.add(session, dataset):
        _refuse_taken_name(session, project, name)  # uploaded under that name meanwhile
        raise Conflict(f"project {project.name!r} already has a dataset named {name!r}")

    def keep_file() -> None:
        # A deletion of the last row with this digest, committed in the same instant, may
        # have removed the shared file after it was found: write it again.
        content.store_canonical(parsed.arrays, folder, parsed.digest)

    call_after_commit(session, keep_file)
    return dataset


def _refuse_taken_name(session: Session, project: Project, name: str) -> None:
    taken = repository.by_name(session, project.id, name)
    if taken is not None:
        raise Conflict(
            f"project {project.name!r} already has a dataset named {name!r} (id {taken.id}); "
            "choose another name or delete that one"
        )


# --- reading ----------------------------------------------------------------------------------


def authorize_dataset(session: Session, caller: Principal, dataset_id: int, need: Role) -> Dataset:
    """The dataset if the caller has `need` in its project; 404 if they cannot see it (as if
    it did not exist), 403 if they see it with a lesser role."""
    dataset = repository.get(session, dataset_id)
    if dataset is not None:
        try:
            access.authorize_project(session, caller, dataset.project.name, need)
        except NotFound:
            dataset = None
    if dataset is None:
        raise NotFound(f"dataset {dataset_id} not found")
    return dataset


def list_datasets(
    session: Session, caller: Principal, *, project: str | None, limit: int
) -> DatasetList:
    rows = repository.listing(
        session,
        visible_projects=access.visible_project_ids(session, caller),
        project=project,
        limit=limit,
    )
    return DatasetList(datasets=[DatasetRead.from_row(row) for row in rows])


def file_for_caller(
    session: Session, caller: Principal, dataset_id: int, settings: Settings
) -> tuple[Dataset, Path]:
    """The dataset and its canonical file, for a viewer of its project."""
    dataset = authorize_dataset(session, caller, dataset_id, Role.viewer)
    return dataset, _stored_file(dataset, settings)


def file_for_run(
    session: Session, run_id: int, token: str, dataset_id: int, settings: Settings
) -> tuple[Dataset, Path]:
    """The dataset and its canonical file, for the worker executing run `run_id` (its token):
    only while the run is running, and only the dataset its spec names.

    Raises:
        Forbidden: The token is not the run's, or the run is not running.
        NotFound: The run's spec names no such dataset of its project.
    """
    run = session.get(Run, run_id)
    access.check_run_token(run_id, run.token_hash if run else None, token)
    assert run is not None  # checked above
    if run.status != RunStatus.running:
        raise Forbidden(f"run {run_id} is {run.status}; only a running run's token reads data")
    dataset = repository.get(session, dataset_id)
    if (
        dataset is None
        or dataset.project_id != run.project_id
        or not repository.names_dataset(run.spec, dataset_id)
    ):
        raise NotFound(f"dataset {dataset_id} not found")
    return dataset, _stored_file(dataset, settings)


def _stored_file(dataset: Dataset, settings: Settings) -> Path:
    path = content.canonical_path(datasets_folder(settings), dataset.digest)
    if not path.is_file():
        raise NotFound(
            f"the file of dataset {dataset.id} ({dataset.name}) is missing from the artifact "
            f"store ({path}); delete the dataset and upload it again"
        )
    return path


# --- deleting ---------------------------------------------------------------------------------


def delete_dataset(session: Session, dataset: Dataset, settings: Settings) -> None:
    """Delete the row; its file goes too once the deletion has committed, unless another row
    (of any project) has the same content.

    Raises:
        Conflict: A queued or running run uses it.
    """
    runs = repository.active_runs_naming(session, dataset)
    if runs:
        shown = ", ".join(map(str, runs[:10])) + (" ..." if len(runs) > 10 else "")
        raise Conflict(
            f"dataset {dataset.id} is used by queued or running runs ({shown}); cancel them "
            "or wait until they end"
        )
    digest = dataset.digest
    repository.delete(session, dataset)
    release_files_after_commit(session, [digest], settings)


def release_files_after_commit(session: Session, digests: list[str], settings: Settings) -> None:
    """Once the deletion of dataset rows has committed, remove the files of `digests` that no
    row (of any project) references any more; a failure leaves a file, never a row without
    its file."""
    folder = datasets_folder(settings)

    def remove_files() -> None:
        try:
            for digest in sorted(set(digests)):
                if not repository.digest_in_use(session, digest):
                    with contextlib.suppress(FileNotFoundError):
                        content.canonical_path(folder, digest).unlink()
        except (SQLAlchemyError, OSError) as error:  # the rows are gone; the files wait
            log.warning("dataset files in %s were not removed: %s", folder, first_line(error))
        finally:
            session.close()

    call_after_commit(session, remove_files)


def release_project_files(session: Session, project: Project, settings: Settings) -> None:
    """Before a project is deleted (its dataset rows go with it): its files go after the
    commit, unless another project has the same content."""
    release_files_after_commit(session, repository.project_digests(session, project.id), settings)


# --- run submission ---------------------------------------------------------------------------


class SpecInvalid(Exception):
    """A run spec whose custom benchmark does not fit its dataset; `errors` are FastAPI-shaped
    errors whose locations are within the spec (("benchmark", "dataset"), ...)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(e["msg"] for e in errors))
        self.errors = errors


def _error(loc: tuple[str, ...], message: str, value: Any) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "msg": message, "input": value}


def _labels(classes: list[int]) -> str:
    shown = ", ".join(map(str, classes[:SHOWN_LABELS]))
    return shown + (f", ... ({len(classes)} in all)" if len(classes) > SHOWN_LABELS else "")


@dataclass(frozen=True)
class _Inputs:
    """What a spec check needs of a dataset's inputs."""

    name: str
    shape: tuple[int, ...]

    @property
    def images(self) -> bool:
        """(N, C, H, W) or (N, H, W): what rotations and convolutional models take."""
        return len(self.shape) in (3, 4)

    @property
    def noun(self) -> str:
        return f"x_train of dataset {self.name!r}"

    def described(self) -> str:
        return f"{self.noun} is {tuple(self.shape)}"


def dataset_shape(dataset: Dataset) -> DatasetShape:
    """What a run's resource estimate needs of a dataset, from its row."""
    try:
        itemsize = np.dtype(dataset.dtype).itemsize
    except TypeError:  # not a dtype numpy names (never stored by an upload): the widest
        itemsize = 8
    return DatasetShape(
        sample_shape=tuple(dataset.shape("x_train")[1:]),
        classes=tuple(dataset.classes),
        n_train=dataset.n_train,
        n_test=dataset.n_test,
        file_bytes=dataset.size_bytes,
        itemsize=itemsize,
    )


def _normalize_error(
    bench: CustomBenchmarkSpec, shape: DatasetShape, inputs: _Inputs
) -> dict[str, Any] | None:
    """The engine's rule (`gapwatch.datasets.layout.normalization_problem`) on the inputs as
    it lays them out: images take one mean/std per channel; vectors one for all features, or
    one per feature."""
    if bench.normalize is None:
        return None
    problem = normalization_problem(len(bench.normalize.mean), shape.input_shape, inputs.noun)
    if problem is None:
        return None
    return _error(("benchmark", "normalize"), problem, bench.normalize.model_dump())


def resolve_spec(
    session: Session, project: Project, spec: RunSpec
) -> tuple[RunSpec, DatasetShape | None]:
    """The spec with its custom benchmark's `digest` filled in from the dataset it names in
    `project`, and that dataset's shape (for `gapwatch.resources.check_limits`); any other
    spec as it is, with None.

    Raises:
        SpecInvalid: No such dataset in the project, a given digest that differs, split
            classes that are not the dataset's labels, rotations or a convolutional model
            over inputs that are not images, `normalize` values that do not fit its channels
            or features.
    """
    bench = spec.benchmark
    if not isinstance(bench, CustomBenchmarkSpec):
        return spec, None
    dataset = repository.get(session, bench.dataset)
    if dataset is None or dataset.project_id != project.id:
        raise SpecInvalid(
            [
                _error(
                    ("benchmark", "dataset"),
                    f"project {project.name!r} has no dataset {bench.dataset}: upload one "
                    "(`gapwatch datasets upload`, POST /api/v1/datasets) and name its id",
                    bench.dataset,
                )
            ]
        )
    inputs = _Inputs(dataset.name, dataset.shape("x_train"))
    shape = dataset_shape(dataset)
    errors = []
    if bench.digest is not None and bench.digest != dataset.digest:
        errors.append(
            _error(
                ("benchmark", "digest"),
                f"dataset {dataset.id} ({dataset.name!r}) has digest {dataset.digest}",
                bench.digest,
            )
        )
    split = bench.split
    if split.kind == "classes":
        unknown = sorted({c for task in split.tasks for c in task} - set(dataset.classes))
        if unknown:
            errors.append(
                _error(
                    ("benchmark", "split"),
                    f"classes {_labels(unknown)} are not labels of dataset {dataset.name!r} "
                    f"(its labels: {_labels(dataset.classes)})",
                    split.tasks,
                )
            )
    elif split.kind == "rotations" and not inputs.images:
        errors.append(
            _error(
                ("benchmark", "split"),
                f"rotations need image arrays (N, C, H, W) or (N, H, W); {inputs.described()}",
                split.kind,
            )
        )
    normalize = _normalize_error(bench, shape, inputs)
    if normalize is not None:
        errors.append(normalize)
    if type(spec.model).needs_images and not inputs.images:
        errors.append(
            _error(
                ("model",),
                f"model {spec.model.name} needs image inputs (N, C, H, W) or (N, H, W); "
                f"{inputs.described()}",
                spec.model.name,
            )
        )
    if errors:
        raise SpecInvalid(errors)
    filled = bench.model_copy(update={"digest": dataset.digest})
    return spec.model_copy(update={"benchmark": filled}), shape
