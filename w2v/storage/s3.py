"""The S3 backend (and S3-compatible stores such as MinIO): a key, every key under a prefix, or a glob in
a prefix. `s3a://` and `s3n://`, as Spark users write them, are read as `s3://`.

Each process builds its own boto3 client, lazily, once per settings (clients cannot be pickled, so
Ray tasks and actors never receive one). Transient errors are retried by botocore alone
(`_retry_config`); a missing bucket or key, or denied access, is a StorageError naming the URI.
Publishing stages in a local temporary directory and uploads with boto3's transfer manager.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from typing import IO, Any

import smart_open

from .. import owners
from ..display import redact
from ..errors import StorageError, StorageUnavailableError
from .base import FileInfo, RemoteBackend, S3Settings, current_settings, join

logger = logging.getLogger(__name__)

S3_ALIASES = ("s3a", "s3n")  # Hadoop's names for S3, read as s3://

S3_LIST_PAGE_SIZE = 1000  # keys per list_objects_v2 page (S3's maximum)
S3_PART_BYTES = 16 * 2**20  # multipart threshold and part size; S3 needs >= 5 MiB per part but the last
S3_UPLOAD_THREADS = 8  # parts of one file uploaded at once by boto3's transfer manager
S3_MAX_ATTEMPTS = 8  # attempts per S3 request, the first included (botocore's retries; backoff up to 20 s)
S3_RETRY_MODE = "standard"  # botocore's retry mode; "adaptive" also rate-limits the client after throttling
PUBLISH_PREFIX = "w2v-publish-"  # local stages of an S3 upload, in the system temp directory


def canonical_s3(uri: str) -> str:
    """An `s3a://` or `s3n://` URI as `s3://`; any other URI unchanged.

    >>> canonical_s3("s3a://bkt/a.txt"), canonical_s3("S3N://bkt/a"), canonical_s3("/s3a://x")
    ('s3://bkt/a.txt', 's3://bkt/a', '/s3a://x')
    """
    head, sep, rest = uri.partition("://")
    return f"s3://{rest}" if sep and head.lower() in S3_ALIASES else uri



def split_s3(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` -> ('bucket', 'some/key').

    >>> split_s3("s3://bkt/a/b.txt"), split_s3("s3://bkt"), split_s3("s3a://bkt/k")
    (('bkt', 'a/b.txt'), ('bkt', ''), ('bkt', 'k'))
    """
    bucket, _, key = canonical_s3(uri)[len("s3://") :].partition("/")
    if not bucket:
        raise StorageError(f"{uri}: no bucket in the S3 URI (expected s3://bucket/prefix)")
    return bucket, key


def glob_regex(pattern: str) -> re.Pattern:
    """A key glob as a regex: `*` and `?` stay within one path segment, `**` crosses segments.

    >>> bool(glob_regex("c/*.txt").fullmatch("c/a.txt")), bool(glob_regex("c/*.txt").fullmatch("c/d/a.txt"))
    (True, False)
    >>> bool(glob_regex("c/**/*.txt").fullmatch("c/d/e/a.txt")), bool(glob_regex("c/**/*.txt").fullmatch("c/a.txt"))
    (True, True)
    """
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            j = pattern.index("]", i + 1)
            body = pattern[i + 1 : j]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = j + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


_clients: dict[tuple[int, S3Settings], Any] = {}  # (pid, settings) -> boto3 client, built lazily
_clients_lock = threading.Lock()


def s3_client(settings: S3Settings | None = None):
    """This process's boto3 S3 client for `settings` (built once; a forked child builds its own)."""
    settings = settings or current_settings()
    key = (os.getpid(), settings)
    with _clients_lock:
        if key not in _clients:
            try:
                import boto3
                from botocore.config import Config
                from botocore.exceptions import BotoCoreError
            except ImportError:
                raise StorageError("s3:// needs boto3: pip install 'smart_open[s3]' boto3") from None
            try:
                session = boto3.session.Session(profile_name=settings.profile, region_name=settings.region)
                _clients[key] = session.client(
                    "s3", endpoint_url=settings.endpoint_url,
                    config=Config(retries=_retry_config(), max_pool_connections=32))
            except BotoCoreError as exc:  # unknown profile, bad endpoint URL, ...
                raise StorageError(f"S3 client (profile {settings.profile!r}, endpoint "
                                   f"{settings.endpoint_url!r}): {exc}") from None
            logger.debug("built an S3 client in process %d (endpoint %s)", os.getpid(),
                         _clients[key].meta.endpoint_url)
        return _clients[key]


