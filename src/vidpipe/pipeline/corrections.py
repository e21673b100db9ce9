"""A user's corrections to a processed registry: merge, split, rename and user tags.

Each correction changes the registry at once and is made to survive every later run:
- merge: a "same" decision between the kept asset's view and each merged asset's view (assets of
  different types only with ``force``);
- split: a "different" decision between every view moved out and every view that stays; a name
  given to the new asset is the user's and kept like a rename (`planning.user_name`);
- rename: an uploaded asset is named after its upload, so both change; an extracted asset keeps a
  name that differs from its describer's suggestion;
- user tags: a run never touches them;
- primary view: one of the asset's references chosen as its primary; a view cut from a photo is
  recorded (`ChosenPrimary`) and a run puts it first again.
Decisions name views by upload and box (`AssetDecision`); the run finds them again among its crops
(`planning.resolve_decisions`). A newer decision about the same two views replaces an older one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from vidpipe.db.models import (
    Asset,
    AssetDecision,
    AssetReference,
    ChosenPrimary,
    DismissedView,
    Manifest,
    Upload,
)
from vidpipe.db.repositories.assets import find_asset
from vidpipe.describe.describer import Describer, DescribeRequest, Description
from vidpipe.domain.enums import AssetSource, ManifestStatus
from vidpipe.errors import ConflictError, NeedsForceError, NotFoundError, VidpipeError
from vidpipe.imaging.loading import load_image
from vidpipe.pipeline import rules
from vidpipe.pipeline.descriptions import store_description
from vidpipe.pipeline.planning import SAME_VIEW_IOU, USER_PROVIDER, bbox_iou
from vidpipe.pipeline.uploads import clean_name
from vidpipe.storage import Store

MAX_USER_TAG_CHARS = 40

View = tuple[uuid.UUID, list[float]]  # (upload id, box in its pixels)


@dataclass(frozen=True)
class MergeResult:
    kept: str  # manifest tag of the asset that stayed
    merged: tuple[str, ...]
    references_moved: int
    unrecorded: tuple[str, ...]  # merged assets with no view of an upload: a re-run cannot honour them


@dataclass(frozen=True)
class DeleteResult:
    tag: str
    name: str
    views_dismissed: int  # views later runs will not make an asset of again


@dataclass(frozen=True)
class SplitResult:
    source: str
    new_tag: str
    new_asset_id: uuid.UUID
    references_moved: int
    describe_error: str | None


def _editable(session: Session, manifest_id: uuid.UUID) -> Manifest:
    manifest = session.get(Manifest, manifest_id)
    if manifest is None:
        raise VidpipeError(f"no manifest with id {manifest_id}")
    if manifest.status is ManifestStatus.PROCESSING:
        raise VidpipeError(f"manifest {manifest_id} is being processed; correct it when the run has finished")
    if manifest.status is ManifestStatus.DRAFT:
        raise VidpipeError(f"manifest {manifest_id} has not been processed yet, so it has no assets to correct")
    return manifest


def _view(ref: AssetReference) -> View | None:
    return (ref.upload_id, list(ref.bbox)) if ref.upload_id is not None and ref.bbox else None


def _views(asset: Asset) -> list[View]:
    ordered = sorted(asset.references, key=lambda r: r.id != asset.primary_reference_id)
    return [v for v in (_view(r) for r in ordered) if v is not None]


def _same_view(a: View, b: View) -> bool:
    return a[0] == b[0] and bbox_iou(a[1], b[1]) >= SAME_VIEW_IOU


def _row_views(row: AssetDecision) -> tuple[View, View]:
    return (row.upload_a_id, list(row.bbox_a)), (row.upload_b_id, list(row.bbox_b))


def _record(session: Session, manifest_id: uuid.UUID, same: bool, pairs: Sequence[tuple[View, View]]) -> None:
    """Record decisions, first dropping any earlier decision about the same two views."""
    existing = list(session.scalars(select(AssetDecision).where(AssetDecision.manifest_id == manifest_id)))
    for a, b in pairs:
        for row in existing:
            ra, rb = _row_views(row)
            if (_same_view(ra, a) and _same_view(rb, b)) or (_same_view(ra, b) and _same_view(rb, a)):
                session.delete(row)
        session.add(
            AssetDecision(
                manifest_id=manifest_id, same=same, upload_a_id=a[0], bbox_a=a[1], upload_b_id=b[0], bbox_b=b[1]
            )
        )
    session.flush()


def merge_assets(
    factory: sessionmaker[Session],
    manifest_id: uuid.UUID,
    keep_tag: str,
    merge_tags: Sequence[str],
    *,
    force: bool = False,
) -> MergeResult:
    """Fold the assets tagged ``merge_tags`` into the one tagged ``keep_tag``.

    The kept asset keeps its tag, name, type and description and gains every reference of the
    others, which are removed. Assets of another type than the kept one are refused unless
    ``force``: a character and a prop are rarely the same thing, and a mistyped tag would fold
    them for good. One transaction: an unknown tag or a refusal changes nothing.
    """
    if not merge_tags:
        raise VidpipeError("merge needs at least one asset to fold into the kept one")
    with factory() as session, session.begin():
        _editable(session, manifest_id)
        keep = find_asset(session, manifest_id, keep_tag)
        others: list[Asset] = []
        for tag in merge_tags:
            other = find_asset(session, manifest_id, tag)
            if other.id == keep.id:
                raise VidpipeError(f"cannot merge {keep.manifest_tag} into itself")
            if any(o.id == other.id for o in others):
                raise VidpipeError(f"{other.manifest_tag} is named twice")
            others.append(other)
        mismatched = [o for o in others if o.asset_type is not keep.asset_type]
        if mismatched and not force:
            listed = ", ".join(f"{o.manifest_tag} ({o.name!r}, {o.asset_type.value})" for o in mismatched)
            raise NeedsForceError(
                f"{keep.manifest_tag} ({keep.name!r}) is a {keep.asset_type.value} but {listed} "
                f"{'is' if len(mismatched) == 1 else 'are'} not; merging assets of different types "
                "is refused unless forced"
            )
        keep_views = _views(keep)
        moved, unrecorded = 0, []
        for other in others:
            other_views = _views(other)
            if keep_views and other_views:
                _record(session, manifest_id, True, [(keep_views[0], other_views[0])])
                # Earlier "different" decisions between the two would undo this merge on the next run.
                _record_forget(session, manifest_id, keep_views, other_views)
            else:
                unrecorded.append(other.manifest_tag or str(other.id))
            other.primary_reference = None
            session.flush()
            for ref in list(other.references):
                ref.asset = keep  # re-parenting, not removal: delete-orphan must not fire
                moved += 1
            keep.user_tags = sorted({*keep.user_tags, *other.user_tags})
            session.flush()
            session.delete(other)
        for order, ref in enumerate(keep.references):
            ref.sort_order = order
        manifest = session.get(Manifest, manifest_id)
        assert manifest is not None
        manifest.asset_count = len(manifest.assets)
        return MergeResult(
            kept=keep.manifest_tag or "",
            merged=tuple(o.manifest_tag or "" for o in others),
            references_moved=moved,
            unrecorded=tuple(unrecorded),
        )


def _record_forget(session: Session, manifest_id: uuid.UUID, a_views: list[View], b_views: list[View]) -> None:
    for row in list(session.scalars(select(AssetDecision).where(AssetDecision.manifest_id == manifest_id))):
        if row.same:
            continue
        ra, rb = _row_views(row)
        in_a = [any(_same_view(r, v) for v in a_views) for r in (ra, rb)]
        in_b = [any(_same_view(r, v) for v in b_views) for r in (ra, rb)]
        if (in_a[0] and in_b[1]) or (in_a[1] and in_b[0]):
            session.delete(row)
    session.flush()


def split_asset(
    factory: sessionmaker[Session],
    store: Store,
    describer: Describer,
    manifest_id: uuid.UUID,
    tag: str,
    positions: Sequence[int],
    name: str | None = None,
) -> SplitResult:
    """Move the references at ``positions`` (1-based, as `manifest show --references` lists them)
    out of the asset tagged ``tag`` into a new asset of the same type, described afresh.

    Named ``name`` if given, which every later run keeps; else by the describer's suggestion (and
    then renamed by later runs as their suggestion changes). At least one reference must stay.
    """
    with factory() as session:
        _editable(session, manifest_id)
        asset = find_asset(session, manifest_id, tag)
        refs = list(asset.references)
        wanted = sorted(set(positions))
        if not wanted:
            raise VidpipeError("split needs the positions of the references to move (1 is the first)")
        bad = [p for p in wanted if not 1 <= p <= len(refs)]
        if bad:
            raise VidpipeError(
                f"{asset.manifest_tag} has references 1 to {len(refs)}; there is no reference {bad[0]} to split off"
            )
        if len(wanted) == len(refs):
            raise VidpipeError(f"split would move every reference of {asset.manifest_tag}; at least one must stay")
        moved_ids = [refs[p - 1].id for p in wanted]
        first = refs[wanted[0] - 1]
        asset_type, asset_id, old_tag = asset.asset_type, asset.id, asset.manifest_tag or tag
        detection_class = None if first.face_embedding is not None else asset.detection_class
        is_face = first.face_embedding is not None
        size = _source_size(session, first)
    # Describe outside any transaction: a remote describer may take seconds.
    crop = load_image(store.read_bytes(first.image_key), name=f"reference {wanted[0]} of {old_tag}")
    description: Description | None = None
    error: str | None = None
    try:
        description = describer.describe(
            DescribeRequest(
                image=crop,
                asset_type=asset_type,
                # Never the user's name, as in a run: describers echo a given name as their
                # suggestion, and a name equal to the suggestion is the run's to replace
                # (`planning.user_name`).
                name="",
                detection_class=detection_class,
                is_face=is_face,
                source_size=size,
            )
        )
    except Exception as exc:  # a failed description leaves the split itself intact, as in a run
        error = f"{describer.name} describer failed: {exc}"
    with factory() as session, session.begin():
        _editable(session, manifest_id)
        current = session.get(Asset, asset_id, options=[selectinload(Asset.references)])
        if current is None:
            raise VidpipeError(f"asset {old_tag} was removed while it was being split")
        asset = current
        moving = [r for r in asset.references if r.id in set(moved_ids)]
        staying = [r for r in asset.references if r.id not in set(moved_ids)]
        if len(moving) != len(moved_ids) or not staying:
            raise VidpipeError(f"the references of {old_tag} changed while it was being split; try again")
        existing = list(
            session.execute(
                select(Asset.asset_type, Asset.manifest_tag, Asset.sort_order).where(Asset.manifest_id == manifest_id)
            )
        )
        new_tag = rules.assign_tags([*((t, tag) for t, tag, _ in existing), (asset_type, None)])[-1]
        last_order = max((order for _, _, order in existing), default=0)
        fallback = f"{asset.name} (split)"
        new = Asset(
            manifest_id=manifest_id,
            asset_type=asset_type,
            name=clean_name(name, fallback) if name else (description.suggested_name if description else fallback),
            manifest_tag=new_tag,
            user_tags=[],
            source=AssetSource.EXTRACTED,
            sort_order=last_order + 1,
            detection_class=detection_class,
            is_face_crop=is_face,
        )
        store_description(new, description, error)
        session.add(new)
        pairs = [(m, s) for m in (_view(r) for r in moving) if m for s in (_view(r) for r in staying) if s]
        _record(session, manifest_id, False, pairs)
        if asset.primary_reference_id in set(moved_ids):
            asset.primary_reference = staying[0]
        session.flush()
        for ref in moving:
            ref.asset = new  # re-parenting, not removal: delete-orphan must not fire
        for order, ref in enumerate(staying):
            ref.sort_order = order
        for order, ref in enumerate(sorted(moving, key=lambda r: r.id != first.id)):
            ref.sort_order = order
        session.flush()
        new.primary_reference = next(r for r in moving if r.id == first.id)
        if description is None:
            new.quality_score = first.quality_score
        manifest = session.get(Manifest, manifest_id)
        assert manifest is not None
        manifest.asset_count = len(manifest.assets)
        return SplitResult(old_tag, new_tag, new.id, len(moving), error)


def _source_size(session: Session, ref: AssetReference) -> tuple[int, int] | None:
    upload = session.get(Upload, ref.upload_id) if ref.upload_id is not None else None
    return (upload.width, upload.height) if upload is not None else None


def rename_asset(factory: sessionmaker[Session], manifest_id: uuid.UUID, tag: str, name: str) -> Asset:
    """Give an asset the user's name; it survives re-runs (see the module's docstring)."""
    new_name = clean_name(name, "")
    if not new_name:
        raise VidpipeError(f"a new name for {tag} must have at least one printable character, got {name!r}")
    with factory() as session, session.begin():
        _editable(session, manifest_id)
        asset = find_asset(session, manifest_id, tag)
        old_name, asset.name = asset.name, new_name
        if asset.source is AssetSource.UPLOADED and asset.upload_id is not None:
            upload = session.get(Upload, asset.upload_id)
            if upload is not None:
                upload.name = new_name
            # An uploaded asset is described under its name, so its words carry the old one.
            asset.reverse_prompt = renamed_in(asset.reverse_prompt, old_name, new_name)
            asset.visual_description = renamed_in(asset.visual_description, old_name, new_name)
            asset.description = renamed_in(asset.description, old_name, new_name)
        session.flush()
        session.expunge(asset)
        return asset


def renamed_in(text: str | None, old: str, new: str) -> str | None:
    """``text`` with every whole-word ``old`` (any case) replaced by ``new``."""
    if not text or not old.strip() or old == new:
        return text
    return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", lambda _: new, text, flags=re.IGNORECASE)


def edit_user_tags(
    factory: sessionmaker[Session],
    manifest_id: uuid.UUID,
    tag: str,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> list[str]:
    """Add and remove an asset's free-form user tags; returns them, sorted."""
    cleaned = [clean_name(t, "") for t in add]
    for raw, text in zip(add, cleaned, strict=True):
        if not text or len(text) > MAX_USER_TAG_CHARS:
            raise VidpipeError(f"a user tag must be 1 to {MAX_USER_TAG_CHARS} printable characters, got {raw!r}")
    with factory() as session, session.begin():
        _editable(session, manifest_id)
        asset = find_asset(session, manifest_id, tag)
        missing = [t for t in remove if t not in asset.user_tags]
        if missing:
            raise VidpipeError(
                f"{asset.manifest_tag} has no user tag {missing[0]!r}; it has {asset.user_tags or 'none'}"
            )
        asset.user_tags = sorted((set(asset.user_tags) | set(cleaned)) - set(remove))
        return list(asset.user_tags)


