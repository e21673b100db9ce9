"""One photo of a manifesting run, analysed on its own: the only place a run holds a photo's pixels.

`analyze_photo` decodes one upload, finds its objects and faces, cuts its views (faces, objects,
people, the whole photo), embeds and scores them, stores each view's JPEG and thumbnail and a small
contact-sheet tile, and returns a `PhotoAnalysis`: plain data, no pixels. Everything after the
detection sweep (grouping, planning, describing, the write) works from these records and reads a
view's pixels back from the store by key when it needs them, so a run's memory does not grow with
its photos. Its inputs are data (`PhotoRef`, the models, the store) and its record survives a JSON
round trip (`to_json`, `from_json`), so another process could do this work and hand the records back.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from vidpipe.db.models import Upload
from vidpipe.domain.detections import FloatArray
from vidpipe.imaging.loading import load_image
from vidpipe.imaging.quality import QualityReport, assess_crop
from vidpipe.inference.face_analysis import face_crop
from vidpipe.inference.nms import merge_parts
from vidpipe.pipeline import rules
from vidpipe.pipeline.toolkit import VisionToolkit

Box = tuple[float, float, float, float]
UInt8Image = np.ndarray[Any, np.dtype[np.uint8]]

# Bumped whenever the record's fields change, so a record from an older worker is refused, not misread.
RECORD_VERSION = 1
# The longest side of a photo's contact-sheet tile: the sheet's largest cell.
TILE_SIDE = 320
CROPS_KIND = "crops"


class PhotoStore(Protocol):
    """What the analysis needs of the file store: reading the upload, writing views (any backend)."""

    def read_bytes(self, key: str) -> bytes: ...

    def put_image(self, image: np.ndarray[Any, Any], *, kind: str, fmt: str = "jpg", quality: int = 92) -> str: ...

    def thumbnail(self, image: np.ndarray[Any, Any], *, max_side: int = 256) -> str: ...


@dataclass(frozen=True)
class PhotoRef:
    """The upload to analyse, as data: no database row crosses into the analysis."""

    upload_id: uuid.UUID
    storage_key: str
    filename: str  # what an error about the file calls it

    @classmethod
    def of(cls, upload: Upload) -> PhotoRef:
        return cls(upload.id, upload.storage_key, upload.original_filename)

    def as_dict(self) -> dict[str, str]:
        """JSON-ready, for a job's params (a part of a split run names its photos so)."""
        return {"upload_id": str(self.upload_id), "storage_key": self.storage_key, "filename": self.filename}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> PhotoRef:
        return cls(uuid.UUID(data["upload_id"]), data["storage_key"], data["filename"])


@dataclass(frozen=True, eq=False)
class ViewRecord:
    """One view cut from the photo: a face, an object, a person or the whole photo.

    ``box`` is the detection in photo pixels (unpadded); the stored crop is padded and starts at
    ``origin``. ``image_key`` is None for the whole photo, whose pixels are the upload's own (stored
    as a crop only if an asset uses it). Face views also carry the face's identity embedding and
    its landmarks in photo pixels; ``landmarks`` are in crop pixels.
    """

    kind: str  # "face", "object", "person" or "photo"
    index: int  # the detection's (or face's) index in the photo; 0 for the whole photo
    box: Box
    origin: tuple[int, int]
    class_name: str | None
    confidence: float | None
    quality: QualityReport
    embedding: FloatArray  # image embedding of the padded crop
    image_key: str | None
    thumbnail_key: str
    landmarks: FloatArray | None = None
    face_landmarks: FloatArray | None = None
    face_embedding: FloatArray | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "index": self.index,
            "box": list(self.box),
            "origin": list(self.origin),
            "class_name": self.class_name,
            "confidence": self.confidence,
            "quality": {**asdict(self.quality), "reasons": list(self.quality.reasons)},
            "embedding": _vector_text(self.embedding),
            "image_key": self.image_key,
            "thumbnail_key": self.thumbnail_key,
            "landmarks": _points_list(self.landmarks),
            "face_landmarks": _points_list(self.face_landmarks),
            "face_embedding": None if self.face_embedding is None else _vector_text(self.face_embedding),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ViewRecord:
        x1, y1, x2, y2 = (float(v) for v in data["box"])
        ox, oy = (int(v) for v in data["origin"])
        quality = dict(data["quality"])
        return cls(
            kind=str(data["kind"]),
            index=int(data["index"]),
            box=(x1, y1, x2, y2),
            origin=(ox, oy),
            class_name=data["class_name"],
            confidence=None if data["confidence"] is None else float(data["confidence"]),
            quality=QualityReport(**{**quality, "reasons": tuple(quality["reasons"])}),
            embedding=_vector_array(data["embedding"]),
            image_key=data["image_key"],
            thumbnail_key=str(data["thumbnail_key"]),
            landmarks=_points_array(data["landmarks"]),
            face_landmarks=_points_array(data["face_landmarks"]),
            face_embedding=None if data["face_embedding"] is None else _vector_array(data["face_embedding"]),
        )


