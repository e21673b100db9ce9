"""/api/assets: one asset, and the user's corrections to it (each through the same services as the
CLI, so each survives every re-run)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Response, UploadFile
from fastapi.concurrency import run_in_threadpool

from vidpipe.api.deps import file_url, get_ctx
from vidpipe.api.received import received_file
from vidpipe.api.schemas import AppearanceOut, AssetEdit, AssetOut, ReferenceChoice, SplitIn, SplitOut, SwapOut
from vidpipe.app import AppContext
from vidpipe.pipeline.reference_swap import SwapResult
from vidpipe.services import assets, projects

router = APIRouter(prefix="/api/assets", tags=["assets"])
Ctx = Annotated[AppContext, Depends(get_ctx)]


@router.get("/{asset_id}", response_model=AssetOut)
def get_asset(asset_id: str, ctx: Ctx) -> AssetOut:
    return AssetOut.of(assets.get_asset_by_id(ctx, asset_id), file_url)


@router.patch("/{asset_id}", response_model=AssetOut)
def edit_asset(asset_id: str, body: AssetEdit, ctx: Ctx) -> AssetOut:
    """Rename, set the user's tags, or write the prompt and description by hand (kept by re-runs)."""
    manifest_id = assets.manifest_of(ctx, asset_id)
    view = assets.edit(
        ctx,
        manifest_id,
        asset_id,
        name=body.name,
        user_tags=body.user_tags,
        reverse_prompt=body.reverse_prompt,
        visual_description=body.visual_description,
    )
    return AssetOut.of(view, file_url)


@router.delete("/{asset_id}", status_code=204)
def delete_asset(asset_id: str, ctx: Ctx) -> Response:
    """Delete an extracted asset; later runs leave its views out (an upload's own asset: 409)."""
    assets.delete(ctx, assets.manifest_of(ctx, asset_id), asset_id)
    return Response(status_code=204)


@router.post("/{asset_id}/reprocess", response_model=AssetOut)
def redescribe(asset_id: str, ctx: Ctx) -> AssetOut:
    """Describe this asset again from its primary reference."""
    return AssetOut.of(assets.redescribe(ctx, assets.manifest_of(ctx, asset_id), asset_id), file_url)


def _swapped(ctx: AppContext, manifest_id: str, result: SwapResult) -> SwapOut:
    view = assets.get_asset(ctx, manifest_id, str(result.asset_id))
    return SwapOut(asset=AssetOut.of(view, file_url), warnings=list(result.warnings), similarity=result.similarity)


@router.post("/{asset_id}/reference", response_model=SwapOut)
async def swap_reference_upload(
    asset_id: str,
    ctx: Ctx,
    file: Annotated[UploadFile, File(description="The new reference photo")],
    force: Annotated[bool, Form()] = False,
) -> SwapOut:
    """A new photo as the primary reference: a character's face must match (else 400, unless force)."""
    manifest_id = await run_in_threadpool(assets.manifest_of, ctx, asset_id)
    async with received_file(file, "vidpipe-swap-") as path:
        result = await run_in_threadpool(lambda: assets.swap(ctx, manifest_id, asset_id, path, force=force))
    return _swapped(ctx, manifest_id, result)


@router.post("/{asset_id}/reference/choose", response_model=SwapOut)
def swap_reference_choose(asset_id: str, body: ReferenceChoice, ctx: Ctx) -> SwapOut:
    """One of the asset's own references as its primary."""
    manifest_id = assets.manifest_of(ctx, asset_id)
    result = assets.swap_to_reference(ctx, manifest_id, asset_id, str(body.reference_id))
    return _swapped(ctx, manifest_id, result)


@router.post("/{asset_id}/split", response_model=SplitOut, status_code=201)
def split(asset_id: str, body: SplitIn, ctx: Ctx) -> SplitOut:
    """Move the references at these positions (1-based) into a new asset."""
    result = assets.split(ctx, assets.manifest_of(ctx, asset_id), asset_id, body.positions, body.name)
    return SplitOut(
        source=result.source,
        new_tag=result.new_tag,
        new_asset_id=result.new_asset_id,
        references_moved=result.references_moved,
        describe_error=result.describe_error,
    )


@router.get("/{asset_id}/appearances", response_model=list[AppearanceOut])
def appearances(asset_id: str, ctx: Ctx) -> list[AppearanceOut]:
    """Where the asset was found in analysed clips (newest analyses first)."""
    assets.get_asset_by_id(ctx, asset_id)  # 404 for an unknown asset
    return [AppearanceOut.of(a) for a in projects.appearances_of_asset(ctx, asset_id)]


@router.delete("/{asset_id}/references/{reference_id}", status_code=204)
def remove_reference(asset_id: str, reference_id: str, ctx: Ctx) -> Response:
    """Remove a reference taken from a clip or given by the user (a photo's own views: 409)."""
    assets.remove_reference(ctx, assets.manifest_of(ctx, asset_id), asset_id, reference_id)
    return Response(status_code=204)
