"""Where bytes live: list, open and publish files by URI, whatever the backend.

The rest of w2v says `storage.open(uri)` and never asks "is this S3?". Reading goes through
smart_open, which picks decompression by extension (.gz, .bz2, .xz, .zst) and streams: nothing
here loads a whole file. Backends are picked by URI scheme from `_BACKENDS` and expose the same
few names: the local filesystem (`/path`, `file:///path`, globs), S3 (`s3://bucket/prefix`,
globs within a prefix; any S3-compatible store such as MinIO through an endpoint URL; `s3a://` and
`s3n://`, as Spark users write them, are read as `s3://`), HTTP(S) URLs, read-only (`http_store`),
and the read-only demo text (`sample://NAME`, extracted from gensim's files as it is read:
`demo_text`). Other schemes are refused with a clear error naming the URI. Zip archives are not a
backend: `archive` reads their members through `open`.

S3 settings (endpoint, region, profile) come from the standard AWS environment and config files
(`AWS_ENDPOINT_URL_S3`, `AWS_PROFILE`, `AWS_DEFAULT_REGION`, `~/.aws/config`), overridden by
`S3Settings` (the job config's `s3_*` keys). Each process builds its own boto3 client, lazily, once
per settings: clients cannot be pickled, so Ray tasks and actors never receive one. Credentials are
left to boto3 and never appear in w2v's logs, errors or manifests.

Transient S3 errors (throttling, 5xx, connection resets, timeouts) are retried in one layer,
botocore's own retry configuration (`standard` mode, S3_MAX_ATTEMPTS attempts per request;
`AWS_RETRY_MODE=adaptive` and `AWS_MAX_ATTEMPTS` override them as boto3 documents): each page of a
listing, each GET, each part of an upload is retried alone, and nothing here wraps those calls in
a loop of its own. In the middle of a streamed object, where no request fails, smart_open's reader
reopens the object at the byte it had reached. A missing bucket or key, or denied access, is a
StorageError naming the URI.

Publishing an artifact is the one write path: files are staged in a local directory, then moved
(local) or uploaded (S3: boto3's transfer manager, parallel parts above S3_PART_BYTES) to the
destination with the manifest last, so a reader never sees a half-written artifact as complete (an
artifact without `manifest.json` is incomplete by definition).
"""

from __future__ import annotations

import glob
import io
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Protocol

import smart_open

from . import owners
from .display import credentials_refused, has_userinfo, redact
from .errors import StorageError, StorageUnavailableError

logger = logging.getLogger(__name__)

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")
ARCHIVE_SUFFIXES = (".zip",)  # read member by member (`archive`), never split into byte ranges
S3_ALIASES = ("s3a", "s3n")  # Hadoop's names for S3, read as s3://

S3_LIST_PAGE_SIZE = 1000  # keys per list_objects_v2 page (S3's maximum)
S3_PART_BYTES = 16 * 2**20  # multipart threshold and part size; S3 needs >= 5 MiB per part but the last
S3_UPLOAD_THREADS = 8  # parts of one file uploaded at once by boto3's transfer manager
S3_MAX_ATTEMPTS = 8  # attempts per S3 request, the first included (botocore's retries; backoff up to 20 s)
S3_RETRY_MODE = "standard"  # botocore's retry mode; "adaptive" also rate-limits the client after throttling
PUBLISH_PREFIX = "w2v-publish-"  # local stages of an S3 upload, in the system temp directory


@dataclass(frozen=True)
class FileInfo:
    """One listed file: its URI, size in bytes and modification time (seconds since epoch)."""

    uri: str
    size: int
    mtime: float
    etag: str | None = None  # the store's version tag as listed (S3, HTTP); None: the store has none
    last_modified: str | None = None  # HTTP's Last-Modified header as sent; None elsewhere


@dataclass(frozen=True)
class S3Settings:
    """Overrides of the AWS environment for S3; None keeps boto3's own lookup. Holds no secrets."""

    endpoint_url: str | None = None  # e.g. http://127.0.0.1:9000 for MinIO; None: AWS_ENDPOINT_URL_S3 or AWS
    region: str | None = None  # None: AWS_DEFAULT_REGION / the profile's region
    profile: str | None = None  # a profile of ~/.aws/config; None: AWS_PROFILE or the default chain


_settings = S3Settings()  # this process's default, set by `configure`


def configure(settings: S3Settings) -> None:
    """Set this process's default S3 settings (the driver does, from the job config)."""
    global _settings
    _settings = settings


