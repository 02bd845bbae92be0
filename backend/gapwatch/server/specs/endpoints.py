"""The run spec as data: its JSON Schema and presets, for forms and other clients."""

from __future__ import annotations

from functools import cache

from fastapi import APIRouter

from gapwatch.server.specs.presets import validated_presets
from gapwatch.server.specs.schemas import PresetRead, SpecDescription
from gapwatch.spec import RunSpec

router = APIRouter(prefix="/spec", tags=["spec"])


@cache
def _description() -> SpecDescription:
    return SpecDescription(
        schema=RunSpec.model_json_schema(),
        presets=[PresetRead(**vars(p)) for p in validated_presets()],
    )


@router.get("", response_model=SpecDescription, operation_id="spec-describe")
def describe_spec() -> SpecDescription:
    """The RunSpec JSON Schema with defaults and bounds, and the presets."""
    return _description()