def delete_asset(factory: sessionmaker[Session], manifest_id: uuid.UUID, tag: str) -> DeleteResult:
    """Remove an extracted asset, and keep its views out of later runs (they would find it again).

    An uploaded photo's own asset is refused: every run makes it again from its photo.
    """
    with factory() as session, session.begin():
        manifest = _editable(session, manifest_id)
        asset = find_asset(session, manifest_id, tag)
        if asset.source is AssetSource.UPLOADED:
            raise ConflictError(
                f"{asset.manifest_tag} ({asset.name!r}) is the asset of an uploaded photo, which every run makes "
                "again; only assets extracted from photos can be deleted"
            )
        views = _views(asset)
        for upload_id, box in views:
            session.add(DismissedView(manifest_id=manifest_id, upload_id=upload_id, bbox=box))
        result = DeleteResult(asset.manifest_tag or str(asset.id), asset.name, len(views))
        asset.primary_reference = None
        session.flush()
        session.delete(asset)
        session.flush()
        manifest.asset_count = len([a for a in manifest.assets if a.id != asset.id])
        return result


def choose_primary(factory: sessionmaker[Session], manifest_id: uuid.UUID, tag: str, reference_id: uuid.UUID) -> str:
    """Make one of the asset's own references its primary, in place (no copy), and keep it so.

    A reference cut from a photo is rebuilt by every run, so the choice is recorded by its view and
    replaces any earlier choice among this asset's views; one the user gave is kept by runs anyway.
    Returns the asset's tag; describing it again from the new primary is the caller's next step.
    """
    with factory() as session, session.begin():
        _editable(session, manifest_id)
        asset = find_asset(session, manifest_id, tag)
        chosen = next((r for r in asset.references if r.id == reference_id), None)
        if chosen is None:
            raise NotFoundError(f"{asset.manifest_tag} has no reference {reference_id}")
        own_views = _views(asset)
        earlier = session.scalars(select(ChosenPrimary).where(ChosenPrimary.manifest_id == manifest_id))
        for row in earlier:
            if any(u == row.upload_id and bbox_iou(row.bbox, box) >= SAME_VIEW_IOU for u, box in own_views):
                session.delete(row)
        view = _view(chosen)
        if view is not None:
            session.add(ChosenPrimary(manifest_id=manifest_id, upload_id=view[0], bbox=view[1]))
        ordered = [chosen, *sorted((r for r in asset.references if r is not chosen), key=lambda r: r.sort_order)]
        for order, ref in enumerate(ordered):
            ref.sort_order = order
        asset.primary_reference = chosen
        return asset.manifest_tag or str(asset.id)


