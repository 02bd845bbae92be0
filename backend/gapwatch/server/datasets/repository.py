"""Every query on the datasets table, and on the runs that name a dataset."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gapwatch.server.models import Dataset, Project, Run, RunStatus

CUSTOM_BENCHMARK = "custom"


def add(session: Session, dataset: Dataset) -> bool:
    """Insert the row; False (and nothing inserted) if the project has that name already."""
    try:
        with session.begin_nested():
            session.add(dataset)
    except IntegrityError:
        return False
    return True


def get(session: Session, dataset_id: int) -> Dataset | None:
    return session.get(Dataset, dataset_id)


def by_name(session: Session, project_id: int, name: str) -> Dataset | None:
    return session.scalar(
        select(Dataset).where(Dataset.project_id == project_id, Dataset.name == name)
    )


def listing(
    session: Session, *, visible_projects: Collection[int] | None, project: str | None, limit: int
) -> Sequence[Dataset]:
    """Datasets newest first, of the visible projects (None: every one)."""
    query = select(Dataset)
    if visible_projects is not None:
        query = query.where(Dataset.project_id.in_(list(visible_projects)))
    if project is not None:
        query = query.where(Dataset.project.has(Project.name == project))
    return session.scalars(query.order_by(Dataset.id.desc()).limit(limit)).all()


def delete(session: Session, dataset: Dataset) -> None:
    session.delete(dataset)
    session.flush()


def project_digests(session: Session, project_id: int) -> list[str]:
    """The content digests of a project's datasets (their files may be shared)."""
    return list(session.scalars(select(Dataset.digest).where(Dataset.project_id == project_id)))


def digest_in_use(session: Session, digest: str) -> bool:
    """Whether any row (of any project) still has this digest, and so its file."""
    found = session.scalar(select(func.count()).where(Dataset.digest == digest))
    return bool(found)


def active_runs_naming(session: Session, dataset: Dataset) -> list[int]:
    """Ids of the queued or running runs of the dataset's project whose custom benchmark
    names it. The benchmark column narrows the rows; the spec is read in Python, the same on
    both databases."""
    rows = session.execute(
        select(Run.id, Run.spec).where(
            Run.project_id == dataset.project_id,
            Run.benchmark == CUSTOM_BENCHMARK,
            Run.status.in_([RunStatus.queued.value, RunStatus.running.value]),
        )
    ).all()
    return sorted(run_id for run_id, spec in rows if names_dataset(spec, dataset.id))


def names_dataset(spec: dict[str, Any] | None, dataset_id: int) -> bool:
    """Whether a stored run spec's benchmark is the custom one over `dataset_id`."""
    benchmark = (spec or {}).get("benchmark")
    return (
        isinstance(benchmark, dict)
        and benchmark.get("name") == CUSTOM_BENCHMARK
        and benchmark.get("dataset") == dataset_id
    )
