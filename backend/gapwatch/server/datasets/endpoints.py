"""Datasets: upload arrays into a project, list, read, download, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from gapwatch.components import PROJECT_NAME_PATTERN
from gapwatch.config import MAX_DATASET_BYTES_CEILING
from gapwatch.server.access.tokens import AUTHENTICATE_HINT, bearer_value
from gapwatch.server.datasets import service
from gapwatch.server.datasets.schemas import (
    DIGEST_HEADER,
    FILE_ANSWER,
    UPLOAD_BODY,
    DatasetList,
    DatasetRead,
)
from gapwatch.server.datasets.upload import ENVELOPE_BYTES, receive_upload
from gapwatch.server.deps import (
    MAX_ROW_ID,
    Caller,
    CallerOrRunToken,
    RowId,
    SessionDep,
    SettingsDep,
)
from gapwatch.server.errors import Unauthorized
from gapwatch.server.models import Role

router = APIRouter(prefix="/datasets", tags=["datasets"])

# The route's own limit, fixed when it is declared: GAPWATCH_MAX_DATASET_BYTES, a setting, is
# enforced below it while the body streams (receive_upload).
UPLOAD_BODY_LIMIT = MAX_DATASET_BYTES_CEILING + ENVELOPE_BYTES


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetRead,
    operation_id="datasets-create",
    openapi_extra=UPLOAD_BODY,
    max_body_size=UPLOAD_BODY_LIMIT,
)
async def upload_dataset(
    request: Request, caller: Caller, session: SessionDep, settings: SettingsDep
) -> DatasetRead:
    """Upload a dataset into a project (editor): multipart/form-data with a `file` part (.npz
    or .pt of x_train, y_train, x_test, y_test) and optional `name` and `project` parts. Its
    shapes, labels and values are checked (422 naming the array), its content digest recorded
    and its arrays stored once per digest. 413 over GAPWATCH_MAX_DATASET_BYTES."""
    # Before the body streams to disk: one who may upload nowhere sends it for nothing.
    await run_in_threadpool(service.check_uploader, session, caller)
    upload = await receive_upload(
        request.headers.get("content-type"),
        request.headers.get("content-length"),
        request.stream(),
        service.datasets_folder(settings),
        settings.max_dataset_bytes,
    )
    try:
        dataset = await run_in_threadpool(service.create_dataset, session, caller, upload, settings)
        return DatasetRead.from_row(dataset)
    finally:
        upload.discard()


@router.get("", response_model=DatasetList, operation_id="datasets-list")
def list_datasets(
    session: SessionDep,
    caller: Caller,
    project: Annotated[str | None, Query(pattern=PROJECT_NAME_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> DatasetList:
    """The datasets of the caller's projects (or of one), newest first."""
    return service.list_datasets(session, caller, project=project, limit=limit)


@router.get("/{dataset_id}", response_model=DatasetRead, operation_id="datasets-get")
def get_dataset(dataset_id: RowId, session: SessionDep, caller: Caller) -> DatasetRead:
    """One dataset: its digest, shapes, dtype and labels."""
    return DatasetRead.from_row(service.authorize_dataset(session, caller, dataset_id, Role.viewer))


@router.get(
    "/{dataset_id}/file",
    operation_id="datasets-file",
    response_class=FileResponse,
    responses=FILE_ANSWER,  # type: ignore[arg-type]
)
def dataset_file(
    dataset_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    caller: CallerOrRunToken,
    run: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_ROW_ID,
            description="A worker's run, whose token (as the bearer) reads the dataset its "
            "spec names while it runs.",
        ),
    ] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> FileResponse:
    """The dataset's canonical .npz (viewer, or the token of a running run that names it),
    with its digest in X-Gapwatch-Digest."""
    if caller is not None:
        dataset, path = service.file_for_caller(session, caller, dataset_id, settings)
    elif run is not None:
        token = bearer_value(authorization)
        dataset, path = service.file_for_run(session, run, token, dataset_id, settings)
    else:  # the middleware lets no other anonymous request here
        raise Unauthorized(f"authentication required: {AUTHENTICATE_HINT}")
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=f"{dataset.name}.npz",
        headers={DIGEST_HEADER: dataset.digest},
    )


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="datasets-delete",
    response_class=Response,
)
def delete_dataset(
    dataset_id: RowId, session: SessionDep, caller: Caller, settings: SettingsDep
) -> Response:
    """Delete a dataset (editor); 409 while a queued or running run uses it."""
    dataset = service.authorize_dataset(session, caller, dataset_id, Role.editor)
    service.delete_dataset(session, dataset, settings)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
