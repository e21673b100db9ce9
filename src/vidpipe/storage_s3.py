"""The S3 backend of the file store: a bucket (and an optional prefix) on AWS S3 or an S3-compatible
server such as MinIO or Cloudflare R2, reached through boto3.

Keys are those of the local store (`vidpipe.storage`), under the prefix. A key names its bytes, so an
object is written once and never overwritten: a write first asks whether the object is there
(``HeadObject``), and puts with ``If-None-Match: *`` where the server supports it, so that of two
writers racing for one key only the first writes; the other's 412 means "already there".
Retries are botocore's own (standard mode); every other failure becomes a `StoreUnavailableError`
naming the key and the bucket, and a missing object a `MissingKeyError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from vidpipe.fileio import temporary_file
from vidpipe.storage import (
    CHUNK_BYTES,
    Store,
    StoreUnavailableError,
    check_key,
    check_kind,
    check_suffix,
    copy_hashing,
    key_of,
    media_type,
    missing_key,
    open_source,
    sha_of,
    suffix_of,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from vidpipe.settings import StoreSettings

# Files above this go up in parts of this size (s3transfer's default); smaller ones in one conditional PUT.
MULTIPART_BYTES = 8 * 1024 * 1024
# Tries of one conditional PUT that meets another writer's PUT of the same key in flight (409).
_CONFLICT_TRIES = 3
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}


class S3Store(Store):
    """Content-addressed objects in one bucket, under an optional prefix."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        prefix: str = "",
        multipart_bytes: int = MULTIPART_BYTES,
        spool_dir: Path | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.multipart_bytes = multipart_bytes
        # Where put_file spools a copy while hashing it (the key is known only at its end); None: the
        # system's temporary folder (TMPDIR).
        self.spool_dir = spool_dir
        # Cleared on the first server that answers If-None-Match with 501 (it cannot write conditionally).
        self.conditional_writes = True

    @classmethod
    def from_settings(cls, config: StoreSettings) -> S3Store:
        if config.bucket is None:
            raise StoreUnavailableError("the s3 store backend needs a bucket (VIDPIPE_STORE__BUCKET)")
        return cls(make_client(config), config.bucket, prefix=config.prefix)

    def __repr__(self) -> str:
        return f"S3Store({self.location!r})"

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def object_name(self, key: str) -> str:
        """The object's name in the bucket: the checked key under the prefix."""
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    # Writing

    def put_bytes(self, data: bytes, *, kind: str, suffix: str) -> str:
        check_kind(kind)
        key = key_of(kind, hashlib.sha256(data).hexdigest(), check_suffix(suffix))
        if not self.exists(key):
            self._put_new(key, data)
        return key

    def put_file(self, path: Path, *, kind: str) -> tuple[str, str, int]:
        check_kind(kind)
        suffix = suffix_of(path)
        spool_dir = self.spool_dir or Path(tempfile.gettempdir())
        # One pass over the source: copied to a local spool file while it is hashed, so a big video is
        # never held in memory and what goes up is exactly what was hashed, even if the source changes.
        with open_source(path) as source, temporary_file(spool_dir) as (spool, spool_path):
            sha, size = copy_hashing(source, spool)
            spool.flush()
            key = key_of(kind, sha, suffix)
            if not self.exists(key):
                if size <= self.multipart_bytes:
                    with open(spool_path, "rb") as body:  # the spool itself is open for writing only
                        self._put_new(key, body)
                else:
                    self._upload_parts(key, spool_path)
        return key, sha, size

    def _put_new(self, key: str, body: bytes | IO[bytes]) -> None:
        name = self.object_name(key)
        for attempt in range(_CONFLICT_TRIES):
            if not isinstance(body, bytes):
                body.seek(0)
            conditional = self.conditional_writes
            extra: dict[str, Any] = {"IfNoneMatch": "*"} if conditional else {}
            try:
                self.client.put_object(Bucket=self.bucket, Key=name, Body=body, ContentType=media_type(key), **extra)
                return
            except ClientError as exc:
                code = _code(exc)
                if code == "PreconditionFailed":
                    return  # another writer stored it first: the same bytes, as the key names them
                if code == "NotImplemented" and conditional:
                    self.conditional_writes = False  # the HeadObject before the put is the only guard left
                    continue
                if code == "ConditionalRequestConflict" and attempt + 1 < _CONFLICT_TRIES:
                    # Another writer's PUT of this key is in flight; it has landed, or this one tries again.
                    if self.exists(key):
                        return
                    continue
                raise self._failure("write", key, exc) from None
            except BotoCoreError as exc:
                raise self._failure("write", key, exc) from None

    def _upload_parts(self, key: str, path: Path) -> None:
        # Multipart through s3transfer (parts in parallel, each read from the file, each retried). It passes
        # no If-None-Match, so the HeadObject before it is the guard; a racing writer could only put the
        # same bytes again.
        config = TransferConfig(multipart_threshold=self.multipart_bytes, multipart_chunksize=self.multipart_bytes)
        with self._errors("write", key):
            self.client.upload_file(
                str(path), self.bucket, self.object_name(key), ExtraArgs={"ContentType": media_type(key)}, Config=config
            )

    # Reading

    def exists(self, key: str) -> bool:
        name = self.object_name(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=name)
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                return False
            raise self._failure("look up", key, exc) from None
        except BotoCoreError as exc:
            raise self._failure("look up", key, exc) from None
        return True

    def size(self, key: str) -> int:
        name = self.object_name(key)
        with self._errors("look up", key):
            return self.client.head_object(Bucket=self.bucket, Key=name)["ContentLength"]

    def read_bytes(self, key: str) -> bytes:
        name = self.object_name(key)
        with self._errors("read", key):
            body = self.client.get_object(Bucket=self.bucket, Key=name)["Body"]
            with contextlib.closing(body):
                return body.read()

    def iter_bytes(self, key: str, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        name = self.object_name(key)
        if end is not None and end <= start:
            return iter(())
        extra: dict[str, Any] = {}
        if start or end is not None:
            extra["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        # Asked for now, not at the first chunk, so a missing object fails before a response starts.
        with self._errors("read", key):
            body = self.client.get_object(Bucket=self.bucket, Key=name, **extra)["Body"]
        return self._chunks(key, body)

    def _chunks(self, key: str, body: Any) -> Iterator[bytes]:
        with contextlib.closing(body), self._errors("read", key):
            yield from body.iter_chunks(CHUNK_BYTES)

    @contextlib.contextmanager
    def local_copy(self, key: str) -> Iterator[Path]:
        name = self.object_name(key)
        with tempfile.TemporaryDirectory(prefix="vidpipe-", dir=self.spool_dir) as folder:
            # Named by the key's hash and suffix: decoders that look at the extension see the right one.
            path = Path(folder) / f"{sha_of(key)}.{key.rpartition('.')[2]}"
            with self._errors("download", key):
                self.client.download_file(self.bucket, name, str(path))
            yield path

    def presigned_url(self, key: str, seconds: int) -> str:
        name = self.object_name(key)
        if not 1 <= seconds <= 7 * 24 * 3600:
            raise ValueError(f"bad presigned URL lifetime {seconds!r}: expected 1 second to 7 days")
        with self._errors("sign a URL for", key):
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": name}, ExpiresIn=seconds
            )

    # Removing

    def delete(self, key: str) -> None:
        name = self.object_name(key)
        # S3 answers a delete of a missing object with success, as this method promises.
        with self._errors("delete", key):
            self.client.delete_object(Bucket=self.bucket, Key=name)

    # Errors

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        try:
            yield
        except ClientError as exc:
            if _code(exc) in _MISSING_CODES:
                raise missing_key(key) from None
            raise self._failure(action, key, exc) from None
        except BotoCoreError as exc:
            raise self._failure(action, key, exc) from None

    def _failure(self, action: str, key: str, exc: Exception) -> StoreUnavailableError:
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            reason = f"{error.get('Code', '?')}: {error.get('Message') or 'no message'}"
        else:
            reason = str(exc)
        return StoreUnavailableError(f"cannot {action} {key!r} in the store {self.location!r}: {reason}")


def make_client(config: StoreSettings) -> S3Client:
    """A boto3 S3 client for the settings; credentials left unset come from the AWS chain (AWS_* variables,
    ~/.aws, an instance role)."""
    options: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": config.max_attempts},
        "connect_timeout": 10,
        "read_timeout": 60,
    }
    if config.endpoint_url:
        # S3-compatible servers: path-style addressing (http://host/bucket/key) works on all of them, where
        # virtual hosts (bucket.host) need DNS set up for it; and checksums only where the API requires
        # them, since some servers refuse the newer default ones.
        options["s3"] = {"addressing_style": "path"}
        options["request_checksum_calculation"] = "when_required"
        options["response_checksum_validation"] = "when_required"
    secret = config.secret_access_key.get_secret_value() if config.secret_access_key is not None else None
    return boto3.session.Session().client(
        "s3",
        endpoint_url=config.endpoint_url,
        region_name=config.region,
        aws_access_key_id=config.access_key_id,
        aws_secret_access_key=secret,
        config=Config(**options),
    )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
