"""A user's corrections to a processed registry. Every place that takes an asset accepts its tag
within the manifest (CHAR_01) as well as its id."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from vidpipe.app import AppContext
from vidpipe.db.repositories import assets as assets_repo
from vidpipe.db.repositories import manifests as manifests_repo
from vidpipe.errors import NotFoundError, VidpipeError
from vidpipe.pipeline import corrections
from vidpipe.pipeline.corrections import DeleteResult, MergeResult, SplitResult
from vidpipe.pipeline.reference_swap import SwapResult, swap_reference
from vidpipe.services.manifests import refuse_while_active
from vidpipe.services.views import AssetView


def _resolve(ctx: AppContext, manifest_ref: str, asset_refs: Sequence[str]) -> tuple[uuid.UUID, list[str]]:
    """The manifest's id and the tag of each asset named by tag or id; refused while a run is active."""
    with ctx.factory() as session:
        manifest_id = manifests_repo.manifest_id_from_ref(session, manifest_ref)
        refuse_while_active(session, manifest_id, "correct it")
        tags = []
        for ref in asset_refs:
            asset = assets_repo.find_asset(session, manifest_id, ref)
            if asset.manifest_tag is None:
                raise VidpipeError(f"asset {asset.id} has no tag yet; process the manifest first")
            tags.append(asset.manifest_tag)
    return manifest_id, tags


def merge(ctx: AppContext, manifest_ref: str, keep: str, others: Sequence[str], *, force: bool = False) -> MergeResult:
    """Fold ``others`` into ``keep`` (one character, prop or place after all). Assets of different
    types are refused unless ``force``."""
    manifest_id, tags = _resolve(ctx, manifest_ref, [keep, *others])
    return corrections.merge_assets(ctx.factory, manifest_id, tags[0], tags[1:], force=force)


def split(
    ctx: AppContext,
    manifest_ref: str,
    asset: str,
    positions: Sequence[int],
    name: str | None = None,
    describers: list[str] | None = None,
) -> SplitResult:
    """Move the references at ``positions`` (1-based) into a new asset, described afresh."""
    manifest_id, tags = _resolve(ctx, manifest_ref, [asset])
    return corrections.split_asset(
        ctx.factory, ctx.store, ctx.describer(describers), manifest_id, tags[0], positions, name
    )


def rename(ctx: AppContext, manifest_ref: str, asset: str, name: str) -> AssetView:
    manifest_id, tags = _resolve(ctx, manifest_ref, [asset])
    row = corrections.rename_asset(ctx.factory, manifest_id, tags[0], name)
    return get_asset(ctx, str(manifest_id), str(row.id))


def edit_tags(
    ctx: AppContext, manifest_ref: str, asset: str, add: Sequence[str] = (), remove: Sequence[str] = ()
) -> list[str]:
    manifest_id, tags = _resolve(ctx, manifest_ref, [asset])
    return corrections.edit_user_tags(ctx.factory, manifest_id, tags[0], add, remove)


def swap(
    ctx: AppContext,
    manifest_ref: str | None,
    asset: str,
    image: Path,
    *,
    force: bool = False,
    describers: list[str] | None = None,
) -> SwapResult:
    """Make ``image`` the asset's primary reference (checked against the asset: a character's face
    must match its identity unless ``force``) and describe that asset again."""
    if manifest_ref is None:
        try:
            asset_id = uuid.UUID(asset)
        except ValueError:
            raise VidpipeError(
                f"{asset!r} is not an asset id; name the manifest too to use a tag such as CHAR_01"
            ) from None
        with ctx.factory() as session:
            manifest_ref = str(assets_repo.manifest_of_asset(session, asset_id))
    manifest_id, tags = _resolve(ctx, manifest_ref, [asset])
    with ctx.factory() as session:
        row_id = assets_repo.find_asset(session, manifest_id, tags[0]).id
    return swap_reference(ctx.factory, ctx.store, ctx.toolkit(), ctx.describer(describers), row_id, image, force=force)


def delete(ctx: AppContext, manifest_ref: str, asset: str) -> DeleteResult:
    """Remove an extracted asset from the registry; later runs make no asset of its views again."""
    manifest_id, tags = _resolve(ctx, manifest_ref, [asset])
    return corrections.delete_asset(ctx.factory, manifest_id, tags[0])


