"""Request and response models of the datasets API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from gapwatch.components import PROJECT_NAME_PATTERN
from gapwatch.server.models import Dataset

DATASET_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
DIGEST_HEADER = "X-Gapwatch-Digest"


class DatasetShapes(BaseModel):
    """The shape of each array: (N, ...) inputs and (N,) labels per split."""

    x_train: list[int]
    y_train: list[int]
    x_test: list[int]
    y_test: list[int]


class DatasetRead(BaseModel):
    """A dataset as the API shows it."""

    id: int = Field(description="What a custom benchmark names: {'dataset': id}.")
    project: str
    name: str
    digest: str = Field(
        description="SHA-256 of the arrays' content (names, dtypes, shapes, bytes): the same "
        "arrays give the same digest whatever file carried them."
    )
    format: Literal["npz", "pt"] = Field(description="The format it was uploaded in.")
    size_bytes: int = Field(description="Bytes of the stored canonical .npz.")
    shapes: DatasetShapes
    dtype: str = Field(description="The inputs' numpy dtype, e.g. uint8 or float32.")
    classes: list[int] = Field(description="The distinct labels of y_train and y_test, sorted.")
    n_train: int
    n_test: int
    created_at: datetime
    created_by: str | None = Field(description="Who uploaded it.")

    @classmethod
    def from_row(cls, row: Dataset) -> DatasetRead:
        return cls(
            id=row.id,
            project=row.project.name,
            name=row.name,
            digest=row.digest,
            format=row.format,  # type: ignore[arg-type]
            size_bytes=row.size_bytes,
            shapes=DatasetShapes.model_validate(row.shapes),
            dtype=row.dtype,
            classes=row.classes,
            n_train=row.n_train,
            n_test=row.n_test,
            created_at=row.created_at,
            created_by=row.created_by,
        )


class DatasetList(BaseModel):
    datasets: list[DatasetRead] = Field(description="Newest first.")


# The upload's body, declared here because the endpoint streams it itself (no FastAPI form
# parsing, which would hold the file before any check).
UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "An .npz holding x_train, y_train, x_test and "
                            "y_test (numpy.savez), or a .pt holding a dict of them "
                            "(torch.save; tensors or arrays). Inputs: (N, ...) numbers; "
                            "labels: (N,) integers from 0.",
                        },
                        "name": {
                            "type": "string",
                            "pattern": DATASET_NAME_PATTERN,
                            "description": "Unique in the project. Default: from the file name.",
                        },
                        "project": {
                            "type": "string",
                            "pattern": PROJECT_NAME_PATTERN,
                            "description": "You need the editor role there. Default: the "
                            "API key's project, else 'default'.",
                        },
                    },
                }
            }
        },
    }
}

FILE_ANSWER: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        "description": "The dataset's canonical .npz (numpy.savez of x_train, y_train, x_test, "
        "y_test, uncompressed).",
        "headers": {
            DIGEST_HEADER: {
                "description": "The arrays' content digest (SHA-256 hex).",
                "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            }
        },
    }
}
