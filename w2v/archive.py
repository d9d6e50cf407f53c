"""Zip archives as corpus: every member is a shard, read as a stream, never the archive in memory.

`list_members` reads the archive's central directory; `open_member` streams one member's
decompressed bytes (a member named `*.gz`, `*.bz2`, ... is decompressed once more by its
extension). Both use `zipfile` over a seekable stream from `storage.open`: a local file, an S3
object (smart_open's ranged GETs) or an HTTP URL (`storage.http.Reader`).

Over HTTP the archive is read with **Range requests**, not spooled to a local file: an actor
reading one member fetches the central directory (a few KiB at the end) and that member's bytes,
nothing else, and needs no local disk; each member of a many-member archive goes to a different
actor, so spooling would download the whole archive once per actor. Only when the server ignores
Range requests (it answers 200 with the whole body) is the archive spooled, in 1 MiB blocks, to
a local temporary file that is removed when the member is closed (logged at INFO).

A member is read whole: a deflated stream cannot be entered in the middle, so one big member
(text8.zip holds one 100 MB member) is one actor's work. Directories, hidden members and
`__MACOSX/` resource forks are skipped; an encrypted member is refused at listing.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from typing import IO

from . import storage
from .errors import CorpusError

logger = logging.getLogger(__name__)

SPOOL_BLOCK_BYTES = 1 << 20  # copy block when a server without ranges forces a local copy


@dataclass(frozen=True)
class Member:
    """One file inside an archive."""

    name: str  # the member's path inside the archive
    size: int  # bytes once decompressed
    compressed_size: int  # bytes in the archive: what reading it costs, and how shards are balanced


def is_archive(uri: str) -> bool:
    """True for the archives read member by member.

    >>> is_archive("https://h/text8.zip"), is_archive("/c/a.txt.gz")
    (True, False)
    """
    return uri.lower().endswith(storage.ARCHIVE_SUFFIXES)


def _wanted(info: zipfile.ZipInfo) -> bool:
    """A member holding corpus text: not a directory, hidden file or macOS resource fork."""
    base = info.filename.rstrip("/").rsplit("/", 1)[-1]
    return not info.is_dir() and not base.startswith(".") and not info.filename.startswith("__MACOSX/")


def _serves_ranges(raw: IO) -> bool:
    """Whether seeks work: zipfile takes a failed seek for "not a zip file", so it is tried here first."""
    if not raw.seekable():
        return False
    try:
        raw.seek(-1, io.SEEK_END)  # over HTTP, one ranged GET: a server that ignores ranges answers 200
        return True  # (no seek back: zipfile starts by seeking to the end itself)
    except io.UnsupportedOperation:
        return False


def _open_zip(uri: str, settings: storage.S3Settings | None,
              version: dict[str, str] | None = None) -> tuple[zipfile.ZipFile, IO]:
    """The archive over a seekable stream (the stream is returned too: ZipFile does not close it), of the
    `version` listed when given (`storage.open`)."""
    raw = storage.open(uri, "rb", settings=settings, compression="disable", version=version)
    if _serves_ranges(raw):
        try:
            return zipfile.ZipFile(raw), raw
        except zipfile.BadZipFile as exc:
            raw.close()
            raise CorpusError(f"corpus file {uri} is not a readable zip archive ({exc})") from None
    raw.close()
    local = tempfile.TemporaryFile(prefix="w2v-zip-")  # unnamed: gone when closed or when the process dies
    with storage.open(uri, "rb", settings=settings, compression="disable", version=version) as remote:
        shutil.copyfileobj(remote, local, SPOOL_BLOCK_BYTES)
    logger.info("%s: the server does not serve byte ranges: spooled the archive to a local temporary file "
                "(%d bytes)", uri, local.tell())
    local.seek(0)
    try:
        return zipfile.ZipFile(local), local
    except zipfile.BadZipFile as exc:
        local.close()
        raise CorpusError(f"corpus file {uri} is not a readable zip archive ({exc})") from None


def list_members(uri: str, settings: storage.S3Settings | None = None,
                 version: dict[str, str] | None = None) -> list[Member]:
    """The archive's corpus members, in archive order (of the `version` listed); CorpusError for a bad or
    encrypted archive."""
    archive, raw = _open_zip(uri, settings, version)
    with archive, raw:
        members = []
        names: set[str] = set()  # member names seen
        for info in archive.infolist():
            if not _wanted(info):
                continue
            if info.flag_bits & 0x1:
                raise CorpusError(f"corpus file {uri}: member {info.filename} is encrypted; w2v reads plain zip "
                                  f"archives only")
            if info.filename in names:  # zipfile would open the last one both times
                raise CorpusError(f"corpus file {uri}: member {info.filename} appears twice in the archive")
            names.add(info.filename)
            members.append(Member(info.filename, info.file_size, info.compress_size))
    return members


class _MemberStream(io.RawIOBase):
    """One member's bytes; closing it closes the member, the archive and the stream under them."""

    def __init__(self, member: IO, archive: zipfile.ZipFile, raw: IO):
        self.member = member  # the decompressed member (zipfile's ZipExtFile, maybe in a decompressor)
        self.archive = archive  # the archive it is in
        self.raw = raw  # the seekable stream (or local spool) the archive is read from

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.member.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            for part in (self.member, self.archive, self.raw):
                part.close()
        super().close()


def open_member(uri: str, name: str, settings: storage.S3Settings | None = None,
                version: dict[str, str] | None = None) -> IO:
    """A binary stream of one member, decompressed (a `*.gz` member, say, by its extension too), of the
    archive's `version` as listed when given."""
    from smart_open.compression import compression_wrapper

    archive, raw = _open_zip(uri, settings, version)
    try:
        member: IO = archive.open(name)
    except KeyError:
        archive.close()
        raw.close()
        raise CorpusError(f"corpus file {uri}: no member {name} (the archive changed since it was listed?)"
                          ) from None
    except (NotImplementedError, RuntimeError) as exc:  # an unsupported compression method, encryption
        archive.close()
        raw.close()
        raise CorpusError(f"corpus file {uri}: member {name} cannot be read ({exc})") from None
    if storage.is_compressed(name):
        member = compression_wrapper(member, "rb", filename=name)
    return io.BufferedReader(_MemberStream(member, archive, raw), SPOOL_BLOCK_BYTES)