def get_asset(ctx: AppContext, manifest_ref: str, asset: str) -> AssetView:
    with ctx.factory() as session:
        manifest = manifests_repo.find_manifest(session, manifest_ref)
        row = assets_repo.find_asset(session, manifest.id, asset)
        return AssetView.of(row, {u.id: u.name for u in manifest.uploads})


def get_asset_by_id(ctx: AppContext, asset_id: str) -> AssetView:
    """An asset by its id alone (its manifest found from it)."""
    return get_asset(ctx, manifest_of(ctx, asset_id), asset_id)


def manifest_of(ctx: AppContext, asset_id: str) -> str:
    """The id of the manifest an asset belongs to (for shells that address assets by id alone)."""
    try:
        parsed = uuid.UUID(asset_id)
    except ValueError:
        raise NotFoundError(f"no asset with id {asset_id!r}") from None
    with ctx.factory() as session:
        return str(assets_repo.manifest_of_asset(session, parsed))


def edit(
    ctx: AppContext,
    manifest_ref: str,
    asset: str,
    *,
    name: str | None = None,
    user_tags: Sequence[str] | None = None,
    reverse_prompt: str | None = None,
    visual_description: str | None = None,
) -> AssetView:
    """Change what the user may change in place; each change survives re-runs (a name as `rename`,
    tags as `edit_tags`, words the user wrote are kept and not described again)."""
    manifest_id, tags = _resolve(ctx, manifest_ref, [asset])
    if name is not None:
        corrections.rename_asset(ctx.factory, manifest_id, tags[0], name)
    if user_tags is not None:
        current = get_asset(ctx, str(manifest_id), tags[0]).user_tags
        wanted = list(dict.fromkeys(t.strip() for t in user_tags if t.strip()))
        corrections.edit_user_tags(
            ctx.factory,
            manifest_id,
            tags[0],
            [t for t in wanted if t not in current],
            [t for t in current if t not in wanted],
        )
    if reverse_prompt is not None or visual_description is not None:
        corrections.edit_asset_text(
            ctx.factory, manifest_id, tags[0], reverse_prompt=reverse_prompt, visual_description=visual_description
        )
    return get_asset(ctx, str(manifest_id), tags[0])


def redescribe(ctx: AppContext, manifest_ref: str, asset: str, describers: list[str] | None = None) -> AssetView:
    """Describe one asset again from its primary reference."""
    manifest_id, tags = _resolve(ctx, manifest_ref, [asset])
    corrections.redescribe_asset(ctx.factory, ctx.store, ctx.describer(describers), manifest_id, tags[0])
    return get_asset(ctx, str(manifest_id), tags[0])


def swap_to_reference(
    ctx: AppContext,
    manifest_ref: str,
    asset: str,
    reference_id: str,
    *,
    describers: list[str] | None = None,
) -> SwapResult:
    """Make one of the asset's own references its primary (moved, not copied), kept through re-runs,
    and describe the asset again from it."""
    manifest_id, tags = _resolve(ctx, manifest_ref, [asset])
    wanted = _reference_id(tags[0], reference_id)
    tag = corrections.choose_primary(ctx.factory, manifest_id, tags[0], wanted)
    corrections.redescribe_asset(ctx.factory, ctx.store, ctx.describer(describers), manifest_id, tag)
    after = get_asset(ctx, str(manifest_id), tag)
    primary = next((r for r in after.references if r.primary), None)
    return SwapResult(
        asset_id=after.id,
        tag=tag,
        name=after.name,
        quality_score=primary.quality_score if primary else None,
        warnings=(),
        similarity=None,
    )


def remove_reference(ctx: AppContext, manifest_ref: str, asset: str, reference_id: str) -> str:
    """Remove one of the asset's generated (from a clip) or user-given references."""
    manifest_id, tags = _resolve(ctx, manifest_ref, [asset])
    wanted = _reference_id(tags[0], reference_id)
    return corrections.remove_reference(ctx.factory, manifest_id, tags[0], wanted)


def _reference_id(tag: str, reference_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(reference_id)
    except ValueError:
        raise NotFoundError(f"{tag} has no reference {reference_id!r}") from None
