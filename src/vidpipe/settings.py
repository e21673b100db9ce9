"""All settings in one place, read from ``VIDPIPE_*`` environment variables (nested with ``__``)."""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

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
    ocr: bool = Field(True, description="The offline describer reads lettering (when rapidocr is installed)")
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

    backend: Literal["embedded", "dramatiq"] = Field(
        "embedded",
        description="embedded: a thread pool in the process (no broker); dramatiq: worker processes fed through Redis",
    )
    redis_namespace: str = Field(
        "vidpipe", min_length=1, max_length=64, description="Prefix of every Redis key the dramatiq backend uses"
    )
    manifest_queue: str = Field(
        "cpu", pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="Queue of manifest runs (cpu or gpu)"
    )
    clip_queue: str = Field(
        "cpu", pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="Queue of clip analyses (cpu or gpu)"
    )
    broker_poll_seconds: float = Field(
        0.1,
        ge=0.01,
        le=5.0,
        description="Longest wait of an idle worker between looks at its queues (the delay before a job starts)",
    )
    resend_after_seconds: float = Field(
        30.0,
        gt=0,
        description="A queued job without a message in the broker this long (Redis restarted, say) is sent again",
    )
    split_photos: int = Field(
        64,
        ge=0,
        description="dramatiq backend: a manifest with this many photos or more is split across workers (0: never)",
    )
    split_batch: int = Field(16, ge=1, le=1000, description="Photos per part of a split manifest run")
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


class StoreSettings(BaseModel):
    """Where stored files (uploads, crops, thumbnails, contact sheets, clips) live: a local folder
    (data_dir/files) or a bucket of AWS S3 or an S3-compatible server (MinIO, Cloudflare R2)."""

    backend: Literal["local", "s3"] = Field("local", description="local: data_dir/files; s3: an S3-compatible bucket")
    bucket: str | None = Field(None, description="Bucket name (backend s3)")
    prefix: str = Field("", description="Folder inside the bucket all keys go under, e.g. vidpipe/prod")
    endpoint_url: str | None = Field(None, description="e.g. http://localhost:9000 for MinIO; default: AWS S3")
    region: str | None = Field(None, description="e.g. eu-west-1 (R2: auto); default: AWS_REGION or the AWS config")
    access_key_id: str | None = Field(None, description="default: AWS_ACCESS_KEY_ID or the AWS credential chain")
    secret_access_key: SecretStr | None = Field(None, description="default: AWS_SECRET_ACCESS_KEY or the chain")
    presign: bool = Field(
        False, description="Serve files to browsers by redirecting to presigned URLs instead of through the API"
    )
    presign_seconds: int = Field(3600, ge=60, le=7 * 24 * 3600, description="How long a presigned URL works")
    max_attempts: int = Field(5, ge=1, le=20, description="Tries of one request, retries (botocore standard) included")

    @field_validator("bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        # S3's own naming rule (MinIO and R2 follow it): refusing here names the setting, not a 400 later.
        if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value):
            raise ValueError(f"bad bucket name {value!r}: expected 3 to 63 of a-z, 0-9, '.' and '-'")
        return value

    @field_validator("prefix")
    @classmethod
    def _clean_prefix(cls, value: str) -> str:
        parts = value.strip("/").split("/") if value.strip("/") else []
        if any(part in ("", ".", "..") or "\\" in part for part in parts):
            raise ValueError(f"bad prefix {value!r}: expected folder names joined by '/', like 'vidpipe/prod'")
        return "/".join(parts)

    @field_validator("endpoint_url")
    @classmethod
    def _http_endpoint(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", value):
            raise ValueError(f"bad endpoint_url {value!r}: expected http:// or https:// and a host")
        return value

    @model_validator(mode="after")
    def _complete(self) -> StoreSettings:
        if self.backend == "s3" and not self.bucket:
            raise ValueError("the s3 store backend needs a bucket (VIDPIPE_STORE__BUCKET)")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set both access_key_id and secret_access_key, or neither (to use the AWS chain)")
        return self


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
    database_pool_size: int = Field(
        5,
        ge=1,
        le=100,
        description="PostgreSQL connections each process keeps open (a worker needs about 3 per running job)",
    )
    database_max_overflow: int = Field(
        5, ge=0, le=100, description="PostgreSQL connections a process may open beyond the pool in a burst"
    )
    max_upload_bytes: int = Field(200 * 1024 * 1024, gt=0, description="Refuse uploaded files above this size")
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    vision: VisionSettings = Field(default_factory=VisionSettings)
    describe: DescribeSettings = Field(default_factory=DescribeSettings)
    jobs: JobSettings = Field(default_factory=JobSettings)
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Redis of the dramatiq job backend (VIDPIPE_REDIS_URL)"
    )
    api: ApiSettings = Field(default_factory=ApiSettings)
    cv_analysis: CVAnalysisSettings = Field(default_factory=CVAnalysisSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
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
