"""A dataset uploaded into a project: four arrays, named by their content digest (revision 0010).

The arrays themselves live in the artifact store as one canonical .npz per digest
(`<artifacts_dir>/datasets/<digest>.npz`), shared by every row with that digest: the same
arrays uploaded to two projects, or under two names, are stored once. A row keeps what a run
submission checks without opening the file: shapes, dtype, the labels present.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gapwatch.server.models.account import Project
from gapwatch.server.models.base import Base, BigIntId, JSONDoc, UTCDateTime, utcnow

DATASET_FORMATS = ("npz", "pt")


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (
        # A run names a dataset by id; people name it by its name within the project.
        UniqueConstraint("project_id", "name"),
        CheckConstraint("format IN ('npz', 'pt')", name="format_known"),
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    # Deleting a project deletes its datasets' rows (their files may be shared by other rows).
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    project: Mapped[Project] = relationship(lazy="joined", innerjoin=True)
    name: Mapped[str] = mapped_column(String(64))
    # SHA-256 of the arrays' content (`gapwatch.datasets.arrays.array_digest`), hex.
    digest: Mapped[str] = mapped_column(String(64), index=True)
    # The format it was uploaded in; the stored file is always the canonical .npz.
    format: Mapped[str] = mapped_column(String(8))
    # Bytes of the canonical .npz.
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    # {"x_train": [N, ...], "y_train": [N], "x_test": [M, ...], "y_test": [M]}
    shapes: Mapped[dict[str, list[int]]] = mapped_column(JSONDoc)
    # The inputs' dtype as numpy writes it ("float32", "uint8").
    dtype: Mapped[str] = mapped_column(String(32))
    # The sorted distinct labels of y_train and y_test.
    classes: Mapped[list[int]] = mapped_column(JSONDoc)
    n_train: Mapped[int] = mapped_column(BigInteger)
    n_test: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The uploader's user name (kept as text: the row outlives nothing it points to).
    created_by: Mapped[str | None] = mapped_column(String(64))

    def shape(self, array: str) -> tuple[int, ...]:
        """The stored shape of one of the four arrays."""
        return tuple(self.shapes[array])
