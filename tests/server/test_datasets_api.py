"""Datasets through the API on PostgreSQL: uploads in both formats with their content digest and
canonical file, every refusal of bad content (422 naming the array), the size limit (413), name
conflicts (409), who may read, download and delete, a worker's run token on the file, and run
and sweep submissions that name a dataset."""

from __future__ import annotations

import io
import pickle
import sys
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from gapwatch.config import Settings
from gapwatch.datasets.arrays import ARRAY_NAMES, array_digest, read_arrays
from gapwatch.server.app import create_app
from gapwatch.server.models import Role
from tests.server.conftest import BASE_URL, WORKER_AUTH, claim, make_account

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

Arrays = dict[str, np.ndarray]


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 6, 6), dtype=np.uint8)


def _arrays(**changes: Any) -> Arrays:
    """(N, 6, 6) uint8 images of classes 0..3: 12 train rows, 8 test rows."""
    arrays = {
        "x_train": _images(12, 0),
        "y_train": np.array([0, 1, 2, 3] * 3, dtype=np.int64),
        "x_test": _images(8, 1),
        "y_test": np.array([3, 2, 1, 0] * 2, dtype=np.int64),
    }
    arrays.update(changes)
    return {k: v for k, v in arrays.items() if v is not None}


def _vectors() -> Arrays:
    rng = np.random.default_rng(3)
    return _arrays(
        x_train=rng.normal(size=(12, 5)).astype(np.float32),
        x_test=rng.normal(size=(8, 5)).astype(np.float32),
    )


def _npz(arrays: Arrays, *, compressed: bool = False) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


def _pt(value: Any) -> bytes:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def _upload(client: TestClient, content: bytes, filename: str = "digits.npz", **fields: str) -> Any:
    return client.post(
        "/api/v1/datasets",
        files={"file": (filename, content, "application/octet-stream")},
        data=fields,
    )


def _created(client: TestClient, arrays: Arrays | None = None, **fields: str) -> dict[str, Any]:
    response = _upload(client, _npz(arrays or _arrays()), **fields)
    assert response.status_code == 201, response.text
    return response.json()


def _folder(settings: Settings) -> Path:
    return settings.artifacts_dir / "datasets"


def _custom_spec(dataset: int, **benchmark: Any) -> dict[str, Any]:
    return {
        "benchmark": {
            "name": "custom",
            "dataset": dataset,
            "split": {"kind": "classes", "tasks": [[0, 1], [2, 3]]},
            **benchmark,
        },
        "model": {"name": "mlp", "hidden_sizes": [16]},
        "strategy": {"name": "finetune"},
        "training": {"iterations_per_task": 3},
    }


# --- uploads ----------------------------------------------------------------------------------


def test_an_npz_upload_answers_its_digest_shapes_and_labels_and_stores_one_canonical_file(
    api: TestClient, settings: Settings
) -> None:
    arrays = _arrays()
    dataset = _created(api, arrays)
    assert dataset["name"] == "digits"  # from the file name
    assert dataset["project"] == "default" and dataset["created_by"] == "alice"
    assert dataset["digest"] == array_digest(arrays)
    assert dataset["format"] == "npz" and dataset["dtype"] == "uint8"
    assert dataset["shapes"] == {
        "x_train": [12, 6, 6],
        "y_train": [12],
        "x_test": [8, 6, 6],
        "y_test": [8],
    }
    assert dataset["classes"] == [0, 1, 2, 3]
    assert (dataset["n_train"], dataset["n_test"]) == (12, 8)
    stored = _folder(settings) / f"{dataset['digest']}.npz"
    assert dataset["size_bytes"] == stored.stat().st_size
    # The canonical file holds the same arrays; the upload's temporary file is gone.
    assert array_digest(read_arrays(stored)) == dataset["digest"]
    assert [p.name for p in _folder(settings).iterdir()] == [stored.name]
    assert api.get(f"/api/v1/datasets/{dataset['id']}").json() == dataset


