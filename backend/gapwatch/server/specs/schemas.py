"""What the New-run form is built from."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class PresetRead(BaseModel):
    id: str
    title: str
    description: str
    spec: dict[str, Any] = Field(description="A complete, valid RunSpec.")


class SpecDescription(BaseModel):
    """The RunSpec JSON Schema (options, defaults, bounds) and the ready-made specs."""

    run_spec_schema: dict[str, Any] = Field(
        alias="schema",
        description="JSON Schema of RunSpec as the API validates it: discriminated unions "
        "(oneOf + discriminator) for benchmark, model and strategy; defaults and bounds.",
    )
    presets: list[PresetRead]

    model_config = {"populate_by_name": True, "serialize_by_alias": True}
