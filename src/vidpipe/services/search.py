"""Finding assets in a manifest: by words (PostgreSQL full-text search; SQLite FTS5) and by a photo
(the most similar stored references, by the image embedder's vectors)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import text

from vidpipe.app import AppContext
from vidpipe.db.repositories import manifests as manifests_repo
from vidpipe.errors import VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.inference.face_analysis import face_crop
from vidpipe.inference.vectors import embedding_from_bytes
from vidpipe.pipeline import rules
from vidpipe.services.manifests import show_manifest
from vidpipe.services.views import AssetView

MAX_RESULTS = 50


@dataclass(frozen=True)
class Hit:
    asset: AssetView
    score: float  # words: the engine's rank (higher is better); photos: cosine similarity


def _words(query: str) -> list[str]:
    words = re.findall(r"\w+", query.lower())
    if not words:
        raise VidpipeError(f"search words needed, got {query!r}")
    return words[:20]


def search_text(ctx: AppContext, manifest_ref: str, query: str, limit: int = MAX_RESULTS) -> list[Hit]:
    """Assets whose name, tags (manifest and user), prompt or description hold every word."""
    words = _words(query)
    view = show_manifest(ctx, manifest_ref)
    by_id = {a.id: a for a in view.assets}
    with ctx.factory() as session:
        manifest_id = manifests_repo.manifest_id_from_ref(session, manifest_ref)
        if ctx.engine.dialect.name == "postgresql":
            rows = session.execute(
                text(
                    "SELECT id, ts_rank(doc, q) AS rank FROM ("
                    "  SELECT id, to_tsvector('simple', coalesce(name, '') || ' ' || coalesce(manifest_tag, '')"
                    "    || ' ' || replace(coalesce(manifest_tag, ''), '_', ' ') || ' '"
                    "    || coalesce(user_tags::text, '') || ' ' || coalesce(reverse_prompt, '') || ' '"
                    "    || coalesce(visual_description, '')) AS doc"
                    "  FROM assets WHERE manifest_id = :manifest) AS d, plainto_tsquery('simple', :query) AS q "
                    "WHERE doc @@ q ORDER BY rank DESC LIMIT :limit"
                ),
                {"manifest": manifest_id, "query": " ".join(words), "limit": limit},
            ).all()
            ranked = [(uuid.UUID(str(i)), float(r)) for i, r in rows]
        else:
            # SQLite: an FTS5 index of this manifest's assets, made for the query (a manifest holds
            # tens to hundreds of assets), ranked by bm25 (lower is better there).
            connection = session.connection()
            connection.execute(
                text("CREATE VIRTUAL TABLE IF NOT EXISTS temp.asset_words USING fts5(id UNINDEXED, body)")
            )
            connection.execute(text("DELETE FROM temp.asset_words"))
            for asset in view.assets:
                tag = asset.tag or ""
                texts = [asset.name, tag, tag.replace("_", " "), *asset.user_tags]
                body = " ".join([*texts, asset.reverse_prompt or "", asset.visual_description or ""])
                connection.execute(
                    text("INSERT INTO temp.asset_words (id, body) VALUES (:id, :body)"),
                    {"id": asset.id.hex, "body": body},
                )
            match = " AND ".join(f'"{w}"' for w in words)
            rows = connection.execute(
                text(
                    "SELECT id, bm25(asset_words) FROM temp.asset_words WHERE asset_words MATCH :m ORDER BY 2 LIMIT :n"
                ),
                {"m": match, "n": limit},
            ).all()
            ranked = [(uuid.UUID(i), -float(r)) for i, r in rows]
            connection.execute(text("DROP TABLE temp.asset_words"))
    return [Hit(by_id[i], score) for i, score in ranked if i in by_id]


QUERY_OBJECTS = 5  # the most confident detections of a query photo compared besides the whole photo


def search_image(
    ctx: AppContext, manifest_ref: str, photo: Path, limit: int = 10, min_score: float | None = None
) -> list[Hit]:
    """The assets whose stored references look like the photo, best first, with their similarity.

    References are crops, so the photo is compared as a whole and through each of its most
    confident detections; an asset scores its best pair. Only assets at or above ``min_score``
    are returned: by default the embedder's own same-object threshold (scores are per model).
    """
    image = load_image(photo, max_pixels=ctx.settings.vision.max_image_pixels)
    toolkit = ctx.toolkit()
    embedder = toolkit.embedder
    cutoff = embedder.same_object_threshold if min_score is None else min_score
    detections = toolkit.detector.detect(image)
    order = np.argsort(-detections.confidence)[:QUERY_OBJECTS]
    views = [image] + [
        face_crop(image, tuple(detections.xyxy[i].tolist()), padding=rules.OBJECT_PADDING)[0] for i in order
    ]
    queries = np.asarray(embedder.embed([np.ascontiguousarray(v) for v in views]), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True) + 1e-12
    view = show_manifest(ctx, manifest_ref)
    with ctx.factory() as session:
        manifest = manifests_repo.find_manifest(session, manifest_ref)
        scores: dict[uuid.UUID, float] = {}
        for asset in manifest.assets:
            for ref in asset.references:
                if ref.image_embedding is None or ref.image_embedding_model != embedder.name:
                    continue
                vector = embedding_from_bytes(ref.image_embedding)
                similarity = float((queries @ (vector / (np.linalg.norm(vector) + 1e-12))).max())
                scores[asset.id] = max(scores.get(asset.id, -1.0), similarity)
    by_id = {a.id: a for a in view.assets}
    best = sorted(((i, s) for i, s in scores.items() if s >= cutoff), key=lambda kv: -kv[1])[:limit]
    return [Hit(by_id[i], round(s, 4)) for i, s in best if i in by_id]
