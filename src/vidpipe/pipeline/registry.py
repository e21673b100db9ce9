"""The registry as other tools and people read it: JSON, and a Markdown production bible.

Both documents link to their files by paths relative to themselves, in the layout of an export bundle
(`BundleLayout`): ``contact_sheet.jpg`` and ``assets/<TAG>/<n>.jpg``, one file per reference in the
asset's order. Printed on their own they read the same as inside the bundle that `vidpipe.pipeline.exports`
writes around them. User text (names, tags, prompts, descriptions) is escaped in the Markdown, so that it
shows as the literal text and can carry no HTML or Markdown of its own.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field
from typing import Any

from vidpipe.db.models import Asset, Manifest
from vidpipe.storage import KEY_PATTERN, MissingKeyError, Store

REGISTRY_FORMAT = "vidpipe.registry/2"
BIBLE_NAME = "bible.md"
REGISTRY_NAME = "registry.json"
CONTACT_SHEET_NAME = "contact_sheet"
ASSETS_FOLDER = "assets"


# ------------------------------------------------------------------------------------- the layout


@dataclass(frozen=True)
class BundleLayout:
    """Where each stored file of a manifest lies in an export bundle (POSIX paths, relative to its root)."""

    contact_sheet: str | None = None
    references: dict[uuid.UUID, str] = field(default_factory=dict)  # reference id -> path
    asset_folders: dict[uuid.UUID, str] = field(default_factory=dict)  # asset id -> folder
    files: dict[str, str] = field(default_factory=dict)  # path -> store key, in bundle order


def bundle_layout(manifest: Manifest) -> BundleLayout:
    """The bundle's paths: ``contact_sheet.jpg``, then ``assets/<TAG>/<n>.<suffix>`` per reference.

    Folder names come from the tags (CHAR_01...), kept to ``A-Z a-z 0-9 _ -`` so that links need no
    quoting; an asset without a tag gets ``asset-<n>``, and a clash gets ``-2``, ``-3``...
    """
    files: dict[str, str] = {}
    contact_sheet = None
    if manifest.contact_sheet:
        contact_sheet = f"{CONTACT_SHEET_NAME}{_suffix(manifest.contact_sheet)}"
        files[contact_sheet] = manifest.contact_sheet
    references: dict[uuid.UUID, str] = {}
    folders: dict[uuid.UUID, str] = {}
    taken: set[str] = set()
    for index, asset in enumerate(manifest.assets, start=1):
        base = re.sub(r"[^A-Za-z0-9_-]+", "_", asset.manifest_tag or "").strip("_-") or f"asset-{index}"
        name, n = base, 1
        while name.lower() in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name.lower())
        folder = f"{ASSETS_FOLDER}/{name}"
        folders[asset.id] = folder
        for position, reference in enumerate(asset.references, start=1):
            path = f"{folder}/{position}{_suffix(reference.image_key)}"
            references[reference.id] = path
            files[path] = reference.image_key
    return BundleLayout(contact_sheet, references, folders, files)


def sha256_of_key(key: str) -> str:
    """The SHA-256 a store key names (the store names each file by the hash of its bytes)."""
    match = KEY_PATTERN.fullmatch(key)
    if match is None:
        raise ValueError(f"{key!r} is not a store key")
    return match["sha"]


def file_entry(store: Store, path: str, key: str) -> dict[str, Any]:
    """A file of the bundle as the JSON lists it: its relative path, SHA-256 and size in bytes
    (None when the stored file is missing; writing the bundle then fails, naming it)."""
    try:
        size: int | None = store.size(key)
    except MissingKeyError:
        size = None
    return {"path": path, "sha256": sha256_of_key(key), "bytes": size}


def _suffix(key: str) -> str:
    match = re.search(r"\.[a-z0-9]{1,5}$", key)
    return match[0] if match else ".bin"


# ------------------------------------------------------------------------------------------ JSON


def registry_json(manifest: Manifest, store: Store, layout: BundleLayout | None = None) -> dict[str, Any]:
    """The registry as plain JSON other tools can read (see REGISTRY_FORMAT).

    Every file is ``{"path", "sha256", "bytes"}`` with ``path`` relative to the document (in the layout
    of `bundle_layout` unless another is given); ``files`` lists them all once, for checking a bundle.
    """
    layout = layout or bundle_layout(manifest)
    uploads = {u.id: u for u in manifest.uploads}
    entries = {path: file_entry(store, path, key) for path, key in layout.files.items()}

    def reference(asset: Asset, index: int) -> dict[str, Any]:
        r = asset.references[index]
        return {
            "id": str(r.id),
            "position": index + 1,
            "primary": r.id == asset.primary_reference_id,
            "image": entries[layout.references[r.id]],
            "origin": r.origin,
            "source_photo": uploads[r.upload_id].original_filename if r.upload_id in uploads else None,
            "bbox": r.bbox,
            "quality_score": r.quality_score,
            "face_embedding_model": r.face_embedding_model,
            "image_embedding_model": r.image_embedding_model,
        }

    return {
        "format": REGISTRY_FORMAT,
        "manifest": {
            "id": str(manifest.id),
            "name": manifest.name,
            "status": manifest.status.value,
            "contact_sheet": entries[layout.contact_sheet] if layout.contact_sheet else None,
            "processed_at": manifest.processed_at.isoformat() if manifest.processed_at else None,
            "stats": manifest.stats,
        },
        "assets": [
            {
                "id": str(a.id),
                "type": a.asset_type.value,
                "name": a.name,
                "manifest_tag": a.manifest_tag,
                "folder": layout.asset_folders.get(a.id),
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
                "references": [reference(a, i) for i in range(len(a.references))],
            }
            for a in manifest.assets
        ],
        "files": list(entries.values()),
    }


# -------------------------------------------------------------------------------------- Markdown

# Characters with a meaning in CommonMark or GitHub Markdown anywhere in a line (emphasis, code, links
# and images, tables, strikethrough, maths); a backslash makes each one literal. An underscore between
# two letters or digits (CHAR_01, snake_case) cannot open or close emphasis and is left as it is.
# `<`, `>` and `&` become entities instead, so that no HTML can come through.
_MD_INLINE = re.compile(r"([\\`*\[\]|~$^]|(?<![^\W_])_|_(?![^\W_]))")
# What opens a block at the start of a line: a heading, list item, thematic break, setext underline,
# block quote (already an entity) or numbered list item.
_MD_LINE_START = re.compile(r"^([#+=-]|\d+(?=[.)]))")
_HTML = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def _visible(text: str) -> str:
    """Control and format characters (bidirectional overrides, zero-width marks...) as spaces."""
    return "".join(" " if unicodedata.category(c) in ("Cc", "Cf") and c != "\n" else c for c in text)


def md_escape(text: str) -> str:
    """User text as Markdown that shows exactly that text on one line, with no markup and no HTML."""
    return _md_line(" ".join(_visible(text).split()))


def md_escape_block(text: str) -> list[str]:
    """User text of several lines as Markdown lines showing that text (line breaks kept, no markup)."""
    lines = [" ".join(line.split()) for line in _visible(text).replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    # Two lines in a row are one paragraph in Markdown: a trailing backslash keeps the line break.
    out: list[str] = []
    for i, line in enumerate(lines):
        escaped = _md_line(line)
        if line and i + 1 < len(lines) and lines[i + 1]:
            escaped += "\\"
        out.append(escaped)
    return out


def _md_line(line: str) -> str:
    escaped = _MD_INLINE.sub(r"\\\1", line)
    escaped = "".join(_HTML.get(c, c) for c in escaped)
    match = _MD_LINE_START.match(escaped)
    if match:
        mark = match[0]
        escaped = (f"\\{mark}" if not mark.isdigit() else f"{mark}\\") + escaped[len(mark) :]
    return escaped


def registry_markdown(manifest: Manifest, store: Store, layout: BundleLayout | None = None) -> str:
    """A production bible: the contact sheet, then each asset with its crop, prompt and description.

    Images are linked relative to the document, in the layout of `bundle_layout` unless another is given.
    """
    layout = layout or bundle_layout(manifest)
    lines = [
        f"# {md_escape(manifest.name)}",
        "",
        f"Status: {manifest.status.value}. Assets: {len(manifest.assets)}. "
        f"Images are linked relative to this file (registry format {REGISTRY_FORMAT}).",
        "",
    ]
    if layout.contact_sheet:
        lines += [f"![Contact sheet]({layout.contact_sheet})", ""]
    for asset in manifest.assets:
        tag = asset.manifest_tag or "untagged"
        name = md_escape(asset.name)
        lines += [f"## {md_escape(tag)}: {name}", ""]
        lines.append(
            f"*{md_escape(asset.asset_type.value.title())}*, {md_escape(asset.source.value)}"
            + (f", quality {asset.quality_score:.1f}/10" if asset.quality_score is not None else "")
            + (f", detected as {md_escape(asset.detection_class)}" if asset.detection_class else "")
        )
        lines.append("")
        if asset.user_tags:
            lines += ["Tags: " + ", ".join(md_escape(t) for t in asset.user_tags), ""]
        primary = next((r for r in asset.references if r.id == asset.primary_reference_id), None)
        if primary is not None:
            lines += [f"![{name}]({layout.references[primary.id]})", ""]
        if asset.reverse_prompt:
            quoted = md_escape_block(asset.reverse_prompt)
            lines += ["**Recreation prompt**", "", *(f"> {line}" if line else ">" for line in quoted), ""]
        description = asset.visual_description or asset.description
        if description:
            lines += ["**Description**", "", *md_escape_block(description), ""]
        if asset.describe_provider:
            lines += [
                f"*Described by {md_escape(asset.describe_provider)} ({md_escape(asset.describe_model or '?')}, "
                f"prompt {md_escape(asset.describe_prompt_version or '?')}).*",
                "",
            ]
        elif asset.describe_error:
            lines += [f"*Not described: {md_escape(asset.describe_error)}*", ""]
        others = [r for r in asset.references if r is not primary]
        if others:
            views = ", ".join(
                f"![{md_escape(tag)} view {asset.references.index(r) + 1}]({layout.references[r.id]})" for r in others
            )
            lines += [f"Other references ({len(others)}): {views}", ""]
    return "\n".join(lines)