def test_a_pt_of_tensors_and_arrays_has_the_npz_digest_and_shares_its_file(
    api: TestClient, settings: Settings
) -> None:
    arrays = _arrays()
    from_npz = _created(api, arrays, name="as-npz")
    as_torch = {
        "x_train": torch.from_numpy(arrays["x_train"]),
        "y_train": torch.from_numpy(arrays["y_train"]),
        "x_test": arrays["x_test"],  # a numpy array inside a .pt
        "y_test": torch.from_numpy(arrays["y_test"]),
    }
    response = _upload(api, _pt(as_torch), "Digits Tensors.pt")
    assert response.status_code == 201, response.text
    from_pt = response.json()
    assert from_pt["name"] == "digits-tensors" and from_pt["format"] == "pt"
    assert from_pt["digest"] == from_npz["digest"]
    assert len(list(_folder(settings).iterdir())) == 1  # content-addressed: one copy


def test_name_and_project_parts_place_the_dataset_and_a_taken_name_is_409(
    api: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    make_account(db_session_factory, "alice", project="lab")
    first = _created(api, name="mine.v1", project="lab")
    assert (first["name"], first["project"]) == ("mine.v1", "lab")
    again = _upload(api, _npz(_vectors()), name="mine.v1", project="lab")
    assert again.status_code == 409
    assert "mine.v1" in again.json()["detail"] and f"id {first['id']}" in again.json()["detail"]
    assert _upload(api, _npz(_arrays()), name="mine.v1").status_code == 201  # another project


def _bad_upload_cases() -> list[Any]:
    object_npz = io.BytesIO()
    np.savez(object_npz, **{**_arrays(), "x_test": np.array([b"a", 1] * 4, dtype=object)})

    class Executes:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("ran",))

    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("notes.txt", "not arrays")
    cases = [
        ("missing array", _npz(_arrays(y_test=None)), "y_test"),
        ("x/y length mismatch", _npz(_arrays(y_train=np.zeros(11, np.int64))), "y_train"),
        ("float labels", _npz(_arrays(y_test=np.zeros(8, np.float32))), "y_test"),
        ("negative labels", _npz(_arrays(y_train=np.array([-1, 0, 1] * 4))), "y_train"),
        ("labels as a matrix", _npz(_arrays(y_test=np.zeros((8, 1), np.int64))), "y_test"),
        ("feature shapes differ", _npz(_arrays(x_test=_images(8, 1)[:, :5])), "x_test"),
        ("dtypes differ", _npz(_arrays(x_test=_images(8, 1).astype(np.float32))), "x_test"),
        (
            "non-finite inputs",
            _npz(_vectors() | {"x_train": np.full((12, 5), np.nan, np.float32)}),
            "x_train",
        ),
        ("complex inputs", _npz(_arrays(x_train=np.zeros((12, 3), np.complex64))), "x_train"),
        (
            "empty split",
            _npz(_arrays(x_test=np.zeros((0, 6, 6), np.uint8), y_test=np.zeros(0, np.int64))),
            "x_test",
        ),
        ("object array", object_npz.getvalue(), "x_test"),
        ("not a dataset file", b"\x00\x01 just bytes", "npz"),
        ("a zip of other things", zipped.getvalue(), "zip"),
        ("a .pt that runs code", _pt({"x_train": Executes()}), "print"),
        ("a .pt that is not a dict", _pt(torch.zeros(3)), "dict"),
        (
            "a bfloat16 tensor",
            _pt({**_arrays(), "x_train": torch.zeros(12, 3, dtype=torch.bfloat16)}),
            "x_train",
        ),
        ("a pickle named .pt", pickle.dumps(_arrays()), "torch.save"),
    ]
    return [pytest.param(content, needle, id=case) for case, content, needle in cases]


@pytest.mark.parametrize(("content", "needle"), _bad_upload_cases())
def test_content_that_is_not_a_dataset_is_a_422_naming_the_array(
    api: TestClient, settings: Settings, content: bytes, needle: str
) -> None:
    filename = "bad.pt" if content[:2] == b"PK" and b"data.pkl" in content else "bad.npz"
    if content[:1] == b"\x80":  # a pickle: only a .pt name makes it one
        filename = "bad.pt"
    response = _upload(api, content, filename)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "file"]
    assert needle in error["msg"], error["msg"]
    assert api.get("/api/v1/datasets").json() == {"datasets": []}
    assert not _folder(settings).exists() or list(_folder(settings).iterdir()) == []


