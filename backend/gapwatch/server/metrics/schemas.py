"""Metric batches in and series out, columnar: one key, its steps and its values.

Columnar bodies are a fraction of the size of one object per point and validate in one pass.
`parse_batch` is the ingest path's parser. A JSON body (`MetricBatch`) takes a numpy fast path
when well formed, and the pydantic model (the contract, and the source of its 422s) otherwise.
A binary body (`COLUMNAR_MEDIA_TYPE`, see `COLUMNAR_LAYOUT`) is the same batch as raw arrays:
numpy reads it without a Python object per point, which is what the worker's logger sends.
"""

from __future__ import annotations

import array
import email.message
import json
import re
import struct
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gapwatch.components import MAX_STEP, METRIC_KEY_PATTERN
from gapwatch.server.errors import body_parse_problem
from gapwatch.server.metrics.chunks import Points

MAX_POINTS_PER_BATCH = 200_000
MAX_SERIES_PER_BATCH = 1_000
MAX_PAGE_POINTS = 1_000_000
MAX_DOWNSAMPLED_POINTS = 100_000
COLUMNAR_MEDIA_TYPE = "application/x-gapwatch-columnar"
COLUMNAR_MAGIC = b"GWC1"
COLUMNAR_LAYOUT = """A metric batch as arrays, all numbers little-endian:
the 4 bytes `GWC1`; uint32 S, the number of series (1 to 1000); then for each series uint32 n
(its number of points), uint16 L and its key (L bytes of UTF-8); zero bytes up to the next
multiple of 8 from the start of the body; then the int64 steps of every series, series after
series (N = the sum of the n, at most 200,000); then their float64 values in the same order.
The body ends there. The rules are MetricBatch's; a 422 names the field as for JSON, e.g.
["body", "series", 0, "values", 3] for a non-finite value."""

MetricKey = Annotated[str, Field(pattern=METRIC_KEY_PATTERN, examples=["eval/acc/task_0"])]
Step = Annotated[int, Field(ge=0, le=MAX_STEP)]
Value = Annotated[float, Field(allow_inf_nan=False)]


class SeriesBatch(BaseModel):
    """Points of one key: `values[i]` was measured at `steps[i]`."""

    model_config = ConfigDict(extra="forbid")

    key: MetricKey
    steps: list[Step] = Field(max_length=MAX_POINTS_PER_BATCH)
    values: list[Value] = Field(max_length=MAX_POINTS_PER_BATCH)

    @model_validator(mode="after")
    def _aligned(self) -> SeriesBatch:
        if len(self.steps) != len(self.values):
            raise ValueError(
                f"steps ({len(self.steps)}) and values ({len(self.values)}) differ in length"
            )
        if len(set(self.steps)) != len(self.steps):
            raise ValueError(f"steps of {self.key!r} repeat within one batch")
        return self


class MetricBatch(BaseModel):
    """A batch of points for one run. Sending it twice stores each point once."""

    model_config = ConfigDict(extra="forbid")

    series: list[SeriesBatch] = Field(min_length=1, max_length=MAX_SERIES_PER_BATCH)

    @model_validator(mode="after")
    def _bounded(self) -> MetricBatch:
        keys = [s.key for s in self.series]
        if len(set(keys)) != len(keys):
            raise ValueError("a key appears twice in one batch; merge its points")
        total = sum(len(s.steps) for s in self.series)
        if total > MAX_POINTS_PER_BATCH:
            raise ValueError(f"{total} points in one batch; at most {MAX_POINTS_PER_BATCH}")
        return self

    @property
    def point_count(self) -> int:
        return sum(len(s.steps) for s in self.series)


@dataclass(frozen=True)
class SeriesPoints:
    """One key's points from a validated batch, sorted by step."""

    key: str
    points: Points


class IngestResult(BaseModel):
    received: int = Field(description="Points in the batch.")
    stored: int = Field(description="Points new to the store; the rest were already there.")


class SeriesRead(BaseModel):
    key: str
    steps: list[int]
    values: list[float]


class MetricsRead(BaseModel):
    """Series of a run. `series` keeps its original shape; the other fields say how it was cut."""

    run_id: int
    series: list[SeriesRead]
    downsampled: bool = Field(
        False,
        description="True if any series holds more points in the range than `points`, and was "
        "reduced to the first, last, minimum and maximum point of each step bucket (M4).",
    )
    points_in_range: dict[str, int] = Field(
        default_factory=dict, description="Stored points of each key in [start, end)."
    )
    next_start: dict[str, int] = Field(
        default_factory=dict,
        description="Raw reads only: for each key cut at `limit` points, the `start` of its "
        "next page. Empty when every point was returned.",
    )


class MetricsExport(BaseModel):
    """Every point of a run (`GET /runs/{id}/export?format=json`)."""

    run_id: int
    series: list[SeriesRead]