def remove_reference(factory: sessionmaker[Session], manifest_id: uuid.UUID, tag: str, reference_id: uuid.UUID) -> str:
    """Remove a reference a clip gave (generated) or the user gave; a photo's own views are rebuilt
    by every run, so they are refused (split or delete the asset instead). Returns the asset's tag."""
    with factory() as session, session.begin():
        _editable(session, manifest_id)
        asset = find_asset(session, manifest_id, tag)
        ref = next((r for r in asset.references if r.id == reference_id), None)
        if ref is None:
            raise NotFoundError(f"{asset.manifest_tag} has no reference {reference_id}")
        if ref.origin == "upload":
            raise ConflictError(
                f"reference {reference_id} of {asset.manifest_tag} is cut from the photo {ref.upload_id}; every run "
                "makes it again, so split it off or delete the asset instead"
            )
        if len(asset.references) == 1:
            raise ConflictError(f"{asset.manifest_tag} has no other reference; it would be left with none")
        if asset.primary_reference_id == ref.id:
            asset.primary_reference = next(r for r in asset.references if r.id != ref.id)
            session.flush()
        asset.references.remove(ref)
        session.delete(ref)
        return asset.manifest_tag or str(asset.id)


def edit_asset_text(
    factory: sessionmaker[Session],
    manifest_id: uuid.UUID,
    tag: str,
    *,
    reverse_prompt: str | None = None,
    visual_description: str | None = None,
) -> Asset:
    """The user's own recreation prompt and/or description: marked as theirs, so that later runs
    keep the words and do not describe the asset again (until `redescribe_asset`)."""
    with factory() as session, session.begin():
        _editable(session, manifest_id)
        asset = find_asset(session, manifest_id, tag)
        if reverse_prompt is not None:
            asset.reverse_prompt = reverse_prompt.strip() or None
        if visual_description is not None:
            asset.visual_description = visual_description.strip() or None
            asset.description = asset.visual_description
        asset.describe_provider = USER_PROVIDER
        asset.describe_model = None
        asset.describe_prompt_version = None
        asset.describe_input_tokens = None
        asset.describe_output_tokens = None
        asset.describe_error = None
        session.flush()
        session.expunge(asset)
        return asset