def test_a_pt_of_a_view_is_refused_before_it_is_materialised(
    api: TestClient, settings: Settings
) -> None:
    # torch.save keeps views: one stored element that reads as 10**8 rows.
    expanded = _pt({**_arrays(), "x_train": torch.zeros(1).expand(10**8, 1)})
    assert len(expanded) < 4000
    response = _upload(api, expanded, "views.pt")
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "file"]
    assert "x_train is a view of 400,000,000 bytes over a storage of 4 bytes" in error["msg"]
    transposed = _pt({**_arrays(), "x_test": torch.zeros(6, 8).t()})
    response = _upload(api, transposed, "views.pt")
    assert response.status_code == 422
    assert "x_test is a non-contiguous tensor" in response.json()["detail"][0]["msg"]
    assert api.get("/api/v1/datasets").json() == {"datasets": []}
    assert not _folder(settings).exists() or list(_folder(settings).iterdir()) == []


def _npy(shape: tuple[int, ...], dtype: str, data: bytes) -> bytes:
    """A .npy member whose header says `shape` and `dtype`, whatever `data` it holds."""
    buffer = io.BytesIO()
    header = {"descr": np.dtype(dtype).str, "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, header)  # type: ignore[no-untyped-call]
    buffer.write(data)
    return buffer.getvalue()


def _crafted_npz(x_train: bytes) -> bytes:
    """An .npz of `_arrays()` whose x_train member is `x_train`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in _arrays().items():
            member = (
                x_train
                if name == "x_train"
                else _npy(array.shape, array.dtype.str, array.tobytes())
            )
            archive.writestr(f"{name}.npy", member)
    return buffer.getvalue()


def test_an_npz_header_that_claims_other_bytes_is_refused_before_numpy_allocates(
    api: TestClient, settings: Settings
) -> None:
    # numpy would allocate 40 TB from this header before reading its 16 bytes of data.
    huge = _upload(api, _crafted_npz(_npy((10**13,), "<f4", b"\0" * 16)))
    assert huge.status_code == 413, huge.text
    assert "GAPWATCH_MAX_DATASET_BYTES" in huge.json()["detail"]
    # Within the limit but not what follows it: a 422 naming the array.
    short = _upload(api, _crafted_npz(_npy((12, 6, 6), "|u1", b"\0" * 100)))
    assert short.status_code == 422, short.text
    (error,) = short.json()["detail"]
    assert error["loc"] == ["body", "file"]
    assert "x_train cannot be read: its header describes shape (12, 6, 6)" in error["msg"]
    assert "100 bytes follow it" in error["msg"]
    # The same construction with the true header is a dataset.
    exact = _crafted_npz(_npy((12, 6, 6), "|u1", _arrays()["x_train"].tobytes()))
    assert _upload(api, exact).status_code == 201
    assert len(list(_folder(settings).iterdir())) == 1


def test_an_allocation_that_fails_is_a_413(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_memory(*_args: Any, **_kwargs: Any) -> Any:
        raise MemoryError("Unable to allocate 37.3 TiB")

    monkeypatch.setattr(np, "load", no_memory)
    response = _upload(api, _npz(_arrays()))
    assert response.status_code == 413, response.text
    assert "GAPWATCH_MAX_DATASET_BYTES" in response.json()["detail"]


def test_a_server_without_torch_answers_a_pt_with_a_422(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gapwatch.torch.arrays", None)  # as if torch were missing
    response = _upload(api, _pt(_arrays()), "digits.pt")
    assert response.status_code == 422
    assert "cannot read .pt" in response.json()["detail"][0]["msg"]
    assert "upload .npz" in response.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("request_kwargs", "loc"),
    [
        ({"files": {"name": (None, "x")}}, ["body", "file"]),  # multipart without a file
        ({"files": {"file": ("e.npz", b"")}}, ["body", "file"]),
        (
            {"files": {"file": ("d.npz", _npz(_arrays()))}, "data": {"name": "Bad Name"}},
            ["body", "name"],
        ),
        (
            {"files": {"file": ("d.npz", _npz(_arrays()))}, "data": {"project": "No!"}},
            ["body", "project"],
        ),
        ({"json": {"file": "x"}}, ["body"]),  # not multipart
        (
            {
                "content": b'--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nab',
                "headers": {"Content-Type": "multipart/form-data; boundary=b"},
            },
            ["body"],  # cut before its closing boundary
        ),
    ],
    ids=["no file", "empty file", "bad name", "bad project", "json body", "truncated"],
)
def test_a_malformed_upload_is_a_422_naming_its_part(
    api: TestClient, request_kwargs: dict[str, Any], loc: list[str]
) -> None:
    response = api.post("/api/v1/datasets", **request_kwargs)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == loc


@pytest.fixture
def small_limit_api(
    app: FastAPI, api: TestClient, settings: Settings, db_session_factory: sessionmaker[Session]
) -> Any:
    """The app with GAPWATCH_MAX_DATASET_BYTES at 4 kB, called with alice's key."""
    limited = create_app(
        settings.model_copy(update={"max_dataset_bytes": 4000}), session_factory=db_session_factory
    )
    with TestClient(limited, base_url=BASE_URL, headers=dict(api.headers)) as client:
        yield client


def test_over_the_size_limit_is_a_413_sent_compressed_or_not(
    small_limit_api: TestClient, settings: Settings
) -> None:
    under = _arrays(x_train=_images(12, 0)[:, :4, :4], x_test=_images(8, 1)[:, :4, :4])
    assert _upload(small_limit_api, _npz(under)).status_code == 201
    # Over the limit by the file's bytes (read as it streams), by far (the Content-Length),
    # and by its arrays uncompressed (a small compressed file that unpacks past the limit).
    big = _arrays(x_train=np.zeros((100, 6, 6), np.uint8), y_train=np.zeros(100, np.int64))
    huge = _arrays(x_train=np.zeros((9000, 6, 6), np.uint8), y_train=np.zeros(9000, np.int64))
    for content in (_npz(big), _npz(huge), _npz(huge, compressed=True)):
        response = _upload(small_limit_api, content, "big.npz")
        assert response.status_code == 413, (len(content), response.text)
        assert "GAPWATCH_MAX_DATASET_BYTES" in response.json()["detail"]
    assert len(_npz(huge, compressed=True)) < 4000
    # A .pt whose file is under the limit but whose arrays are over it: two share a storage.
    shared_x, shared_y = (
        torch.zeros(100, 20, dtype=torch.uint8),
        torch.zeros(100, dtype=torch.uint8),
    )
    shared = _pt({"x_train": shared_x, "y_train": shared_y, "x_test": shared_x, "y_test": shared_y})
    assert len(shared) < 4000 < 2 * (shared_x.numel() + shared_y.numel())
    response = _upload(small_limit_api, shared, "shared.pt")
    assert response.status_code == 413, response.text
    assert "the file's arrays (4,200 bytes)" in response.json()["detail"]
    assert len(list(_folder(settings).iterdir())) == 1  # the one dataset under the limit


# --- reading, downloading, deleting -----------------------------------------------------------


def test_list_get_download_and_delete(api: TestClient, settings: Settings) -> None:
    first = _created(api, name="first")
    second = _created(api, _vectors(), name="second")
    shared = _created(api, name="first-again")  # the same arrays as `first`
    listed = api.get("/api/v1/datasets").json()["datasets"]
    assert [d["id"] for d in listed] == [shared["id"], second["id"], first["id"]]
    assert api.get("/api/v1/datasets", params={"project": "nope"}).json() == {"datasets": []}

    answer = api.get(f"/api/v1/datasets/{second['id']}/file")
    assert answer.status_code == 200
    assert answer.headers["x-gapwatch-digest"] == second["digest"]
    assert answer.headers["content-type"] == "application/octet-stream"
    with np.load(io.BytesIO(answer.content), allow_pickle=False) as data:
        assert array_digest({name: data[name] for name in ARRAY_NAMES}) == second["digest"]

    assert api.delete(f"/api/v1/datasets/{first['id']}").status_code == 204
    assert api.get(f"/api/v1/datasets/{first['id']}").status_code == 404
    assert api.get(f"/api/v1/datasets/{first['id']}/file").status_code == 404
    # Its file is still that of `first-again`; deleting that one removes it.
    assert api.get(f"/api/v1/datasets/{shared['id']}/file").status_code == 200
    assert api.delete(f"/api/v1/datasets/{shared['id']}").status_code == 204
    assert not (_folder(settings) / f"{first['digest']}.npz").exists()
    assert (_folder(settings) / f"{second['digest']}.npz").exists()
    assert api.delete(f"/api/v1/datasets/{shared['id']}").status_code == 404


def test_deleting_a_project_removes_its_datasets_files_unless_another_project_shares_them(
    api: TestClient, settings: Settings
) -> None:
    assert api.post("/api/v1/projects", json={"name": "scratch"}).status_code == 201
    kept_elsewhere = _created(api, name="kept")  # in the default project
    shared = _created(api, name="shared", project="scratch")  # the same arrays as `kept`
    own = _created(api, _vectors(), name="own", project="scratch")
    assert shared["digest"] == kept_elsewhere["digest"] != own["digest"]

    assert api.delete("/api/v1/projects/scratch").status_code == 204
    assert api.get(f"/api/v1/datasets/{own['id']}").status_code == 404
    assert not (_folder(settings) / f"{own['digest']}.npz").exists()
    assert (_folder(settings) / f"{kept_elsewhere['digest']}.npz").exists()
    assert api.get(f"/api/v1/datasets/{kept_elsewhere['id']}/file").status_code == 200


def test_viewers_read_editors_write_and_other_projects_see_nothing(
    app: FastAPI, api: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    dataset = _created(api)
    path = f"/api/v1/datasets/{dataset['id']}"
    viewer = make_account(db_session_factory, "victor", role=Role.viewer)
    outsider = make_account(db_session_factory, "olga", project="elsewhere")
    with TestClient(app, base_url=BASE_URL, headers=viewer.auth) as client:
        assert client.get(path).status_code == 200
        assert client.get(path + "/file").status_code == 200
        assert [d["id"] for d in client.get("/api/v1/datasets").json()["datasets"]] == [
            dataset["id"]
        ]
        refused = client.delete(path)
        assert refused.status_code == 403 and "editor" in refused.json()["detail"]
        assert _upload(client, _npz(_vectors()), name="v").status_code == 403
    with TestClient(app, base_url=BASE_URL, headers=outsider.auth) as client:
        for answer in (client.get(path), client.get(path + "/file"), client.delete(path)):
            assert answer.status_code == 404
            assert answer.json()["detail"] == f"dataset {dataset['id']} not found"
        assert client.get("/api/v1/datasets").json() == {"datasets": []}
        assert _upload(client, _npz(_vectors()), project="default").status_code == 404
        assert _created(client, project="elsewhere")["name"] == "digits"  # a name per project
    assert api.get(path).status_code == 200


def test_one_who_may_upload_nowhere_is_refused_before_the_body_is_read(
    app: FastAPI, db_session_factory: sessionmaker[Session]
) -> None:
    viewer = make_account(db_session_factory, "victor", role=Role.viewer)
    nowhere = make_account(db_session_factory, "nobody", project=None)
    # A Content-Length over any limit would be a 413 once the body is read: the refusal
    # comes first.
    declared = {"Content-Length": str(2**40)}
    for account, status, needle in [(viewer, 403, "editor"), (nowhere, 404, "no project")]:
        with TestClient(app, base_url=BASE_URL, headers=account.auth) as client:
            answer = client.post(
                "/api/v1/datasets",
                content=b"--b\r\n",
                headers={"Content-Type": "multipart/form-data; boundary=b", **declared},
            )
            assert answer.status_code == status, answer.text
            assert needle in answer.json()["detail"]
    # An editor of another project passes that check; the project part still decides.
    make_account(db_session_factory, "alice", project="lab")
    make_account(db_session_factory, "victor", project="lab", role=Role.editor)
    with TestClient(app, base_url=BASE_URL, headers=viewer.auth) as client:
        assert _upload(client, _npz(_arrays())).status_code == 403  # a viewer in default
        assert _created(client, project="lab")["project"] == "lab"


def test_a_running_run_s_token_reads_the_dataset_its_spec_names_and_nothing_else(
    api: TestClient,
) -> None:
    dataset = _created(api)
    other = _created(api, _vectors(), name="other")
    run = api.post("/api/v1/runs", json=_custom_spec(dataset["id"])).json()
    token = claim(api, run["id"])
    path = f"/api/v1/datasets/{dataset['id']}/file"
    worker = TestClient(api.app, base_url=BASE_URL)

    answer = worker.get(path, params={"run": run["id"]}, headers=token)
    assert answer.status_code == 200
    assert answer.headers["x-gapwatch-digest"] == dataset["digest"]
    assert worker.get(path, headers=token).status_code == 403  # which run?
    assert worker.get(path, params={"run": run["id"] + 1}, headers=token).status_code == 403
    not_named = worker.get(
        f"/api/v1/datasets/{other['id']}/file", params={"run": run["id"]}, headers=token
    )
    assert not_named.status_code == 404
    # A token reads nothing else, and nothing once its run has ended.
    assert worker.get(f"/api/v1/datasets/{dataset['id']}", headers=token).status_code == 401
    finished = worker.post(
        f"/api/v1/runs/{run['id']}/finish", json={"status": "succeeded"}, headers=token
    )
    assert finished.status_code == 200
    ended = worker.get(path, params={"run": run["id"]}, headers=token)
    assert ended.status_code == 403 and "succeeded" in ended.json()["detail"]
    assert worker.get(path, params={"run": run["id"]}, headers=WORKER_AUTH).status_code == 403


# --- runs and sweeps that name a dataset ------------------------------------------------------


def test_a_custom_run_is_stored_with_its_dataset_s_digest(api: TestClient) -> None:
    dataset = _created(api)
    created = api.post("/api/v1/runs", json=_custom_spec(dataset["id"]))
    assert created.status_code == 201, created.text
    assert created.json()["spec"]["benchmark"]["digest"] == dataset["digest"]
    stored = api.get(f"/api/v1/runs/{created.json()['id']}").json()["spec"]["benchmark"]
    assert (stored["dataset"], stored["digest"]) == (dataset["id"], dataset["digest"])
    # The right digest given is accepted as it is.
    again = api.post("/api/v1/runs", json=_custom_spec(dataset["id"], digest=dataset["digest"]))
    assert again.status_code == 201


def test_a_too_large_model_over_a_custom_dataset_is_a_422_naming_the_model_and_the_setting(
    api: TestClient,
) -> None:
    # The four-billion-parameter MLP over a tiny upload: the dataset's row gives the
    # estimate its inputs (36 pixels) and outputs (4 classes), so the caps apply as to any run.
    dataset = _created(api)
    huge = {**_custom_spec(dataset["id"]), "model": {"name": "mlp", "hidden_sizes": [16_384] * 16}}
    response = api.post("/api/v1/runs", json=huge)
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    model = [e for e in errors if e["loc"] == ["body", "model"]]
    assert model and "GAPWATCH_MAX_PARAMETERS" in model[0]["msg"], errors
    assert model[0]["type"] == "resource_limit"
    assert model[0]["input"] == 36 * 16_384 + 16_384 + 15 * (16_384 * 16_384 + 16_384) + (
        16_384 * 4 + 4
    )
    # In a sweep too, blamed on the axis that brings it over.
    sweep = {
        "base": _custom_spec(dataset["id"]),
        "axes": {"model.hidden_sizes": [[16], [16_384] * 16]},
    }
    refused = api.post("/api/v1/sweeps", json=sweep)
    assert refused.status_code == 422, refused.text
    assert any(
        e["loc"] == ["body", "axes", "model.hidden_sizes"] and "GAPWATCH_MAX_PARAMETERS" in e["msg"]
        for e in refused.json()["detail"]
    )
    assert api.get("/api/v1/runs").json()["total"] == 0
    # The same model over a dataset it fits, and a small one here, are fine.
    assert api.post("/api/v1/runs", json=_custom_spec(dataset["id"])).status_code == 201


def test_the_memory_cap_applies_to_a_custom_dataset(
    app: FastAPI, api: TestClient, settings: Settings, db_session_factory: sessionmaker[Session]
) -> None:
    dataset = _created(api)
    capped = create_app(
        settings.model_copy(update={"max_memory_bytes": 2**20}), session_factory=db_session_factory
    )
    with TestClient(capped, base_url=BASE_URL, headers=dict(api.headers)) as client:
        spec = {**_custom_spec(dataset["id"]), "model": {"name": "mlp", "hidden_sizes": [4096]}}
        response = client.post("/api/v1/runs", json=spec)
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert "GAPWATCH_MAX_MEMORY_BYTES" in error["msg"] and error["loc"] == ["body", "model"]
        assert client.post("/api/v1/runs", json=_custom_spec(dataset["id"])).status_code == 201


def test_normalize_must_fit_the_dataset_s_channels_or_features(api: TestClient) -> None:
    images = _created(api)  # (N, 6, 6): grey images, one channel
    vectors = _created(api, _vectors(), name="vectors")  # (N, 5): five features
    loc = ["body", "benchmark", "normalize"]
    for dataset, values, fits in [
        (images, 1, True),
        (images, 3, False),
        (vectors, 1, True),
        (vectors, 2, False),
    ]:
        normalize = {"mean": [0.5] * values, "std": [0.25] * values}
        response = api.post("/api/v1/runs", json=_custom_spec(dataset["id"], normalize=normalize))
        if fits:
            assert response.status_code == 201, response.text
            continue
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == loc and f"gives {values} mean/std values" in error["msg"], error
        assert ("one value per channel" if dataset is images else "one per feature") in error["msg"]


def test_a_custom_run_that_does_not_fit_its_dataset_is_a_422_naming_the_field(
    api: TestClient, db_session_factory: sessionmaker[Session]
) -> None:
    images = _created(api)
    vectors = _created(api, _vectors(), name="vectors")
    outsider = make_account(db_session_factory, "olga", project="elsewhere")
    with TestClient(api.app, base_url=BASE_URL, headers=outsider.auth) as client:
        theirs = _created(client, project="elsewhere")
    rotations = {"kind": "rotations", "angles": [0.0, 90.0]}
    cases = [
        (_custom_spec(999_999), ["body", "benchmark", "dataset"], "no dataset 999999"),
        (_custom_spec(theirs["id"]), ["body", "benchmark", "dataset"], "project 'default'"),
        (_custom_spec(images["id"], digest="0" * 64), ["body", "benchmark", "digest"], "digest"),
        (
            _custom_spec(images["id"], split={"kind": "classes", "tasks": [[0, 1], [7, 9]]}),
            ["body", "benchmark", "split"],
            "classes 7, 9 are not labels",
        ),
        (
            _custom_spec(vectors["id"], split=rotations, scenario="domain_incremental"),
            ["body", "benchmark", "split"],
            "rotations need image arrays",
        ),
        (
            {**_custom_spec(vectors["id"]), "model": {"name": "cnn", "channels": [4]}},
            ["body", "model"],
            "needs image inputs",
        ),
    ]
    for spec, loc, needle in cases:
        response = api.post("/api/v1/runs", json=spec)
        assert response.status_code == 422, (spec, response.text)
        (error,) = response.json()["detail"]
        assert (error["loc"], needle in error["msg"]) == (loc, True), error
    # Rotations and a CNN over images are fine.
    fine = {
        **_custom_spec(images["id"], split=rotations, scenario="domain_incremental"),
        "model": {"name": "cnn", "channels": [4]},
    }
    assert api.post("/api/v1/runs", json=fine).status_code == 201
    assert api.get("/api/v1/runs").json()["total"] == 1


def test_a_dataset_in_use_by_a_queued_run_is_not_deleted(api: TestClient) -> None:
    dataset = _created(api)
    run = api.post("/api/v1/runs", json=_custom_spec(dataset["id"])).json()
    refused = api.delete(f"/api/v1/datasets/{dataset['id']}")
    assert refused.status_code == 409 and f"({run['id']})" in refused.json()["detail"]
    assert api.post(f"/api/v1/runs/{run['id']}/cancel").status_code == 200
    assert api.delete(f"/api/v1/datasets/{dataset['id']}").status_code == 204


def test_a_sweep_over_datasets_resolves_each_and_blames_the_axis(api: TestClient) -> None:
    first, second = _created(api, name="a"), _created(api, _vectors(), name="b")
    body = {"base": _custom_spec(first["id"]), "axes": {"benchmark.dataset": [first["id"]]}}
    body["axes"]["benchmark.dataset"].append(second["id"])
    created = api.post("/api/v1/sweeps", json=body)
    assert created.status_code == 201, created.text
    digests = [
        api.get(f"/api/v1/runs/{run_id}").json()["spec"]["benchmark"]["digest"]
        for run_id in created.json()["run_ids"]
    ]
    assert digests == [first["digest"], second["digest"]]
    body["axes"]["benchmark.dataset"].append(999_999)
    refused = api.post("/api/v1/sweeps", json=body)
    assert refused.status_code == 422
    (error,) = refused.json()["detail"]
    assert error["loc"] == ["body", "axes", "benchmark.dataset"]
    assert "benchmark.dataset=999999" in error["msg"]
