"""What each model is, readable without loading it: files, checksums, licence, input format, thresholds."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from vidpipe.errors import ModelError


class Task(StrEnum):
    OBJECT_DETECTION = "object-detection"
    FACE_DETECTION = "face-detection"
    FACE_EMBEDDING = "face-embedding"
    IMAGE_EMBEDDING = "image-embedding"
    IMAGE_CLASSIFICATION = "image-classification"


# Licences a product may ship as a default for commercial use.
CLEAN_LICENCES = frozenset({"MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "CC0-1.0", "BSL-1.0"})


@dataclass(frozen=True)
class OutputCheck:
    """A converted model's fingerprint: its output on a fixed input, compared with a reference.

    The input is ``(integers 0..255 from numpy's default_rng(seed)) - offset) * scale`` in
    ``input_shape``; the reference is the output's largest values (flat index, value) and its L2
    norm, from the model as its authors' runtime computes it.
    """

    input_shape: tuple[int, ...]
    offset: float
    scale: float
    top_values: tuple[tuple[int, float], ...]
    l2_norm: float
    seed: int = 0
    tolerance: float = 1e-4


@dataclass(frozen=True)
class Conversion:
    """How a file is made when it is not published as is: an official source file, verified by its
    own sha256, converted locally. The converted bytes depend on the converter's version while the
    outputs do not, so the result is verified by ``check``, not by a checksum of its bytes."""

    source: ModelFile
    tool: str  # "tflite2onnx"
    check: OutputCheck


@dataclass(frozen=True)
class ModelFile:
    """One file of a model. ``sha256`` None means no published checksum is known (for a converted
    file: the checksum of one known-good conversion; others are verified by their output)."""

    name: str
    sha256: str | None
    urls: tuple[str, ...] = ()
    # A Python package that ships this file (used when the model folder lacks it).
    package: str | None = None
    package_subdir: str = ""
    conversion: Conversion | None = None


@dataclass(frozen=True)
class ModelSpec:
    name: str
    task: Task
    files: tuple[ModelFile, ...]
    licence: str
    source: str
    input_format: str
    backend: str = "onnx"  # "onnx" or "dlib"
    thresholds: dict[str, float] = field(default_factory=dict)
    notes: str = ""

    @property
    def licence_clean(self) -> bool:
        return self.licence in CLEAN_LICENCES

    def threshold(self, key: str) -> float:
        try:
            return self.thresholds[key]
        except KeyError:
            raise ModelError(f"model {self.name!r} has no default threshold {key!r}") from None


_DLIB_PKG = "face_recognition_models"
_GH = "https://github.com"
# google-coral/test_data at the commit the MobileNet files were taken from (Apache-2.0).
_CORAL = f"{_GH}/google-coral/test_data/raw/104342d2"
# Preprocessing of the two Coral MobileNets: RGB, (x - 128) / 128.
_MOBILENET_INPUT = ((1, 3, 224, 224), 128.0, 1 / 128)

SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="yolox_nano",
        task=Task.OBJECT_DETECTION,
        files=(
            ModelFile(
                "yolox_nano.onnx",
                "e8af074932d4ed7e232278e3055cefcdea3edf178874a3694ae292649fb464dd",
                (f"{_GH}/Bigisland1729/object-detection-models/raw/7f3f2fa3/yolox_nano.onnx",),
            ),
        ),
        licence="Apache-2.0",
        source="Megvii YOLOX-Nano export",
        input_format="images [1,3,416,416] BGR 0..255, letterbox top-left, pad 114; output raw grid [1,3549,85]",
        thresholds={"confidence": 0.5, "nms_iou": 0.45},
    ),
    ModelSpec(
        name="yolov8n_int8",
        task=Task.OBJECT_DETECTION,
        files=(ModelFile("yolov8n_int8.onnx", "83de8f0d2cd521e00ae2b138c340a03dece35b060b3898509bdc69afff417312"),),
        licence="AGPL-3.0",
        source="Ultralytics YOLOv8n export, dynamic int8",
        input_format="images [1,3,640,640] RGB /255, letterbox centred, pad 114; output [1,84,8400]",
        thresholds={"confidence": 0.5, "nms_iou": 0.7},
        notes="Any Ultralytics YOLOv8/11 detect export loads with the same adapter.",
    ),
    ModelSpec(
        name="scrfd_2.5g_kps",
        task=Task.FACE_DETECTION,
        files=(ModelFile("scrfd_2.5g_kps.onnx", "9c162a817c7dd32d35d1f1c6ae6445032d6e73c6c5fe61d8b5b663ba8bc86b30"),),
        licence="research-only (InsightFace)",
        source="InsightFace SCRFD-2.5G-kps (PyPI scrfd==0.3.0)",
        input_format="input.1 [1,3,640,640] RGB (x-127.5)/128, letterbox top-left, pad 0; 9 outputs",
        thresholds={"confidence": 0.5, "nms_iou": 0.4},
    ),
    ModelSpec(
        name="ultraface_rfb_320",
        task=Task.FACE_DETECTION,
        files=(
            ModelFile(
                "ultraface_rfb_320.onnx",
                "34cd7e60aeff28744c657de7a3dc64e872d506741de66987f3426f2b79f88017",
                (
                    f"{_GH}/Linzaer/Ultra-Light-Fast-Generic-Face-Detector-1MB/raw/dffdddda/"
                    "models/onnx/version-RFB-320.onnx",
                ),
            ),
        ),
        licence="MIT",
        source="Linzaer Ultra-Light-Fast-Generic-Face-Detector-1MB, RFB-320",
        input_format="input [1,3,240,320] RGB (x-127)/128 stretched; scores [1,4420,2], boxes [1,4420,4]",
        # 0.95, not the demo's 0.7: on the team's test photos 0.7 added 6 false faces over 101 portraits
        # (paintings, jacket folds) and 0.95 none, while keeping all 101 faces and 43/43 boxed VOC faces.
        thresholds={"confidence": 0.95, "nms_iou": 0.3},
    ),
    ModelSpec(
        name="mobilefacenet_arcface",
        task=Task.FACE_EMBEDDING,
        files=(
            ModelFile(
                "mobilefacenet_arcface.onnx",
                "e72a5710cce378dc46472b6b845cb90647634f2738d8c3e581735cf195b9866f",
            ),
        ),
        licence="unknown",
        source="MobileFaceNet ArcFace-style (GitHub darzhz/pixamatch)",
        input_format="input [1,3,112,112] RGB (x-127.5)/127.5, aligned to the ArcFace 5-point template",
        # Cosine similarity at or above this is the same person.
        thresholds={"same_person": 0.40},
        notes="Provenance unknown: tests of the ArcFace input format only.",
    ),
    ModelSpec(
        name="arcface_w600k_r50",
        task=Task.FACE_EMBEDDING,
        files=(ModelFile("w600k_r50.onnx", None),),
        licence="research-only (InsightFace)",
        source="InsightFace buffalo_l w600k_r50 (copy the file in from the buffalo_l pack)",
        input_format="input [N,3,112,112] RGB (x-127.5)/127.5, aligned to the ArcFace 5-point template",
        thresholds={"same_person": 0.30},
    ),
    ModelSpec(
        name="auraface_v1",
        task=Task.FACE_EMBEDDING,
        files=(
            ModelFile(
                "auraface_v1.onnx",
                None,
                ("https://huggingface.co/fal/AuraFace-v1/resolve/main/glintr100.onnx",),
            ),
        ),
        licence="Apache-2.0",
        source="fal AuraFace-v1 (ResNet100, ArcFace format)",
        input_format="input [N,3,112,112] RGB (x-127.5)/127.5, aligned to the ArcFace 5-point template",
        thresholds={"same_person": 0.30},
    ),
    ModelSpec(
        name="dlib_resnet_v1",
        task=Task.FACE_EMBEDDING,
        backend="dlib",
        files=(
            ModelFile(
                "dlib_face_recognition_resnet_model_v1.dat",
                "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
                (
                    f"{_GH}/ageitgey/face_recognition_models/raw/master/face_recognition_models/models/"
                    "dlib_face_recognition_resnet_model_v1.dat",
                ),
                package=_DLIB_PKG,
                package_subdir="models",
            ),
            ModelFile(
                "shape_predictor_5_face_landmarks.dat",
                "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
                (
                    f"{_GH}/ageitgey/face_recognition_models/raw/master/face_recognition_models/models/"
                    "shape_predictor_5_face_landmarks.dat",
                ),
                package=_DLIB_PKG,
                package_subdir="models",
            ),
        ),
        licence="CC0-1.0",
        source="dlib ResNet face descriptor + 5-point shape predictor (PyPI face-recognition-models)",
        input_format="any face box; dlib aligns a 150x150 chip from its own 5 landmarks",
        # Cosine similarity at or above this is the same person (dlib's own rule, L2 < 0.6, is cos > 0.82).
        # Chosen on the 101 labelled faces by the rule `bench faces --cross-validate` checks: the
        # highest of the thresholds with the best BCubed F1 (0.92-0.925 tie), as a merge of two people
        # goes unnoticed and a split does not; each fold leaving one source folder out chose 0.925-0.93.
        thresholds={"same_person": 0.925},
    ),
    ModelSpec(
        name="mobilenet_v1_embedding",
        task=Task.IMAGE_EMBEDDING,
        files=(
            ModelFile(
                "mobilenet_v1_embedding.onnx",
                "66e8804a2bc671cf0510736b47633ac0147d08541a58d7bb967be46a72e6cb7a",
                conversion=Conversion(
                    source=ModelFile(
                        "sources/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite",
                        "f409ef4f73fcbb9667841965623c5c8524aac33d41b9bf5f3667161fb4a76319",
                        (f"{_CORAL}/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite",),
                    ),
                    tool="tflite2onnx",
                    check=OutputCheck(
                        *_MOBILENET_INPUT,
                        top_values=(
                            (195, 5.223322),
                            (120, 5.058622),
                            (278, 5.035094),
                            (984, 4.94098),
                            (1021, 4.823338),
                            (566, 4.776281),
                            (544, 4.682167),
                            (679, 4.399825),
                        ),
                        l2_norm=27.93607,
                    ),
                ),
            ),
        ),
        licence="Apache-2.0",
        source="google-coral MobileNet v1 embedding extractor, tflite2onnx",
        input_format="input [1,3,224,224] RGB (x-128)/128; output [1,1024,1,1]",
        thresholds={"same_object": 0.80},
    ),
    ModelSpec(
        name="mobilenet_v2_imagenet",
        task=Task.IMAGE_CLASSIFICATION,
        files=(
            ModelFile(
                "mobilenet_v2_imagenet.onnx",
                "3772716665ebcfb1b1b329c8ca7bdf96bef07a9967f399c46d28bde238805675",
                conversion=Conversion(
                    source=ModelFile(
                        "sources/mobilenet_v2_1.0_224_quant.tflite",
                        "7aad0c74c5e3c06e5eb3c827e13304fdd68a83da6087d92ee169c24ff9fd4776",
                        (f"{_CORAL}/mobilenet_v2_1.0_224_quant.tflite",),
                    ),
                    tool="tflite2onnx",
                    check=OutputCheck(
                        *_MOBILENET_INPUT,
                        top_values=(
                            (880, 0.0625),
                            (886, 0.046875),
                            (972, 0.046875),
                            (845, 0.03515625),
                            (540, 0.02734375),
                            (575, 0.0234375),
                            (311, 0.01953125),
                            (645, 0.01953125),
                        ),
                        l2_norm=0.1205887,
                    ),
                ),
            ),
            ModelFile(
                "imagenet_labels.txt",
                "b8aaeb5630c62626a7d124a05c0e14230a7ffdd2136a31d0190a4fb71c1d82f1",
                (f"{_CORAL}/imagenet_labels.txt",),
            ),
        ),
        licence="Apache-2.0",
        source="google-coral MobileNet v2 ImageNet classifier, tflite2onnx",
        input_format="input [1,3,224,224] RGB (x-128)/128; softmax [1,1001], index 0 background",
        thresholds={"confidence": 0.2},
    ),
    ModelSpec(
        name="clip_vit_b32_openai",
        task=Task.IMAGE_EMBEDDING,
        files=(
            ModelFile(
                "clip_vit_b32_openai/visual.onnx",
                None,
                ("https://huggingface.co/immich-app/ViT-B-32__openai/resolve/main/visual/model.onnx",),
            ),
            ModelFile(
                "clip_vit_b32_openai/textual.onnx",
                None,
                ("https://huggingface.co/immich-app/ViT-B-32__openai/resolve/main/textual/model.onnx",),
            ),
            ModelFile(
                "clip_vit_b32_openai/tokenizer.json",
                None,
                ("https://huggingface.co/immich-app/ViT-B-32__openai/resolve/main/textual/tokenizer.json",),
            ),
        ),
        licence="MIT",
        source="OpenAI CLIP ViT-B/32 as OpenCLIP ONNX export (immich-app layout)",
        input_format="visual: [N,3,224,224] RGB, CLIP mean/std, resize shortest side + centre crop; "
        "textual: [N,77] int token ids",
        thresholds={"same_object": 0.85},
    ),
)

_BY_NAME = {s.name: s for s in SPECS}


def get_spec(name: str) -> ModelSpec:
    """The spec registered under ``name``; a clear error lists the known names."""
    try:
        return _BY_NAME[name]
    except KeyError:
        known = ", ".join(sorted(_BY_NAME))
        raise ModelError(f"unknown model {name!r}; known models: {known}") from None
