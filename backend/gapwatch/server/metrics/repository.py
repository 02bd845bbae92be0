"""Every query on metric series and chunks. Bulk statements only; no ORM object per point.

Points are read and written as chunk rows (see models/metric.py and chunks.py): a query for a
million points fetches ~250 rows of bytes, decoded with numpy.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, delete, func, literal, select, update
from sqlalchemy.orm import Session

from gapwatch.server.dialect import upsert_insert
from gapwatch.server.metrics.chunks import WINDOW_STEPS, EncodedChunk
from gapwatch.server.models import MetricChunk, MetricSeries, Run

CHUNKS = MetricChunk.__table__


def series_ids(session: Session, run_id: int, keys: Iterable[str] | None) -> dict[str, int]:
    """Ids of the run's existing series among `keys`, or of all its series when None."""
    query = select(MetricSeries.key, MetricSeries.id).where(MetricSeries.run_id == run_id)
    if keys is not None:
        query = query.where(MetricSeries.key.in_(list(keys)))
    return {key: series_id for key, series_id in session.execute(query)}


def series_ids_of_runs(session: Session, run_ids: Sequence[int], key: str) -> dict[int, int]:
    """{run id: id of its series `key`} for the runs that have one, in one query."""
    rows = session.execute(
        select(MetricSeries.run_id, MetricSeries.id).where(
            MetricSeries.run_id.in_(list(run_ids)), MetricSeries.key == key
        )
    )
    return {run_id: series_id for run_id, series_id in rows}


def _insert_missing_series(session: Session, run_id: int, keys: Sequence[str]) -> None:
    """Create series rows for `keys`; a row another writer created meanwhile is kept.

    In key order: two writers inserting the same new keys wait on each other's unique-index
    entries one key at a time, and only a shared order keeps that from being a deadlock.
    """
    session.execute(
        upsert_insert(session, MetricSeries)
        .values([{"run_id": run_id, "key": k} for k in sorted(keys)])
        .on_conflict_do_nothing(index_elements=["run_id", "key"])
    )


def list_keys(session: Session, run_id: int) -> list[str]:
    """All metric keys of the run, sorted."""
    return list(
        session.scalars(
            select(MetricSeries.key).where(MetricSeries.run_id == run_id).order_by(MetricSeries.key)
        )
    )


def series_with_prefix(session: Session, run_id: int, prefix: str) -> dict[str, int]:
    """The run's series whose key starts with `prefix`, as {key: id}."""
    rows = session.execute(
        select(MetricSeries.key, MetricSeries.id).where(
            MetricSeries.run_id == run_id, MetricSeries.key.startswith(prefix, autoescape=True)
        )
    )
    return {key: series_id for key, series_id in rows}


def point_count(session: Session, ids: Sequence[int]) -> int:
    """Points stored in these series (a sum over chunk rows; points are never removed)."""
    if not ids:
        return 0
    return int(
        session.scalar(
            select(func.coalesce(func.sum(MetricChunk.n), 0)).where(
                MetricChunk.series_id.in_(list(ids))
            )
        )
        or 0
    )


# --- writes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkInfo:
    """A chunk row without its points."""

    first_step: int
    last_step: int
    n: int


def _driver(session: Session) -> Any | None:
    """The psycopg connection under the session on PostgreSQL, else None.

    The ingest path's few statements per request go straight to it: SQLAlchemy's statement
    handling costs ~0.6 ms a statement here, as much as the statement itself.
    """
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return None
    return connection.connection.driver_connection


@dataclass(frozen=True)
class WriteAccess:
    """What a metric write needs to know about its run, read in the statement that locks.

    Attributes:
        status: The run's status (None if not found).
        token_hash: The hash of the run's token (None if not found or never claimed).
        series: {key: id} of the batch's keys that have a series, write-locked, if the
            token matched; else empty.
    """

    status: str | None
    token_hash: str | None
    series: dict[str, int]


