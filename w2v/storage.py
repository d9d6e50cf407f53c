"""Where bytes live: list, open and publish files by URI, whatever the backend.

The rest of w2v says `storage.open(uri)` and never asks "is this S3?". Reading goes through
smart_open, which picks decompression by extension (.gz, .bz2, .xz, .zst) and streams: nothing
here loads a whole file. Backends are picked by URI scheme from `_BACKENDS`; this version ships
the local filesystem (`/path`, `file:///path`, globs). Other schemes are refused with a clear
error naming the URI.

Publishing an artifact is the one write path: files are staged in a local directory, then moved
to the destination with the manifest last, so a reader never sees a half-written artifact as
complete (an artifact without `manifest.json` is incomplete by definition).
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterable

import smart_open

from .errors import StorageError

logger = logging.getLogger(__name__)

COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")


@dataclass(frozen=True)
class FileInfo:
    """One listed file: its URI, size in bytes and modification time (seconds since epoch)."""

    uri: str
    size: int
    mtime: float


def scheme(uri: str) -> str:
    """The URI's scheme, 'file' for plain paths.

    >>> scheme("s3://bucket/key"), scheme("/tmp/x"), scheme("file:///tmp/x")
    ('s3', 'file', 'file')
    """
    head, sep, _ = uri.partition("://")
    return head.lower() if sep else "file"


def is_compressed(uri: str) -> bool:
    """True when smart_open will decompress this file by its extension."""
    return uri.lower().endswith(COMPRESSED_SUFFIXES)


class LocalBackend:
    """Local filesystem: files, directories (recursive) and globs."""

    @staticmethod
    def path(uri: str) -> str:
        return uri[len("file://") :] if uri.startswith("file://") else uri

    def list_files(self, uri: str) -> list[FileInfo]:
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
            raise StorageError(f"{uri}: no such file or directory")
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
            st = os.stat(f)
            infos.append(FileInfo(uri=os.path.abspath(f), size=st.st_size, mtime=st.st_mtime))
        return infos

    def exists(self, uri: str) -> bool:
        return os.path.exists(self.path(uri))

    def check_writable(self, uri: str) -> None:
        """The nearest existing directory at or above `uri` accepts new files (nothing is created)."""
        path = Path(os.path.expanduser(self.path(uri))).absolute()
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir():
            raise StorageError(f"{uri}: {existing} is a file, not a directory")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise StorageError(f"{uri}: permission denied: cannot create files in {existing}")

    def list_names(self, uri: str) -> list[str]:
        path = self.path(uri)
        return sorted(os.listdir(path)) if os.path.isdir(path) else []

    def remove(self, uri: str) -> None:
        try:
            os.remove(self.path(uri))
        except FileNotFoundError:
            pass

    def staging_dir(self, out_uri: str) -> str:
        """A fresh directory beside the destination, so publishing is a rename on one filesystem."""
        out = Path(self.path(out_uri)).absolute()
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = out.parent / f".{out.name}.staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        return str(staging)

    def publish_file(self, local_path: str, out_uri: str, name: str) -> None:
        out = Path(self.path(out_uri))
        out.mkdir(parents=True, exist_ok=True)
        os.replace(local_path, out / name)


_BACKENDS = {"file": LocalBackend()}


def backend(uri: str) -> LocalBackend:
    """The backend serving this URI's scheme, or a StorageError naming the URI."""
    try:
        return _BACKENDS[scheme(uri)]
    except KeyError:
        raise StorageError(
            f"{uri}: the '{scheme(uri)}' scheme is not supported by this version of w2v "
            f"(supported: {', '.join(sorted(_BACKENDS))})"
        ) from None


def list_files(uri: str) -> list[FileInfo]:
    """Every file under a path, directory (recursive, hidden files skipped) or glob, sorted."""
    return backend(uri).list_files(uri)


def open(uri: str, mode: str = "rb", **kwargs) -> IO:  # noqa: A001 - mirrors builtins.open on purpose
    """Open for streaming; compressed files are decompressed by extension."""
    b = backend(uri)
    target = b.path(uri) if isinstance(b, LocalBackend) else uri
    try:
        return smart_open.open(target, mode, **kwargs)
    except FileNotFoundError:
        raise StorageError(f"{uri}: no such file") from None
    except PermissionError:
        raise StorageError(f"{uri}: permission denied") from None


def exists(uri: str) -> bool:
    return backend(uri).exists(uri)


def join(uri: str, name: str) -> str:
    """`uri/name` for any scheme.

    >>> join("s3://b/artifacts/", "manifest.json")
    's3://b/artifacts/manifest.json'
    """
    return uri.rstrip("/") + "/" + name


def check_writable(uri: str) -> None:
    """Raise StorageError unless an artifact could be written at `uri` (checked before any work)."""
    backend(uri).check_writable(uri)


def list_names(uri: str) -> list[str]:
    """Names directly inside a directory-like location; empty when it does not exist."""
    return backend(uri).list_names(uri)


def remove(uri: str) -> None:
    backend(uri).remove(uri)


def staging_dir(out_uri: str) -> str:
    """A local directory in which to write files before `publish` moves them to `out_uri`."""
    return backend(out_uri).staging_dir(out_uri)


def publish(staging: str, out_uri: str, names: Iterable[str], last: str) -> None:
    """Move staged files to `out_uri`, `last` (the manifest) after every other one."""
    b = backend(out_uri)
    ordered = [n for n in names if n != last] + [last]
    for name in ordered:
        b.publish_file(os.path.join(staging, name), out_uri, name)
    shutil.rmtree(staging, ignore_errors=True)


def remove_dir(uri: str) -> None:
    """Remove a directory-like location once its files are removed (a no-op where none exist)."""
    b = backend(uri)
    try:
        os.rmdir(b.path(uri))
    except OSError:
        pass