def scheme(uri: str) -> str:
    """The URI's scheme, 'file' for plain paths; Hadoop's `s3a`/`s3n` are 's3'.

    >>> scheme("s3://bucket/key"), scheme("/tmp/x"), scheme("file:///tmp/x"), scheme("s3a://b/k")
    ('s3', 'file', 'file', 's3')
    """
    head, sep, _ = uri.partition("://")
    head = head.lower() if sep else "file"
    return "s3" if head in S3_ALIASES else head


def canonical_s3(uri: str) -> str:
    """An `s3a://` or `s3n://` URI as `s3://`; any other URI unchanged.

    >>> canonical_s3("s3a://bkt/a.txt"), canonical_s3("S3N://bkt/a"), canonical_s3("/s3a://x")
    ('s3://bkt/a.txt', 's3://bkt/a', '/s3a://x')
    """
    head, sep, rest = uri.partition("://")
    return f"s3://{rest}" if sep and head.lower() in S3_ALIASES else uri


def is_compressed(uri: str) -> bool:
    """True when smart_open will decompress this file by its extension."""
    return uri.lower().endswith(COMPRESSED_SUFFIXES)


def is_splittable(uri: str) -> bool:
    """True when a byte range of this file can be read without reading what comes before it.

    >>> [is_splittable(u) for u in ("s3://b/a.txt", "/a.txt.gz", "sample://wiki", "/t.zip", "https://h/a.txt")]
    [True, False, False, False, False]
    """
    return scheme(uri) in ("file", "s3") and not is_compressed(uri) and not uri.lower().endswith(ARCHIVE_SUFFIXES)


# ---------------------------------------------------------------------- backends


class Backend(Protocol):
    """What every storage backend offers; `uri` is always a full URI of that backend's scheme."""

    def list_files(self, uri: str, settings: S3Settings) -> list[FileInfo]: ...
    def open(self, uri: str, mode: str, settings: S3Settings, **kwargs: Any) -> IO: ...
    def exists(self, uri: str, settings: S3Settings) -> bool: ...
    def list_names(self, uri: str, settings: S3Settings) -> list[str]: ...
    def check_writable(self, uri: str, settings: S3Settings) -> None: ...
    def remove(self, uri: str, settings: S3Settings) -> None: ...
    def staging_dir(self, out_uri: str) -> str: ...
    def publish_file(self, local_path: str, out_uri: str, name: str, settings: S3Settings) -> None: ...


class LocalBackend:
    """Local filesystem: files, directories (recursive) and globs."""

    @staticmethod
    def path(uri: str) -> str:
        return uri[len("file://") :] if uri.startswith("file://") else uri

    def list_files(self, uri: str, settings: S3Settings) -> list[FileInfo]:
        path = os.path.expanduser(self.path(uri))
        if glob.has_magic(path):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                raise StorageError(f"{uri}: the pattern matches no file")
        elif os.path.isdir(path):
            matches = [path]
        elif os.path.isfile(path):
            matches = [path]
        else:
            raise StorageError(f"{uri}: {_not_a_file(path)}")
        files: list[str] = []
        for match in matches:
            if os.path.isdir(match):
                for root, dirs, names in os.walk(match):
                    dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                    files.extend(os.path.join(root, n) for n in sorted(names) if not n.startswith("."))
            elif os.path.isfile(match):
                files.append(match)
        infos = []
        for f in files:
            try:
                st = os.stat(f)
            except OSError as exc:  # a dangling link or a link loop inside a directory: name the link
                raise StorageError(f"{f}: {_broken_link(f, exc)}") from None
            infos.append(FileInfo(uri=os.path.abspath(f), size=st.st_size, mtime=st.st_mtime))
        return infos

    def open(self, uri: str, mode: str, settings: S3Settings, **kwargs: Any) -> IO:
        try:
            return smart_open.open(self.path(uri), mode, **kwargs)
        except FileNotFoundError:
            raise StorageError(f"{uri}: no such file") from None
        except PermissionError:
            raise StorageError(f"{uri}: permission denied") from None

    def exists(self, uri: str, settings: S3Settings) -> bool:
        return os.path.exists(self.path(uri))

    def check_writable(self, uri: str, settings: S3Settings) -> None:
        """The nearest existing directory at or above `uri` accepts new files (nothing is created)."""
        path = Path(os.path.expanduser(self.path(uri))).absolute()
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir():
            raise StorageError(f"{uri}: {existing} is a file, not a directory")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise StorageError(f"{uri}: permission denied: cannot create files in {existing}")

    def list_names(self, uri: str, settings: S3Settings) -> list[str]:
        path = self.path(uri)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def remove(self, uri: str, settings: S3Settings) -> None:
        try:
            os.remove(self.path(uri))
        except FileNotFoundError:
            pass

    def staging_dir(self, out_uri: str) -> str:
        """A fresh directory beside the destination, so publishing is a rename on one filesystem.

        Named `.OUT.staging-HOST-PID`: the stages a killed publisher left beside it are removed first.
        """
        out = Path(self.path(out_uri)).absolute()
        out.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".{out.name}.staging-"
        owners.remove_stale(str(out.parent), prefix, "the staging directory of an unfinished publish")
        staging = out.parent / owners.owned_name(prefix)
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        return str(staging)

    def publish_file(self, local_path: str, out_uri: str, name: str, settings: S3Settings) -> None:
        out = Path(self.path(out_uri))
        out.mkdir(parents=True, exist_ok=True)
        os.replace(local_path, out / name)


