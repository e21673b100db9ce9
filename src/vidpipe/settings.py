"""All settings in one place, read from ``VIDPIPE_*`` environment variables (nested with ``__``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class RuntimeSettings(BaseModel):
    """How onnxruntime sessions run."""

    use_cuda: bool = Field(True, description="Use the CUDA provider when onnxruntime offers it")
    intra_op_threads: int = Field(0, ge=0, description="Threads inside one operator; 0 lets onnxruntime pick")
    inter_op_threads: int = Field(0, ge=0, description="Threads across operators; 0 lets onnxruntime pick")


class VisionSettings(BaseModel):
    """Which models the vision core uses by default, and their thresholds."""

    object_detector: str = "yolox_nano"
    face_detector: str = "ultraface_rfb_320"
    face_embedder: str = "dlib_resnet_v1"
    image_embedder: str = "mobilenet_v1_embedding"
    # None means: the model's own default from its spec.
    object_confidence: float | None = Field(None, gt=0.0, le=1.0)
    face_confidence: float | None = Field(None, gt=0.0, le=1.0)
    max_image_pixels: int = Field(
        100_000_000, gt=0, description="Refuse images above this many pixels (decompression bombs)"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDPIPE_", env_nested_delimiter="__", extra="ignore")

    model_dir: Path = Field(
        default_factory=lambda: Path(user_cache_dir("vidpipe")) / "models",
        description="Folder holding model weights",
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(user_data_dir("vidpipe")),
        description="Folder for the embedded database and stored files (originals, crops, sheets)",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; default: SQLite in data_dir"
    )
    max_upload_bytes: int = Field(200 * 1024 * 1024, gt=0, description="Refuse uploaded files above this size")
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    vision: VisionSettings = Field(default_factory=VisionSettings)
    allow_restricted_licences: bool = Field(
        False,
        description="Allow research-only or AGPL models as defaults; naming one explicitly always works",
    )

    @field_validator("model_dir", "data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or an SQLite file in the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir / 'vidpipe.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
