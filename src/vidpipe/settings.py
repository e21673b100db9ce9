"""All settings in one place, read from ``VIDPIPE_*`` environment variables (nested with ``__``)."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from platformdirs import user_cache_dir, user_data_dir
from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from vidpipe.errors import ConfigError


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


DESCRIBE_PROVIDERS = ("gemini", "openai", "offline")


class RemoteProviderSettings(BaseModel):
    """Limits shared by every remote describer; times in seconds."""

    max_in_flight: int = Field(5, ge=1, le=64, description="Requests to this provider on the wire at once")
    timeout_seconds: float = Field(60.0, gt=0, description="Limit for one request")
    max_attempts: int = Field(5, ge=1, le=20, description="Requests for one asset, retries included")


class GeminiSettings(RemoteProviderSettings):
    """Gemini through google-genai: an API key, or Vertex AI by project and location."""

    api_key: SecretStr | None = Field(None, description="Gemini API key; GEMINI_API_KEY or GOOGLE_API_KEY also work")
    vertex_project: str | None = Field(None, description="Google Cloud project: use Vertex AI instead of a key")
    vertex_location: str = Field("global", description="Vertex AI location, e.g. us-central1")
    model: str = Field("gemini-2.5-flash", min_length=1)
    base_url: str | None = Field(None, description="Another endpoint (a proxy or gateway) speaking Gemini's REST API")


class OpenAISettings(RemoteProviderSettings):
    """Any OpenAI-compatible chat-completions server with image input: OpenAI, Ollama, vLLM, llama.cpp, LM Studio."""

    base_url: str | None = Field(None, description="e.g. http://localhost:11434/v1; default: OpenAI's own")
    api_key: SecretStr | None = Field(None, description="API key; OPENAI_API_KEY also works; local servers need none")
    model: str = Field("gpt-4.1-mini", min_length=1)
    json_schema: bool = Field(True, description="Ask for the JSON-schema response format (dropped if refused)")


class DescribeSettings(BaseModel):
    """Which describers run, in which order of preference, and how remote ones retry and cache."""

    # NoDecode: the environment variable may be a plain comma list ("gemini,offline") as well as JSON.
    providers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["gemini", "openai", "offline"],
        min_length=1,
        description="Describers in order of preference; unconfigured ones are skipped, later ones are fallbacks",
    )
    cache: bool = Field(True, description="Keep remote descriptions in data_dir/describe-cache")
    force: bool = Field(False, description="Describe again even where the cache has an answer")
    backoff_initial_seconds: float = Field(1.0, ge=0, description="Wait before the first retry (doubles each time)")
    backoff_max_seconds: float = Field(30.0, ge=0, description="Longest wait between retries")
    retry_after_max_seconds: float = Field(120.0, ge=0, description="Longest wait a server's Retry-After can ask for")
    max_image_side_pixels: int = Field(1536, ge=64, description="Crops are shrunk to this longer side before sending")
    gemini: GeminiSettings = Field(default_factory=GeminiSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)

    @field_validator("providers", mode="before")
    @classmethod
    def _known_providers(cls, value: object) -> list[str]:
        if isinstance(value, str):
            text = value.strip()
            value = json.loads(text) if text.startswith("[") else [part for part in text.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise ValueError(f"providers must be a list of names, got {value!r}")
        names = [name.strip().lower() for name in value]
        if not names:
            raise ValueError("providers must name at least one describer")
        unknown = [name for name in names if name not in DESCRIBE_PROVIDERS]
        if unknown:
            raise ValueError(f"unknown describe provider(s) {unknown}: expected some of {list(DESCRIBE_PROVIDERS)}")
        return names


class JobSettings(BaseModel):
    """How background jobs run, prove they are alive, and are recovered; times in seconds."""

    workers: int = Field(2, ge=1, le=64, description="Jobs run at once by the embedded thread-pool runner")
    lease_seconds: float = Field(
        30.0, gt=0, description="A running job without a heartbeat for this long is stale and recovered"
    )
    heartbeat_seconds: float = Field(
        5.0,
        gt=0,
        description="How often a running job writes its heartbeat (default: 5, or a third of a shorter lease)",
    )
    max_attempts: int = Field(3, ge=1, le=100, description="Runs of one job, retries after a crash included")
    cancel_poll_seconds: float = Field(
        0.5, gt=0, le=5, description="How often a running job looks for a cancel request from another process"
    )
    sweep_seconds: float = Field(
        10.0, gt=0, description="How often a long-lived process recovers stale jobs and picks up queued ones"
    )

    @model_validator(mode="after")
    def _heartbeat_within_lease(self) -> JobSettings:
        # Two missed heartbeats must not yet make a live job look dead. A short lease given alone
        # brings the heartbeat down with it; one given explicitly is checked.
        if "heartbeat_seconds" not in self.model_fields_set:
            self.heartbeat_seconds = min(self.heartbeat_seconds, self.lease_seconds / 3)
        if self.heartbeat_seconds * 2 > self.lease_seconds:
            raise ValueError(
                f"heartbeat_seconds ({self.heartbeat_seconds}) must be at most half of lease_seconds "
                f"({self.lease_seconds}), or live jobs would be taken for dead ones"
            )
        return self


class ApiSettings(BaseModel):
    """The web app's HTTP surface."""

    token: SecretStr | None = Field(
        None, description="When set, every write (POST, PATCH, PUT, DELETE) needs `Authorization: Bearer TOKEN`"
    )
    # NoDecode: a plain comma list ("http://a,http://b") as well as JSON.
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser (CORS)"
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else [o.strip() for o in text.split(",") if o.strip()]
        return value