def lock_for_write(
    session: Session, run_id: int, keys: Sequence[str], token_hash: str
) -> WriteAccess:
    """The run's status and token hash, and, if `token_hash` is the run's, its existing series
    for `keys` write-locked until commit: on PostgreSQL, all in one statement.

    Writers of one series take turns, so each sees what the previous one stored and no step is
    stored twice. PostgreSQL locks the rows in id order (two batches do not deadlock); SQLite
    has one writer at a time, and a write statement first makes this transaction that writer.
    """
    driver = _driver(session)
    if driver is None:
        row = session.execute(select(Run.status, Run.token_hash).where(Run.id == run_id)).first()
        if row is None:
            return WriteAccess(None, None, {})
        locked = row.token_hash == token_hash and bool(keys)
        ids = _lock_and_read_sqlite(session, run_id, keys) if locked else {}
        return WriteAccess(row.status, row.token_hash, ids)
    rows = driver.execute(_LOCK_FOR_WRITE, (list(keys), token_hash, run_id)).fetchall()
    if not rows:
        return WriteAccess(None, None, {})
    return WriteAccess(
        rows[0][0], rows[0][1], {key: sid for _, _, key, sid in rows if key is not None}
    )


# The lock is taken only for the run's token holder: a stranger's request locks nothing.
_LOCK_FOR_WRITE = (
    "SELECT r.status, r.token_hash, s.key, s.id FROM runs AS r LEFT JOIN LATERAL ("
    "SELECT key, id FROM metric_series WHERE run_id = r.id AND key = ANY(%s) "
    "AND r.token_hash = %s ORDER BY id FOR UPDATE) AS s ON true WHERE r.id = %s"
)


def _lock_and_read_sqlite(session: Session, run_id: int, keys: Sequence[str]) -> dict[str, int]:
    # SQLite: a write statement makes this transaction the one writer; then read the ids.
    session.execute(
        update(MetricSeries)
        .where(MetricSeries.run_id == run_id, MetricSeries.key.in_(list(keys)))
        .values(key=MetricSeries.key)
        .execution_options(synchronize_session=False)
    )
    return series_ids(session, run_id, keys)


def create_series(session: Session, run_id: int, keys: Sequence[str]) -> dict[str, int]:
    """Ids of new series for `keys` (the caller holds the run's write access), locked as
    `lock_for_write` locks; a series another writer created meanwhile is kept and locked."""
    _insert_missing_series(session, run_id, keys)
    driver = _driver(session)
    if driver is None:
        return series_ids(session, run_id, keys)
    return _lock_existing(driver, run_id, keys)


def _lock_existing(driver: Any, run_id: int, keys: Sequence[str]) -> dict[str, int]:
    rows = driver.execute(
        "SELECT key, id FROM metric_series WHERE run_id = %s AND key = ANY(%s) "
        "ORDER BY id FOR UPDATE",
        (run_id, list(keys)),
    ).fetchall()
    return dict(rows)


def chunks_between(
    session: Session, series_ids: Sequence[int], lo: int, hi: int
) -> dict[int, list[ChunkInfo]]:
    """For each of the series, its chunks with lo <= first_step < hi, by first step."""
    if not series_ids:
        return {}
    driver = _driver(session)
    if driver is None:
        rows = session.execute(
            select(CHUNKS.c.series_id, CHUNKS.c.first_step, CHUNKS.c.last_step, CHUNKS.c.n)
            .where(
                CHUNKS.c.series_id.in_(list(series_ids)),
                CHUNKS.c.first_step >= lo,
                CHUNKS.c.first_step < hi,
            )
            .order_by(CHUNKS.c.series_id, CHUNKS.c.first_step)
        ).all()
    else:
        rows = driver.execute(
            "SELECT series_id, first_step, last_step, n FROM metric_chunks "
            "WHERE series_id = ANY(%s) AND first_step >= %s AND first_step < %s "
            "ORDER BY series_id, first_step",
            (list(series_ids), lo, hi),
        ).fetchall()
    out: dict[int, list[ChunkInfo]] = {}
    for series_id, first, last, n in rows:
        out.setdefault(series_id, []).append(ChunkInfo(first, last, n))
    return out


def read_offsets(
    session: Session, series_id: int, firsts: Sequence[int]
) -> list[tuple[int, bytes]]:
    """(first_step, raw offsets) of the series' chunks that start at `firsts`."""
    return [(first, offsets) for first, offsets, _ in _read_by_first(session, series_id, firsts)]