def _not_a_file(path: str) -> str:
    """Why a path given as a corpus is neither a file nor a directory, in words."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file or directory" if not os.path.islink(path) else _broken_link(path, FileNotFoundError())
    except OSError as exc:  # a link loop (ELOOP), a path through a file (ENOTDIR), ...
        return _broken_link(path, exc)
    kinds = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
    kind = next((name for test, name in kinds if test(mode)), "a special file")
    return f"{kind}, not a regular file: w2v reads a corpus more than once, and needs its size to plan the job"


def _broken_link(path: str, exc: OSError) -> str:
    """Why a listed file cannot be read, in words: links get their target named."""
    if not os.path.islink(path):
        return f"cannot be read ({exc.strerror})"
    target = os.readlink(path)
    if isinstance(exc, FileNotFoundError):
        return f"a symbolic link to {target}, which does not exist; remove the link or restore its target"
    return f"a symbolic link that cannot be followed ({exc.strerror}: a loop?); remove it"


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
    settings = settings or _settings
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


class S3Backend:
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


class ReadOnlyBackend:
    """What a backend that cannot be written answers to every write: one StorageError naming the URI."""

    what = "this location"  # named in the error: "the demo text is read-only"

    def list_names(self, uri: str, settings: S3Settings) -> list[str]:
        return []

    def _read_only(self, uri: str, *_: Any) -> None:
        raise StorageError(f"{uri}: {self.what} is read-only; write elsewhere")

    check_writable = remove = _read_only

    def staging_dir(self, out_uri: str) -> str:
        self._read_only(out_uri)
        raise AssertionError("unreachable")

    def publish_file(self, local_path: str, out_uri: str, name: str, settings: S3Settings) -> None:
        self._read_only(out_uri)


class HttpBackend(ReadOnlyBackend):
    """http:// and https:// URLs: one URL is one file, listed by HEAD, streamed with retries (`http_store`)."""

    what = "an HTTP URL"
    pins_versions = True  # `open(..., version=)`: reads only the version listed

    def list_files(self, uri: str, settings: S3Settings) -> list[FileInfo]:
        from . import http_store

        head = http_store.head(uri)
        return [FileInfo(uri=uri, size=head.size, mtime=head.mtime, etag=head.etag, last_modified=head.last_modified)]

    def open(self, uri: str, mode: str, settings: S3Settings, version: dict[str, str] | None = None,
             **kwargs: Any) -> IO:
        from smart_open.compression import compression_wrapper

        from . import http_store

        if mode not in ("rb", "r"):
            self._read_only(uri)
        stream: IO = io.BufferedReader(http_store.open_url(uri, version), http_store.BUFFER_BYTES)
        if kwargs.get("compression", "infer_from_extension") != "disable" and is_compressed(uri):
            stream = compression_wrapper(stream, "rb", filename=uri)
        return stream if mode == "rb" else io.TextIOWrapper(stream, encoding=kwargs.get("encoding") or "utf-8")

    def exists(self, uri: str, settings: S3Settings) -> bool:
        from . import http_store

        try:
            http_store.head(uri)
            return True
        except StorageError as exc:
            if "(HTTP 404)" in str(exc):
                return False
            raise