class CVAnalysisSettings(BaseModel):
    """Clip analysis: frame sampling, matching thresholds, the quality gate and enrichment.

    The defaults are the design research's. Its two similarity thresholds were set for other models
    (0.65 for CLIP ViT-B/32 image cosine, 0.6 for dlib's face *distance*), so they are used only when
    set here (environment or YAML); otherwise each model's own threshold applies (`effective_*`).
    """

    clip_similarity_threshold: float = Field(
        0.65, ge=-1.0, le=1.0, description="Image-embedding cosine for an object match (used only when set)"
    )
    motion_delta_threshold: float = Field(
        0.15, gt=0.0, le=1.0, description="Share of pixels changing by >30 grey levels that marks a motion frame"
    )
    max_frames_per_clip: int = Field(8, ge=1, le=64, description="Sampled frames per clip at most")
    quality_gate_threshold: float = Field(5.0, ge=0.0, le=10.0, description="Continuity score a clip needs to pass")
    face_match_threshold: float = Field(
        0.6, ge=-1.0, le=1.0, description="Face-embedding cosine for a character match (used only when set)"
    )
    enrich_per_asset: int = Field(2, ge=0, le=10, description="New generated references per asset per clip at most")
    enrich_min_quality: float = Field(5.0, ge=0.0, le=10.0, description="Crop quality a generated reference needs")
    max_clip_seconds: float = Field(600.0, gt=0, description="Refuse clips longer than this")
    max_clip_pixels: int = Field(3840 * 2160, gt=0, description="Refuse clips with more pixels per frame")
    frame_max_side: int = Field(1280, ge=64, le=4096, description="Longer side of a sampled frame for analysis")

    def effective_face_threshold(self, model_threshold: float) -> float:
        return self.face_match_threshold if "face_match_threshold" in self.model_fields_set else model_threshold

    def effective_image_threshold(self, model_threshold: float) -> float:
        if "clip_similarity_threshold" in self.model_fields_set:
            return self.clip_similarity_threshold
        return model_threshold


CONFIG_FILE_VARIABLE = "VIDPIPE_CONFIG_FILE"
DEFAULT_CONFIG_FILE = "vidpipe.yaml"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VIDPIPE_", env_nested_delimiter="__", extra="ignore")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment wins over an optional YAML file (VIDPIPE_CONFIG_FILE, else ./vidpipe.yaml).
        configured = os.environ.get(CONFIG_FILE_VARIABLE)
        if configured and not Path(configured).expanduser().is_file():
            raise ConfigError(f"{CONFIG_FILE_VARIABLE} names {configured!r}, which is not a file")
        yaml_file = Path(configured).expanduser() if configured else Path(DEFAULT_CONFIG_FILE)
        yaml = YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file if yaml_file.is_file() else None)
        return init_settings, env_settings, dotenv_settings, yaml, file_secret_settings

    model_dir: Path = Field(
        default_factory=lambda: Path(user_cache_dir("vidpipe")) / "models",
        description="Folder holding model weights",
    )
    model_mirror_url: str | None = Field(
        None, description="A mirror of the model files (base address), tried before the public addresses"
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
    describe: DescribeSettings = Field(default_factory=DescribeSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    cv_analysis: CVAnalysisSettings = Field(default_factory=CVAnalysisSettings)
    allow_restricted_licences: bool = Field(
        False,
        description="Allow research-only or AGPL models as defaults; naming one explicitly always works",
    )

    @field_validator("model_dir", "data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    def with_describers(self, providers: str | list[str] | None = None, *, force: bool = False) -> Settings:
        """These settings with other describe providers (validated as VIDPIPE_DESCRIBE__PROVIDERS
        is) and/or the cache bypassed; raises pydantic's ValidationError for unknown providers."""
        if providers is None and not force:
            return self
        update: dict[str, object] = {"force": self.describe.force or force}
        if providers is not None:
            update["providers"] = providers
        describe = DescribeSettings.model_validate({**self.describe.model_dump(), **update})
        return self.model_copy(update={"describe": describe})

    @property
    def resolved_database_url(self) -> str:
        """The configured URL, or an SQLite file in the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir / 'vidpipe.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