def redescribe_asset(
    factory: sessionmaker[Session], store: Store, describer: Describer, manifest_id: uuid.UUID, tag: str
) -> Asset:
    """Describe the asset again from its primary reference (replacing words the user wrote too)."""
    with factory() as session:
        _editable(session, manifest_id)
        asset = find_asset(session, manifest_id, tag)
        primary = next((r for r in asset.references if r.id == asset.primary_reference_id), None)
        if primary is None:
            raise VidpipeError(f"{asset.manifest_tag} has no primary reference to describe")
        request_name = asset.name if asset.source is AssetSource.UPLOADED else ""
        asset_type, asset_id, image_key = asset.asset_type, asset.id, primary.image_key
        is_face, detection_class, size = (
            primary.face_embedding is not None,
            asset.detection_class,
            _source_size(session, primary),
        )
    crop = load_image(store.read_bytes(image_key), name=f"primary reference of {tag}")
    # Outside any transaction: a remote describer may take seconds. Its failure is the caller's.
    description = describer.describe(
        DescribeRequest(
            image=crop,
            asset_type=asset_type,
            name=request_name,
            detection_class=detection_class,
            is_face=is_face,
            source_size=size,
        )
    )
    with factory() as session, session.begin():
        row = session.get(Asset, asset_id)
        if row is None:
            raise VidpipeError(f"asset {tag} was removed while it was being described")
        store_description(row, description)
        session.flush()
        session.expunge(row)
        return row