class MetricKeys(BaseModel):
    run_id: int
    keys: list[str]


# --- parsing an ingest body -----------------------------------------------------------------

# The largest metric batch body (a 200,000-point batch as JSON with 17 significant digits is
# about 8 MiB; the columnar layout is 16 bytes a point).
METRICS_BODY_LIMIT = 32 * 2**20

_KEY = re.compile(METRIC_KEY_PATTERN)
_SERIES_FIELDS = {"key", "steps", "values"}


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema with its $defs inlined, for an OpenAPI requestBody."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return resolve(schema)


def _media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lowercase, without parameters."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _array(items: Any, typecode: str) -> np.ndarray | None:
    """A list of JSON numbers as a numpy array, or None if any item is of another kind.

    array.array converts in C and is strict: 'q' refuses floats, strings and None (a bool is
    0 or 1, as the model's lax int reads it too), 'd' refuses strings and None; an int beyond
    int64 raises. Refused items go to the model, which decides and words the 422.
    """
    if type(items) is not list:
        return None
    try:
        return np.frombuffer(array.array(typecode, items), np.int64 if typecode == "q" else float)
    except (TypeError, OverflowError, ValueError):
        return None


def _fast_parse(body: bytes) -> list[SeriesPoints] | None:
    """The batch, if it is canonical JSON that MetricBatch would accept unchanged; else None.

    Builds numpy arrays straight from the parsed lists, without a Python object per point
    beyond the parser's. Anything unusual (a float step, a string value, a repeated step, an
    out-of-range number, NaN, which orjson rejects) returns None, so the pydantic model decides
    with its own messages: this path never accepts what the model would refuse.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(doc) is not dict or doc.keys() != {"series"}:
        return None
    items = doc["series"]
    if type(items) is not list or not 1 <= len(items) <= MAX_SERIES_PER_BATCH:
        return None
    parsed: list[SeriesPoints] = []
    seen: set[str] = set()
    total = 0
    for item in items:
        if type(item) is not dict or item.keys() != _SERIES_FIELDS:
            return None
        key = item["key"]
        if type(key) is not str or key in seen or not _KEY.fullmatch(key):
            return None
        seen.add(key)
        steps, values = _array(item["steps"], "q"), _array(item["values"], "d")
        if steps is None or values is None or steps.size != values.size:
            return None
        total += steps.size
        if total > MAX_POINTS_PER_BATCH:
            return None
        if steps.size:
            if steps.min() < 0 or steps.max() > MAX_STEP or not np.isfinite(values).all():
                return None
            order = np.argsort(steps, kind="stable")
            steps, values = steps[order], values[order]
            if steps.size > 1 and not (steps[1:] > steps[:-1]).all():
                return None
        parsed.append(SeriesPoints(key, Points(steps, values)))
    return parsed


_COLUMNAR_COUNT = struct.Struct("<I")
_COLUMNAR_SERIES = struct.Struct("<IH")


def _body_error(loc: tuple[str | int, ...], msg: str, kind: str = "value_error") -> Exception:
    return RequestValidationError([{"type": kind, "loc": ("body", *loc), "msg": msg}])


def _parse_columnar(body: bytes) -> list[SeriesPoints]:
    """A batch in the binary layout (COLUMNAR_LAYOUT), checked as MetricBatch checks JSON.

    The checks run in the model's order (a key's pattern, its steps and values, repeated steps,
    then keys repeated across the batch), and the first failure is the 422, with the location
    the model would give it.

    Raises:
        RequestValidationError: The body is not in the layout or breaks a rule of the batch.
    """
    if len(body) < 8 or body[:4] != COLUMNAR_MAGIC:
        raise _body_error((), f"not a {COLUMNAR_MEDIA_TYPE} body: it must start with 'GWC1'")
    (count,) = _COLUMNAR_COUNT.unpack_from(body, 4)
    if not 1 <= count <= MAX_SERIES_PER_BATCH:
        raise _body_error(("series",), f"{count} series; give 1 to {MAX_SERIES_PER_BATCH}")
    offset, keys, counts = 8, [], []
    try:
        for _ in range(count):
            n, length = _COLUMNAR_SERIES.unpack_from(body, offset)
            offset += _COLUMNAR_SERIES.size
            if offset + length > len(body):
                raise struct.error
            keys.append(body[offset : offset + length].decode())
            counts.append(n)
            offset += length
    except (struct.error, UnicodeDecodeError):
        raise _body_error((), "the series headers are cut short or not UTF-8") from None
    total = sum(counts)
    if total > MAX_POINTS_PER_BATCH:  # before touching the arrays
        raise _body_error((), f"{total} points in one batch; at most {MAX_POINTS_PER_BATCH}")
    start = -(-offset // 8) * 8
    if len(body) != start + 16 * total or body[offset:start].strip(b"\0"):
        raise _body_error((), f"{len(body)} bytes; the headers announce {start + 16 * total}")
    for number, key in enumerate(keys):
        if not _KEY.fullmatch(key):
            raise _body_error(
                ("series", number, "key"),
                f"String should match pattern '{METRIC_KEY_PATTERN}'",
                "string_pattern_mismatch",
            )
    steps = np.frombuffer(body, "<i8", total, start)
    values = np.frombuffer(body, "<f8", total, start + 8 * total)
    ends = np.cumsum(counts)
    _check_points(steps, values, ends)
    bounds = ends.tolist()
    parsed = []
    for number, (key, lo, hi) in enumerate(zip(keys, [0, *bounds[:-1]], bounds, strict=True)):
        points = Points(steps[lo:hi], values[lo:hi])
        if len(points) > 1 and not (points.steps[1:] > points.steps[:-1]).all():
            order = np.argsort(points.steps, kind="stable")
            points = Points(points.steps[order], points.values[order])
            if not (points.steps[1:] > points.steps[:-1]).all():
                raise _body_error(("series", number), f"steps of {key!r} repeat within one batch")
        parsed.append(SeriesPoints(key, points))
    if len(set(keys)) != count:
        raise _body_error((), "a key appears twice in one batch; merge its points")
    return parsed


def _check_points(steps: np.ndarray, values: np.ndarray, ends: np.ndarray) -> None:
    """422 for the first step out of bounds or non-finite value, named as the model would."""
    bad_step = np.flatnonzero((steps < 0) | (steps > MAX_STEP))
    bad_value = np.flatnonzero(~np.isfinite(values))
    if not bad_step.size and not bad_value.size:
        return
    # The model checks a series' steps before its values: the first series with a bad point
    # is the one to name, and within it a bad step before a bad value.
    series_of = np.searchsorted(ends, [*bad_step[:1], *bad_value[:1]], "right")
    number = int(series_of.min())
    base = int(ends[number - 1]) if number else 0
    if bad_step.size and np.searchsorted(ends, bad_step[0], "right") == number:
        index = int(bad_step[0])
        relation = (
            "greater than or equal to 0"
            if steps[index] < 0
            else f"less than or equal to {MAX_STEP}"
        )
        kind = "greater_than_equal" if steps[index] < 0 else "less_than_equal"
        raise _body_error(
            ("series", number, "steps", index - base), f"Input should be {relation}", kind
        )
    raise _body_error(
        ("series", number, "values", int(bad_value[0]) - base),
        "Input should be a finite number",
        "finite_number",
    )


def _validation_error(error: ValidationError) -> RequestValidationError:
    return RequestValidationError(
        [{**e, "loc": ("body", *e["loc"])} for e in error.errors(include_url=False)]
    )


def parse_batch(body: bytes, content_type: str | None) -> list[SeriesPoints]:
    """A metric batch from a request body, or RequestValidationError (422) as FastAPI words it.

    Raises:
        RequestValidationError: The body is neither JSON nor COLUMNAR_LAYOUT, or it breaks a
            rule of MetricBatch.
    """
    if not body:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    if _media_type(content_type) == COLUMNAR_MEDIA_TYPE:
        return _parse_columnar(body)
    if _is_json(content_type):
        fast = _fast_parse(body)
        if fast is not None:
            return fast
        try:
            document: Any = json.loads(body)
        except json.JSONDecodeError as error:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", error.pos),
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": error.msg},
                    }
                ]
            ) from error
        except (ValueError, RecursionError) as error:
            # Not UTF-8 text, nested beyond the parser's limit, or a number of more digits than
            # Python converts: the body as a whole is wrong.
            raise _body_error((), body_parse_problem(error), "json_invalid") from None
    else:
        document = body
    try:
        batch = MetricBatch.model_validate(document)
    except ValidationError as error:
        raise _validation_error(error) from None
    out = []
    for series in batch.series:
        steps = np.array(series.steps, dtype=np.int64)
        values = np.array(series.values, dtype=np.float64)
        order = np.argsort(steps, kind="stable")
        out.append(SeriesPoints(series.key, Points(steps[order], values[order])))
    return out


_KEY = re.compile(METRIC_KEY_PATTERN)


def parse_keys(keys: str | None) -> list[str] | None:
    """The `keys` query parameter as a list, or a 422 naming it."""
    if keys is None:
        return None
    parsed = [k.strip() for k in keys.split(",") if k.strip()]
    bad = [k for k in parsed if not _KEY.fullmatch(k)]
    if bad or not parsed or len(parsed) > 500:
        reason = f"invalid metric key {bad[0]!r}" if bad else "give 1 to 500 comma-separated keys"
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("query", "keys"), "msg": reason, "input": keys}]
        )
    return list(dict.fromkeys(parsed))
