"""What a manifesting run measured: counts and seconds per step (stored on the manifest as JSON)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RunStats(BaseModel):
    uploads: int = 0
    crops: int = 0
    faces: int = 0
    people: int = 0
    people_merged: int = 0  # faces that joined another face's person
    assets: int = 0
    assets_per_type: dict[str, int] = Field(default_factory=dict)
    describe_errors: int = 0
    seconds: dict[str, float] = Field(default_factory=dict)  # per step
    seconds_total: float = 0.0