@dataclass(frozen=True, eq=False)
class PhotoAnalysis:
    """What one photo gave a run: its size, its views and the keys of their stored files."""

    upload_id: uuid.UUID
    width: int
    height: int
    tile_key: str  # the photo fitted into TILE_SIDE, for the contact sheet
    objects: tuple[ViewRecord, ...]  # objects and people, in detection order
    faces: tuple[ViewRecord, ...]
    photo: ViewRecord

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": RECORD_VERSION,
                "upload_id": str(self.upload_id),
                "width": self.width,
                "height": self.height,
                "tile_key": self.tile_key,
                "objects": [v.as_dict() for v in self.objects],
                "faces": [v.as_dict() for v in self.faces],
                "photo": self.photo.as_dict(),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> PhotoAnalysis:
        data = json.loads(text)
        if data.get("version") != RECORD_VERSION:
            raise ValueError(f"photo analysis record version {data.get('version')!r}, expected {RECORD_VERSION}")
        return cls(
            upload_id=uuid.UUID(data["upload_id"]),
            width=int(data["width"]),
            height=int(data["height"]),
            tile_key=str(data["tile_key"]),
            objects=tuple(ViewRecord.from_dict(v) for v in data["objects"]),
            faces=tuple(ViewRecord.from_dict(v) for v in data["faces"]),
            photo=ViewRecord.from_dict(data["photo"]),
        )


def analyze_photo(photo: PhotoRef, toolkit: VisionToolkit, store: PhotoStore) -> PhotoAnalysis:
    """Decode, detect, analyse faces, cut, embed, score and store one photo's views; see the module.

    The photo's pixels and its crops are dropped when this returns: nothing returned refers to them.
    """
    image = load_image(store.read_bytes(photo.storage_key), name=photo.filename)
    h, w = image.shape[:2]
    objects = merge_parts(toolkit.detector.detect(image), rules.SAME_OBJECT_PARTS_IOS)
    face_boxes = toolkit.faces.detect(image, objects)
    faces = toolkit.faces.analyze(image, str(photo.upload_id), faces=face_boxes)

    # Crops in the order the embedder sees them; each one's pixels live only until this returns.
    face_crops = [face_crop(image, f.box, padding=view_padding("face")) for f in faces]
    boxes = [_box(objects.xyxy[i]) for i in range(len(objects))]
    object_crops = [face_crop(image, box, padding=view_padding("object")) for box in boxes]
    crops = [np.ascontiguousarray(c) for c, _ in (*face_crops, *object_crops)]
    # One photo's crops per call: the embedder never holds more than one photo's worth of pixels.
    vectors = toolkit.embedder.embed([*crops, image])

    face_views = []
    for n, (face, (_, origin)) in enumerate(zip(faces, face_crops, strict=True)):
        offset = np.asarray(origin, np.float32)
        face_views.append(
            ViewRecord(
                kind="face",
                index=face.index,
                box=face.box,
                origin=origin,
                class_name="face",
                confidence=face.confidence,
                quality=face.quality,  # scored on the unpadded face, with its pose
                embedding=vectors[n],
                image_key=store.put_image(crops[n], kind=CROPS_KIND, fmt="jpg"),
                thumbnail_key=store.thumbnail(crops[n]),
                landmarks=None if face.landmarks is None else face.landmarks - offset,
                face_landmarks=face.landmarks,
                face_embedding=face.embedding,
            )
        )
    object_views = []
    for i, (box, (_, origin)) in enumerate(zip(boxes, object_crops, strict=True)):
        crop = crops[len(faces) + i]
        name = objects.names[i]
        object_views.append(
            ViewRecord(
                kind="person" if name == "person" else "object",
                index=i,
                box=box,
                origin=origin,
                class_name=name,
                confidence=float(objects.confidence[i]),
                quality=assess_crop(crop, is_face=False),
                embedding=vectors[len(faces) + i],
                image_key=store.put_image(crop, kind=CROPS_KIND, fmt="jpg"),
                thumbnail_key=store.thumbnail(crop),
            )
        )
    whole = ViewRecord(
        kind="photo",
        index=0,
        box=(0.0, 0.0, float(w), float(h)),
        origin=(0, 0),
        class_name=None,
        confidence=None,
        quality=assess_crop(image, is_face=False),
        embedding=vectors[-1],
        image_key=None,
        thumbnail_key=store.thumbnail(image),
    )
    return PhotoAnalysis(
        upload_id=photo.upload_id,
        width=w,
        height=h,
        tile_key=store.thumbnail(image, max_side=TILE_SIDE),
        objects=tuple(object_views),
        faces=tuple(face_views),
        photo=whole,
    )


def view_padding(kind: str) -> float:
    """The padding a view of ``kind`` is cut with, as a share of its box on each side."""
    return rules.FACE_PADDING if kind == "face" else rules.OBJECT_PADDING


def cut_view(image: UInt8Image, kind: str, box: Box) -> UInt8Image:
    """A view's padded crop cut from its decoded photo, as the analysis cut it (the whole photo as it is)."""
    if kind == "photo":
        return image
    crop, _ = face_crop(image, box, padding=view_padding(kind))
    return np.ascontiguousarray(crop)


def _box(row: np.ndarray[Any, Any]) -> Box:
    x1, y1, x2, y2 = (float(v) for v in row)
    return (x1, y1, x2, y2)


# Vectors travel as base64 of little-endian float32: exact, and a third of the size of a list of numbers.
def _vector_text(vector: np.ndarray[Any, Any]) -> str:
    return base64.b64encode(np.asarray(vector, "<f4").tobytes()).decode("ascii")


def _vector_array(text: str) -> FloatArray:
    return np.frombuffer(base64.b64decode(text), "<f4").astype(np.float32)


# Landmarks are a handful of points: plain lists, readable in a record (float32 → float is exact).
def _points_list(points: np.ndarray[Any, Any] | None) -> list[list[float]] | None:
    return None if points is None else [[float(v) for v in row] for row in np.asarray(points, np.float32)]


def _points_array(points: list[list[float]] | None) -> FloatArray | None:
    return None if points is None else np.asarray(points, np.float32).reshape(-1, 2)