class DemoTextBackend(ReadOnlyBackend):
    """The demo text (`sample://wiki`, `sample://lee`): extracted from gensim's files as it is read, read-only."""

    what = "the demo text"

    def list_files(self, uri: str, settings: S3Settings) -> list[FileInfo]:
        from . import demo_text

        return [FileInfo(uri=uri, size=demo_text.size(uri), mtime=demo_text.mtime(uri))]

    def open(self, uri: str, mode: str, settings: S3Settings, **kwargs: Any) -> IO:
        from . import demo_text

        if mode != "rb":
            raise StorageError(f"{uri}: the demo text is read-only")
        return demo_text.TextReader(uri)

    def exists(self, uri: str, settings: S3Settings) -> bool:
        from . import demo_text

        return uri[len(demo_text.SCHEME) :] in demo_text.TEXTS


_BACKENDS: dict[str, Backend] = {"file": LocalBackend(), "s3": S3Backend(), "sample": DemoTextBackend(),
                                 "http": HttpBackend(), "https": HttpBackend()}


def backend(uri: str) -> Backend:
    """The backend serving this URI's scheme, or a StorageError naming the URI.

    Every storage call comes through here, so this is where a URI with credentials in it
    (`s3://KEY:SECRET@bucket/...`) is refused, in every command and in `w2v.load`.
    """
    if has_userinfo(uri):
        raise StorageError(credentials_refused(uri))
    try:
        return _BACKENDS[scheme(uri)]
    except KeyError:
        raise StorageError(
            f"{uri}: the '{scheme(uri)}' scheme is not supported by this version of w2v "
            f"(supported: {', '.join(sorted(_BACKENDS))})"
        ) from None


def list_files(uri: str, settings: S3Settings | None = None) -> list[FileInfo]:
    """Every file under a path, directory or prefix (recursive, hidden files skipped) or glob, sorted."""
    return backend(uri).list_files(uri, settings or _settings)


def open(uri: str, mode: str = "rb", settings: S3Settings | None = None,  # noqa: A001 - mirrors builtins.open
         version: dict[str, str] | None = None, **kwargs) -> IO:
    """Open for streaming; compressed files are decompressed by extension (pass compression="disable" not to).

    `version` (`etag`, `last_modified`: a Shard's as listed) pins every read to it where the store can
    (HTTP: If-Match, or a changed Last-Modified refused), so no pass reads another version than the listing's.
    """
    target = backend(uri)
    pinned = {"version": version} if version and getattr(target, "pins_versions", False) else {}
    return target.open(uri, mode, settings or _settings, **pinned, **kwargs)


def exists(uri: str, settings: S3Settings | None = None) -> bool:
    return backend(uri).exists(uri, settings or _settings)


def join(uri: str, name: str) -> str:
    """`uri/name` for any scheme.

    >>> join("s3://b/artifacts/", "manifest.json")
    's3://b/artifacts/manifest.json'
    """
    return uri.rstrip("/") + "/" + name


def check_writable(uri: str, settings: S3Settings | None = None) -> None:
    """Raise StorageError unless an artifact could be written at `uri` (checked before any work)."""
    backend(uri).check_writable(uri, settings or _settings)


def list_names(uri: str, settings: S3Settings | None = None) -> list[str]:
    """Names directly inside a directory-like location; empty when it does not exist."""
    return backend(uri).list_names(uri, settings or _settings)


def remove(uri: str, settings: S3Settings | None = None) -> None:
    backend(uri).remove(uri, settings or _settings)


def staging_dir(out_uri: str) -> str:
    """A local directory in which to write files before `publish` moves them to `out_uri`."""
    return backend(out_uri).staging_dir(out_uri)


def publish(staging: str, out_uri: str, names: Iterable[str], last: str, settings: S3Settings | None = None,
            published: Callable[[str, int], None] = lambda name, size: None) -> None:
    """Move staged files to `out_uri`, `last` (the manifest) after every other one has fully arrived.

    `published(name, bytes)` is told of each file once it is there (an export's progress bar).
    """
    b = backend(out_uri)
    ordered = [n for n in names if n != last] + [last]
    for name in ordered:
        size = os.path.getsize(os.path.join(staging, name))  # the backend may move or remove the staged file
        b.publish_file(os.path.join(staging, name), out_uri, name, settings or _settings)
        published(name, size)
    shutil.rmtree(staging, ignore_errors=True)


def remove_dir(uri: str) -> None:
    """Remove a directory-like location once its files are removed (a no-op where none exist, as on S3)."""
    if scheme(uri) != "file":
        return
    b = backend(uri)
    try:
        os.rmdir(b.path(uri))
    except OSError:
        pass
