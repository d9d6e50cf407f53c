"""The local filesystem backend: files, directories (recursive) and globs; `/path` or `file:///path`.

Publishing stages beside the destination and renames, so an artifact appears in one step on one filesystem.
"""

from __future__ import annotations

import glob
import os
import shutil
import stat
from pathlib import Path
from typing import IO, Any

import smart_open

from .. import owners
from ..errors import StorageError
from .base import FileInfo, S3Settings


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

    def local_path(self, uri: str) -> str | None:
        """The path on this machine: `file://` stripped, nothing else changed."""
        return self.path(uri)

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

