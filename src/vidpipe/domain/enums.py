"""Names shared by the engine, the database and the shells."""

from __future__ import annotations

from enum import StrEnum


class AssetType(StrEnum):
    CHARACTER = "CHARACTER"
    OBJECT = "OBJECT"
    PROP = "PROP"
    ENVIRONMENT = "ENVIRONMENT"
    VEHICLE = "VEHICLE"
    STYLE = "STYLE"


# Prefix of each type's manifest tags: CHAR_01, OBJ_01, ...
TAG_PREFIX: dict[AssetType, str] = {
    AssetType.CHARACTER: "CHAR",
    AssetType.OBJECT: "OBJ",
    AssetType.PROP: "PROP",
    AssetType.ENVIRONMENT: "ENV",
    AssetType.VEHICLE: "VEH",
    AssetType.STYLE: "STYLE",
}


class AssetSource(StrEnum):
    UPLOADED = "uploaded"  # the user's own reference photo
    EXTRACTED = "extracted"  # found by detection inside an upload
    GENERATED = "generated"  # taken from a generated clip


class ManifestStatus(StrEnum):
    DRAFT = "DRAFT"
    PROCESSING = "PROCESSING"
    READY = "READY"
    ERROR = "ERROR"


class ClipStatus(StrEnum):
    """Where a clip's (latest) analysis stands."""

    NEW = "NEW"
    ANALYZING = "ANALYZING"
    ANALYZED = "ANALYZED"
    ERROR = "ERROR"


class JobStatus(StrEnum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


# A job in one of these states may still change the registry.
ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)
