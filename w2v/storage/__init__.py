"""Where bytes live: list, open and publish files by URI, whatever the backend.

The rest of w2v says `storage.open(uri)` and never asks "is this S3?". Reading goes through
smart_open, which picks decompression by extension (.gz, .bz2, .xz, .zst) and streams: nothing
here loads a whole file. Backends are picked by URI scheme from `_BACKENDS`, one module each, and
expose the same few names (`base.Backend`): the local filesystem (`local`: `/path`, `file:///path`,
globs), S3 (`s3`: `s3://bucket/prefix`, globs within a prefix; any S3-compatible store such as MinIO
through an endpoint URL; `s3a://` and `s3n://`, as Spark users write them, are read as `s3://`),
HTTP(S) URLs, read-only (`http`), and the read-only demo text (`demo_text`: `sample://NAME`,
extracted from gensim's files as it is read). Other schemes are refused with a clear error naming
the URI. Zip archives are not a backend: `archive` reads their members through `open`.
A caller that needs a file's path on this machine (a memory map, a directory test) asks
`local_path(uri)`, None off the local filesystem: only this package reads a URI's scheme.

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

import logging
import os
import shutil
from typing import IO, Callable, Iterable

from ..display import credentials_refused, has_userinfo
from ..errors import StorageError
from . import demo_text, http, local, s3
from .base import (COMPRESSED_SUFFIXES, Backend, FileInfo, S3Settings, configure, current_settings,  # noqa: F401
                   is_compressed, join)
from .s3 import S3_ALIASES, S3Backend, canonical_s3, s3_client, split_s3  # noqa: F401

logger = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".zip",)  # read member by member (`archive`), never split into byte ranges


def scheme(uri: str) -> str:
    """The URI's scheme, 'file' for plain paths; Hadoop's `s3a`/`s3n` are 's3'.

    >>> scheme("s3://bucket/key"), scheme("/tmp/x"), scheme("file:///tmp/x"), scheme("s3a://b/k")
    ('s3', 'file', 'file', 's3')
    """
    head, sep, _ = uri.partition("://")
    head = head.lower() if sep else "file"
    return "s3" if head in S3_ALIASES else head



def is_splittable(uri: str) -> bool:
    """True when a byte range of this file can be read without reading what comes before it.

    >>> [is_splittable(u) for u in ("s3://b/a.txt", "/a.txt.gz", "sample://wiki", "/t.zip", "https://h/a.txt")]
    [True, False, False, False, False]
    """
    return scheme(uri) in ("file", "s3") and not is_compressed(uri) and not uri.lower().endswith(ARCHIVE_SUFFIXES)


_BACKENDS: dict[str, Backend] = {"file": local.LocalBackend(), "s3": s3.S3Backend(),
                                 "sample": demo_text.DemoTextBackend(), "http": http.HttpBackend(),
                                 "https": http.HttpBackend()}


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
    return backend(uri).list_files(uri, settings or current_settings())


def open(uri: str, mode: str = "rb", settings: S3Settings | None = None,  # noqa: A001 - mirrors builtins.open
         version: dict[str, str] | None = None, **kwargs) -> IO:
    """Open for streaming; compressed files are decompressed by extension (pass compression="disable" not to).

    `version` (`etag`, `last_modified`: a Shard's as listed) pins every read to it where the store can
    (HTTP: If-Match, or a changed Last-Modified refused), so no pass reads another version than the listing's.
    """
    target = backend(uri)
    pinned = {"version": version} if version and getattr(target, "pins_versions", False) else {}
    return target.open(uri, mode, settings or current_settings(), **pinned, **kwargs)


def exists(uri: str, settings: S3Settings | None = None) -> bool:
    return backend(uri).exists(uri, settings or current_settings())


def check_writable(uri: str, settings: S3Settings | None = None) -> None:
    """Raise StorageError unless an artifact could be written at `uri` (checked before any work)."""
    backend(uri).check_writable(uri, settings or current_settings())


def list_names(uri: str, settings: S3Settings | None = None) -> list[str]:
    """Names directly inside a directory-like location; empty when it does not exist."""
    return backend(uri).list_names(uri, settings or current_settings())


def remove(uri: str, settings: S3Settings | None = None) -> None:
    backend(uri).remove(uri, settings or current_settings())


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
        b.publish_file(os.path.join(staging, name), out_uri, name, settings or current_settings())
        published(name, size)
    shutil.rmtree(staging, ignore_errors=True)


def local_path(uri: str) -> str | None:
    """The path of `uri` on this machine's filesystem (`file://` stripped), or None for any other store.

    >>> local_path("/tmp/a.txt"), local_path("file:///tmp/a.txt"), local_path("s3://b/a.txt")
    ('/tmp/a.txt', '/tmp/a.txt', None)
    """
    return backend(uri).local_path(uri)


def remove_dir(uri: str) -> None:
    """Remove a directory-like location once its files are removed (a no-op where none exist, as on S3)."""
    path = local_path(uri)
    if path is None:
        return
    try:
        os.rmdir(path)
    except OSError:
        pass
