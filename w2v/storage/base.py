"""What every storage backend shares: the listed file, the S3 settings, the backend interface, and the
read-only answer to writes. Knows no backend; the registry in `storage/__init__` picks one by scheme."""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any, Protocol

from ..errors import StorageError

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")


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



def current_settings() -> S3Settings:
    """This process's default S3 settings (`configure`)."""
    return _settings


def is_compressed(uri: str) -> bool:
    """True when smart_open will decompress this file by its extension.

    >>> is_compressed("s3://b/a.txt.gz"), is_compressed("/a.txt")
    (True, False)
    """
    return uri.lower().endswith(COMPRESSED_SUFFIXES)


def join(uri: str, name: str) -> str:
    """`uri/name` for any scheme.

    >>> join("s3://b/artifacts/", "manifest.json")
    's3://b/artifacts/manifest.json'
    """
    return uri.rstrip("/") + "/" + name


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
    def local_path(self, uri: str) -> str | None: ...


class RemoteBackend:
    """A backend whose files are not on this machine's filesystem: no local path to give."""

    def local_path(self, uri: str) -> str | None:
        return None


class ReadOnlyBackend(RemoteBackend):
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