def read_raw(
    session: Session, series_id: int, firsts: Sequence[int]
) -> list[tuple[int, bytes, bytes]]:
    """(first_step, raw offsets, raw values) of the series' chunks that start at `firsts`."""
    return _read_by_first(session, series_id, firsts, values=True)


def _read_by_first(
    session: Session, series_id: int, firsts: Sequence[int], values: bool = False
) -> list[tuple[int, bytes, bytes]]:
    driver = _driver(session)
    if driver is not None:
        value_column = "raw_values" if values else "''::bytea"
        with driver.cursor(binary=True) as cursor:
            cursor.execute(
                f"SELECT first_step, raw_offsets, {value_column} FROM metric_chunks "
                "WHERE series_id = %s AND first_step = ANY(%s) ORDER BY first_step",
                (series_id, list(firsts)),
            )
            return cursor.fetchall()
    rows = session.execute(
        select(
            CHUNKS.c.first_step,
            CHUNKS.c.raw_offsets,
            CHUNKS.c.raw_values if values else literal(b""),
        )
        .where(CHUNKS.c.series_id == series_id, CHUNKS.c.first_step.in_(list(firsts)))
        .order_by(CHUNKS.c.first_step)
    )
    return [(first, _bytes(o), _bytes(v)) for first, o, v in rows]


def delete_chunks(session: Session, firsts: dict[int, list[int]]) -> None:
    """Delete chunks, given {series_id: first steps} (before writing their merge)."""
    for series_id, steps in firsts.items():
        session.execute(
            delete(CHUNKS).where(CHUNKS.c.series_id == series_id, CHUNKS.c.first_step.in_(steps))
        )


def _row(series_id: int, c: EncodedChunk) -> tuple[object, ...]:
    return (
        series_id, c.first_step, c.last_step, c.n,
        c.m4_offsets, c.m4_values, c.raw_offsets, c.raw_values,
    )  # fmt: skip


_COLUMNS = (
    "series_id", "first_step", "last_step", "n",
    "m4_offsets", "m4_values", "raw_offsets", "raw_values",
)  # fmt: skip
_COPY = f"COPY metric_chunks ({', '.join(_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
_COPY_TYPES = ["int8", "int8", "int8", "int4", "bytea", "bytea", "bytea", "bytea"]


def insert_chunks(session: Session, chunks: Sequence[tuple[int, EncodedChunk]]) -> None:
    """Insert new chunk rows: COPY on PostgreSQL, one executemany INSERT elsewhere.

    The caller holds the series' locks and has removed every stored step, so no row conflicts.
    """
    if not chunks:
        return
    driver = _driver(session)
    if driver is not None:
        with driver.cursor() as cursor, cursor.copy(_COPY) as copy:
            copy.set_types(_COPY_TYPES)
            for series_id, chunk in chunks:
                copy.write_row(_row(series_id, chunk))
        return
    session.execute(
        CHUNKS.insert(), [dict(zip(_COLUMNS, _row(sid, c), strict=True)) for sid, c in chunks]
    )


# --- reads ----------------------------------------------------------------------------------


_NO_START, _NO_END = -1, 2**63 - 1


