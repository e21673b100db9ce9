"""The registry as other tools and people read it: JSON, and a Markdown production bible."""

from __future__ import annotations

from typing import Any

from vidpipe.db.models import Manifest
from vidpipe.storage import FileStore

REGISTRY_FORMAT = "vidpipe.registry/1"


def registry_json(manifest: Manifest, store: FileStore) -> dict[str, Any]:
    """The registry as plain JSON other tools can read (see REGISTRY_FORMAT)."""
    uploads = {u.id: u for u in manifest.uploads}

    def file(key: str | None) -> str | None:
        return str(store.path(key)) if key else None

    return {
        "format": REGISTRY_FORMAT,
        "manifest": {
            "id": str(manifest.id),
            "name": manifest.name,
            "status": manifest.status.value,
            "contact_sheet": file(manifest.contact_sheet),
            "processed_at": manifest.processed_at.isoformat() if manifest.processed_at else None,
            "stats": manifest.stats,
        },
        "assets": [
            {
                "id": str(a.id),
                "type": a.asset_type.value,
                "name": a.name,
                "manifest_tag": a.manifest_tag,
                "source": a.source.value,
                "user_tags": a.user_tags,
                "reverse_prompt": a.reverse_prompt,
                "visual_description": a.visual_description,
                "quality_score": a.quality_score,
                "suggested_name": a.suggested_name,
                "detection_class": a.detection_class,
                "detection_confidence": a.detection_confidence,
                "is_face_crop": a.is_face_crop,
                "described_by": {
                    "provider": a.describe_provider,
                    "model": a.describe_model,
                    "prompt_version": a.describe_prompt_version,
                    "input_tokens": a.describe_input_tokens,
                    "output_tokens": a.describe_output_tokens,
                    "error": a.describe_error,
                },
                "primary_reference": str(a.primary_reference_id) if a.primary_reference_id else None,
                "references": [
                    {
                        "id": str(r.id),
                        "image": file(r.image_key),
                        "thumbnail": file(r.thumbnail_key),
                        "source_photo": uploads[r.upload_id].original_filename if r.upload_id in uploads else None,
                        "bbox": r.bbox,
                        "quality_score": r.quality_score,
                        "face_embedding_model": r.face_embedding_model,
                        "image_embedding_model": r.image_embedding_model,
                    }
                    for r in a.references
                ],
            }
            for a in manifest.assets
        ],
    }


def registry_markdown(manifest: Manifest, store: FileStore) -> str:
    """A production bible: the contact sheet, then each asset with its crop, prompt and description."""
    data = registry_json(manifest, store)
    lines = [f"# {manifest.name}", "", f"Status: {manifest.status.value}. Assets: {len(data['assets'])}.", ""]
    if data["manifest"]["contact_sheet"]:
        lines += [f"![Contact sheet]({data['manifest']['contact_sheet']})", ""]
    for asset in data["assets"]:
        tag = asset["manifest_tag"] or "untagged"
        lines += [f"## {tag}: {asset['name']}", ""]
        lines.append(
            f"*{asset['type'].title()}*, {asset['source']}"
            + (f", quality {asset['quality_score']:.1f}/10" if asset["quality_score"] is not None else "")
            + (f", detected as {asset['detection_class']}" if asset["detection_class"] else "")
        )
        lines.append("")
        primary = next((r for r in asset["references"] if r["id"] == asset["primary_reference"]), None)
        if primary and primary["image"]:
            lines += [f"![{asset['name']}]({primary['image']})", ""]
        if asset["reverse_prompt"]:
            lines += ["**Recreation prompt**", "", f"> {asset['reverse_prompt']}", ""]
        if asset["visual_description"]:
            lines += ["**Description**", "", asset["visual_description"], ""]
        by = asset["described_by"]
        if by["provider"]:
            lines += [f"*Described by {by['provider']} ({by['model']}, prompt {by['prompt_version']}).*", ""]
        elif by["error"]:
            lines += [f"*Not described: {by['error']}*", ""]
        others = [r for r in asset["references"] if r is not primary]
        if others:
            lines += [f"Other references ({len(others)}): " + ", ".join(f"![]({r['thumbnail']})" for r in others), ""]
    return "\n".join(lines)