def _retry_config() -> dict[str, Any]:
    """botocore's retries: S3_RETRY_MODE and S3_MAX_ATTEMPTS, unless AWS_RETRY_MODE / AWS_MAX_ATTEMPTS are set.

    A Config's retries would override those variables, so they are read here, as boto3 would.
    `total_max_attempts` counts the first request too, as AWS_MAX_ATTEMPTS does (botocore's
    `max_attempts` key would count retries only).
    """
    attempts = os.environ.get("AWS_MAX_ATTEMPTS", "")
    return {"mode": os.environ.get("AWS_RETRY_MODE") or S3_RETRY_MODE,
            "total_max_attempts": int(attempts) if attempts.isdecimal() else S3_MAX_ATTEMPTS}


def _error_code(exc: BaseException) -> str | None:
    """The S3 error code of a botocore ClientError, however deeply wrapped; None for other errors."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        if isinstance(response, dict) and "Error" in response:
            return str(response["Error"].get("Code", ""))
        seen = seen.__cause__ or seen.__context__
    return None


def s3_error(uri: str, exc: BaseException) -> StorageError:
    """A StorageError naming the URI and what went wrong, without credentials or raw responses."""
    from botocore.exceptions import ClientError, NoCredentialsError

    seen: BaseException | None = exc
    while seen is not None and not isinstance(seen, (ClientError, NoCredentialsError)):
        seen = seen.__cause__ or seen.__context__
    if isinstance(seen, NoCredentialsError):
        return StorageError(f"{uri}: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                            f"AWS_SECRET_ACCESS_KEY, or use an instance role)")
    if isinstance(seen, ClientError):
        code = str(seen.response.get("Error", {}).get("Code", ""))
        bucket = canonical_s3(uri)[len("s3://") :].partition("/")[0]
        if code == "NoSuchBucket":
            return StorageError(f"{uri}: the bucket '{bucket}' does not exist")
        if code in ("NoSuchKey", "404", "NotFound"):
            return StorageError(f"{uri}: no such key")
        if code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId",
                    "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken"):
            return StorageError(f"{uri}: access denied ({code}); check the credentials and the bucket policy")
        status = seen.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if status >= 500 or code in ("SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"):
            return StorageUnavailableError(f"{uri}: S3 error {code or status} after every retry; retry later")
        return StorageError(f"{uri}: S3 error {code or type(seen).__name__}")
    reason = " ".join(str(exc).split())  # every line: botocore puts the reason after "Parameter validation failed:"
    reason = reason if len(reason) <= 300 else reason[:300] + " ..."
    return StorageError(f"{uri}: S3 request failed ({type(exc).__name__}: {redact(reason)})")


class S3Backend(RemoteBackend):
    """S3 and S3-compatible stores: a key, every key under a prefix ("directory"), or a glob in a prefix."""

    def list_files(self, uri: str, settings: S3Settings) -> list[FileInfo]:
        bucket, key = split_s3(uri)
        magic = re.search(r"[*?\[]", key)
        pattern = glob_regex(key) if magic else None
        prefix = key[: magic.start()] if magic else key
        objects, pages = self._list(uri, bucket, prefix, settings)
        if pattern is not None:
            chosen = [o for o in objects if pattern.fullmatch(o["Key"])]
            if not chosen:
                raise StorageError(f"{uri}: the pattern matches no key")
        else:
            exact = [o for o in objects if o["Key"] == key and not key.endswith("/")]
            directory = key.rstrip("/") + "/" if key else ""
            chosen = exact or [o for o in objects if o["Key"].startswith(directory)]
            if not chosen:
                raise StorageError(f"{uri}: no such key or prefix")
        # "Directory" markers (keys ending in /) hold nothing; hidden names are skipped as on disk.
        files = [o for o in chosen if not o["Key"].endswith("/") and not o["Key"].rsplit("/", 1)[-1].startswith(".")]
        logger.info("listed %s: %d object(s) in %d page(s), %d file(s) kept", uri, len(objects), pages, len(files))
        return [FileInfo(uri=f"s3://{bucket}/{o['Key']}", size=int(o["Size"]), mtime=o["LastModified"].timestamp(),
                         etag=o.get("ETag")) for o in sorted(files, key=lambda o: o["Key"])]

    def _list(self, uri: str, bucket: str, prefix: str, settings: S3Settings,
              delimiter: str | None = None) -> tuple[list[dict], int]:
        """Every object (and with a delimiter, every common prefix) under `prefix`; and the pages read."""
        client = s3_client(settings)
        paginator = client.get_paginator("list_objects_v2")
        args = {"Bucket": bucket, "Prefix": prefix, "PaginationConfig": {"PageSize": S3_LIST_PAGE_SIZE}}
        if delimiter:
            args["Delimiter"] = delimiter

        found, pages = [], 0
        try:
            for page in paginator.paginate(**args):  # each page's request retried by botocore
                pages += 1
                found.extend(page.get("Contents", []))
                found.extend({"Prefix": p["Prefix"]} for p in page.get("CommonPrefixes", []))
        except Exception as exc:
            raise s3_error(uri, exc) from None
        return found, pages

    def open(self, uri: str, mode: str, settings: S3Settings, **kwargs: Any) -> IO:
        params = {"client": s3_client(settings)}
        if "w" in mode:
            params["min_part_size"] = S3_PART_BYTES
        try:
            return smart_open.open(canonical_s3(uri), mode, transport_params=params, **kwargs)
        except Exception as exc:  # OSError, ValueError, botocore's ParamValidationError (a bad bucket name), ...
            raise s3_error(uri, exc) from None

    def exists(self, uri: str, settings: S3Settings) -> bool:
        bucket, key = split_s3(uri)
        try:
            s3_client(settings).head_object(Bucket=bucket, Key=key)
            return True
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise s3_error(uri, exc) from None

    def check_writable(self, uri: str, settings: S3Settings) -> None:
        """The bucket exists and answers us (S3 has no dry-run write; a denied upload is named when it happens)."""
        bucket, _ = split_s3(uri)
        try:
            s3_client(settings).head_bucket(Bucket=bucket)
        except Exception as exc:
            if _error_code(exc) in ("404", "NoSuchBucket", "NotFound"):
                raise StorageError(f"{uri}: the bucket '{bucket}' does not exist") from None
            raise s3_error(uri, exc) from None

    def list_names(self, uri: str, settings: S3Settings) -> list[str]:
        bucket, key = split_s3(uri)
        prefix = key.rstrip("/") + "/" if key else ""
        entries, _ = self._list(uri, bucket, prefix, settings, delimiter="/")
        names = {(e.get("Key") or e["Prefix"])[len(prefix) :].rstrip("/") for e in entries}
        return sorted(n for n in names if n)

    def remove(self, uri: str, settings: S3Settings) -> None:
        bucket, key = split_s3(uri)
        try:
            s3_client(settings).delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            raise s3_error(uri, exc) from None

    def staging_dir(self, out_uri: str) -> str:
        """A local temporary directory (`w2v-publish-HOST-PID-*`; those of ended processes are removed first)."""
        owners.remove_stale(tempfile.gettempdir(), PUBLISH_PREFIX, "the staging directory of an unfinished upload")
        return tempfile.mkdtemp(prefix=owners.owned_name(PUBLISH_PREFIX) + "-")

    def publish_file(self, local_path: str, out_uri: str, name: str, settings: S3Settings) -> None:
        """Upload one staged file with boto3's transfer manager; the object appears only when complete.

        Above S3_PART_BYTES it is a multipart upload of S3_PART_BYTES parts, S3_UPLOAD_THREADS at a
        time; botocore retries a failed part's request alone, and a failed upload is aborted (no
        parts are left behind to pay for).
        """
        from boto3.s3.transfer import TransferConfig

        target = join(out_uri, name)
        bucket, key = split_s3(target)
        transfer = TransferConfig(multipart_threshold=S3_PART_BYTES, multipart_chunksize=S3_PART_BYTES,
                                  max_concurrency=S3_UPLOAD_THREADS)
        try:
            s3_client(settings).upload_file(local_path, bucket, key, Config=transfer)
        except StorageError:
            raise
        except Exception as exc:  # boto3's S3UploadFailedError keeps the ClientError as its context
            raise s3_error(target, exc) from None
        logger.debug("uploaded %s (%d bytes)", target, os.path.getsize(local_path))
        os.remove(local_path)

