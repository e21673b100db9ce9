"""The pages: the manifest list, the three stages of the Manifest Creator, and an asset's page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from vidpipe.api.deps import get_ctx
from vidpipe.app import AppContext
from vidpipe.domain.enums import AssetType, ManifestStatus
from vidpipe.pipeline.manifesting import STEPS
from vidpipe.services import assets, manifests, search

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)
Ctx = Annotated[AppContext, Depends(get_ctx)]

STEP_WORDS = {
    "contact_sheet": "Making the contact sheet",
    "detect": "Finding people, faces and objects",
    "people": "Telling people apart by face",
    "embed": "Comparing what was found",
    "select": "Choosing the assets",
    "describe": "Describing each asset",
    "tag": "Tagging",
    "write": "Writing the registry",
}


def page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status)


@router.get("/", response_class=HTMLResponse)
def manifest_list(request: Request, ctx: Ctx) -> HTMLResponse:
    return page(request, "manifests.html", manifests=manifests.list_manifests(ctx))


@router.get("/manifests/new", response_class=HTMLResponse)
def new_manifest(request: Request) -> HTMLResponse:
    return page(request, "upload.html", manifest=None, types=[t.value for t in AssetType])


@router.get("/manifests/{manifest_id}", response_class=HTMLResponse)
def manifest_page(manifest_id: str, request: Request, ctx: Ctx, q: str | None = None) -> Response:
    """The stage the manifest is in: photos to add, a run to watch, or a registry to review."""
    view = manifests.show_manifest(ctx, manifest_id)
    if view.summary.status is ManifestStatus.DRAFT:
        return RedirectResponse(f"/manifests/{view.summary.id}/upload", status_code=303)
    if view.summary.status is ManifestStatus.PROCESSING:
        return RedirectResponse(f"/manifests/{view.summary.id}/processing", status_code=303)
    query = (q or "").strip()
    shown = view.assets
    if query:
        hits = search.search_text(ctx, str(view.summary.id), query)
        shown = tuple(h.asset for h in hits)
    return page(request, "review.html", view=view, assets=shown, query=query)


@router.get("/manifests/{manifest_id}/upload", response_class=HTMLResponse)
def upload_page(manifest_id: str, request: Request, ctx: Ctx) -> HTMLResponse:
    view = manifests.show_manifest(ctx, manifest_id)
    return page(request, "upload.html", manifest=view, types=[t.value for t in AssetType])


@router.get("/manifests/{manifest_id}/processing", response_class=HTMLResponse)
def processing_page(manifest_id: str, request: Request, ctx: Ctx) -> HTMLResponse:
    view = manifests.show_manifest(ctx, manifest_id)
    return page(request, "processing.html", view=view, steps=STEPS, words=STEP_WORDS)


@router.get("/assets/{asset_id}", response_class=HTMLResponse)
def asset_page(asset_id: str, request: Request, ctx: Ctx) -> HTMLResponse:
    manifest_id = assets.manifest_of(ctx, asset_id)
    view = manifests.show_manifest(ctx, manifest_id)
    asset = assets.get_asset(ctx, manifest_id, asset_id)
    uploads = {u.name: u for u in view.uploads}
    return page(request, "asset.html", manifest=view, asset=asset, uploads=uploads)