def _chunks_in_range(
    session: Session, series_id: int, start: int | None, end: int | None, columns: tuple[str, ...]
) -> list[tuple[Any, ...]]:
    """`columns` of the series' chunks holding steps in [start, end) (maybe also others), by
    first step: one indexed range query on (series_id, first_step)."""
    # A chunk lies inside one window, so one holding `start` begins in start's window.
    window_start = _NO_START if start is None else start // WINDOW_STEPS * WINDOW_STEPS
    start = _NO_START if start is None else start
    end = _NO_END if end is None else end
    driver = _driver(session)
    if driver is not None:
        with driver.cursor(binary=True) as cursor:
            cursor.execute(
                f"SELECT {', '.join(columns)} FROM metric_chunks WHERE series_id = %s "
                "AND first_step >= %s AND last_step >= %s AND first_step < %s "
                "ORDER BY first_step",
                (series_id, window_start, start, end),
            )
            return cursor.fetchall()
    rows = session.execute(
        select(*(CHUNKS.c[name] for name in columns))
        .where(
            CHUNKS.c.series_id == series_id,
            CHUNKS.c.first_step >= window_start,
            CHUNKS.c.last_step >= start,
            CHUNKS.c.first_step < end,
        )
        .order_by(CHUNKS.c.first_step)
    )
    return [tuple(_bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]


def chunk_index(
    session: Session, series_id: int, start: int | None, end: int | None
) -> list[ChunkInfo]:
    """The series' chunks holding steps in [start, end) (maybe also others), by first step."""
    columns = ("first_step", "last_step", "n")
    return [ChunkInfo(*row) for row in _chunks_in_range(session, series_id, start, end, columns)]


@dataclass(frozen=True)
class ChunkSummary:
    """A chunk row's step range, count and M4 summary columns."""

    first_step: int
    last_step: int
    n: int
    m4_offsets: bytes
    m4_values: bytes


def chunk_summaries(
    session: Session, series_id: int, start: int | None, end: int | None
) -> list[ChunkSummary]:
    """Like `chunk_index`, with each chunk's M4 summary: a wide downsampled read needs no more
    than this one query (plus the raw points of chunks that straddle the range's ends)."""
    columns = ("first_step", "last_step", "n", "m4_offsets", "m4_values")
    rows = _chunks_in_range(session, series_id, start, end, columns)
    return [ChunkSummary(*row) for row in rows]


def read_chunks(
    session: Session,
    series_id: int,
    first: int,
    last: int,
    summary_inside: tuple[int | None, int | None] | None = None,
) -> list[tuple[int, bytes, bytes]]:
    """(first_step, offsets, values) of the chunks with first <= first_step <= last.

    With `summary_inside` = (start, end), chunks wholly inside [start, end) give their M4
    summary columns instead of their raw points; the database never reads their raw bytes.
    """
    if summary_inside is None:
        # An empty range: no chunk is inside it, every chunk gives its raw points.
        start, end = _NO_END, _NO_START
    else:
        start = _NO_START if summary_inside[0] is None else summary_inside[0]
        end = _NO_END if summary_inside[1] is None else summary_inside[1]
    driver = _driver(session)
    if driver is not None:
        # Binary results: bytea arrives as bytes, not as hex text to decode.
        with driver.cursor(binary=True) as cursor:
            cursor.execute(_READ_SQL, (start, end, start, end, series_id, first, last))
            return cursor.fetchall()
    inside = and_(CHUNKS.c.first_step >= start, CHUNKS.c.last_step < end)
    rows = session.execute(
        select(
            CHUNKS.c.first_step,
            case((inside, CHUNKS.c.m4_offsets), else_=CHUNKS.c.raw_offsets),
            case((inside, CHUNKS.c.m4_values), else_=CHUNKS.c.raw_values),
        )
        .where(
            CHUNKS.c.series_id == series_id,
            CHUNKS.c.first_step >= first,
            CHUNKS.c.first_step <= last,
        )
        .order_by(CHUNKS.c.first_step)
    )
    return [(step, _bytes(o), _bytes(v)) for step, o, v in rows]


def raw_chunks_of(
    session: Session, series_ids: Collection[int]
) -> dict[int, list[tuple[int, bytes, bytes]]]:
    """(first_step, offsets, values) of every chunk of each series, in step order, in one
    query: for reading many short series whole (a run's cost points)."""
    out: dict[int, list[tuple[int, bytes, bytes]]] = {i: [] for i in series_ids}
    if not out:
        return out
    rows = session.execute(
        select(CHUNKS.c.series_id, CHUNKS.c.first_step, CHUNKS.c.raw_offsets, CHUNKS.c.raw_values)
        .where(CHUNKS.c.series_id.in_(list(out)))
        .order_by(CHUNKS.c.series_id, CHUNKS.c.first_step)
    )
    for series_id, step, offsets, values in rows:
        out[series_id].append((step, _bytes(offsets), _bytes(values)))
    return out


_READ_SQL = (
    "SELECT first_step, "
    "CASE WHEN first_step >= %s AND last_step < %s THEN m4_offsets ELSE raw_offsets END, "
    "CASE WHEN first_step >= %s AND last_step < %s THEN m4_values ELSE raw_values END "
    "FROM metric_chunks WHERE series_id = %s AND first_step >= %s AND first_step <= %s "
    "ORDER BY first_step"
)


def _bytes(value: bytes | memoryview) -> bytes:
    return value if isinstance(value, bytes) else bytes(value)
