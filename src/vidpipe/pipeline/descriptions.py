"""Writing a describer's result onto an asset row: the one place that maps `Description` to columns."""

from __future__ import annotations

from vidpipe.db.models import Asset
from vidpipe.describe.describer import Description


def store_description(
    asset: Asset, description: Description | None, error: str | None = None, *, fallback_quality: float | None = None
) -> None:
    """Copy the texts, score, suggested name and provenance (provider, model, prompt version, tokens)
    onto ``asset``; without a description, clear them and keep the error, and score the asset by its
    crop's measured quality (``fallback_quality``) so it can still be ranked."""
    asset.reverse_prompt = description.reverse_prompt if description else None
    asset.visual_description = description.visual_description if description else None
    asset.description = description.visual_description if description else None
    asset.suggested_name = description.suggested_name if description else None
    asset.quality_score = description.quality_score if description else fallback_quality
    asset.describe_provider = description.provider if description else None
    asset.describe_model = description.model if description else None
    asset.describe_prompt_version = description.prompt_version if description else None
    asset.describe_input_tokens = description.input_tokens if description else None
    asset.describe_output_tokens = description.output_tokens if description else None
    asset.describe_error = None if description else error
