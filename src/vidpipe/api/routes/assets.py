"""/api/assets: one asset with its references."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from vidpipe.api.deps import file_url, get_ctx
from vidpipe.api.schemas import AssetOut
from vidpipe.app import AppContext
from vidpipe.services import assets

router = APIRouter(prefix="/api/assets", tags=["assets"])
Ctx = Annotated[AppContext, Depends(get_ctx)]


@router.get("/{asset_id}", response_model=AssetOut)
def get_asset(asset_id: str, ctx: Ctx) -> AssetOut:
    return AssetOut.of(assets.get_asset_by_id(ctx, asset_id), file_url)
