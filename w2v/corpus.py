"""From corpus paths to shards, and from a shard to a stream of sentences.

A sentence is one line split on whitespace (gensim `LineSentence` semantics), or, with the
`simple` tokenizer, the words gensim's `simple_preprocess` finds in the line (`tokenize`). A line longer than
`MAX_SENTENCE_WORDS` becomes several sentences: gensim would silently cut it. Files are read in
blocks of `BLOCK_CHARS` characters, and a long line is tokenized in pieces of `TOKENIZE_CHARS`
cut at whitespace, so memory grows neither with the file nor with the line (text8 is a single
line of 100M characters: no list of its 17M words, nor the line, is ever built).

A shard is a whole file or, for big uncompressed files, a byte range of one (`split_shards`), so
K actors get near-equal bytes even when the corpus is one 20 GB file. A range [start, end) owns
the lines that *start* in it: it begins after the first newline at or past byte start-1 and ends
at the first newline at or past byte end-1, so consecutive ranges read every line exactly once
(Hadoop's rule). Where no newline comes within LONG_LINE_BYTES of that byte (text8 and enwik9's
fil9 are one 100 MB line), the range boundary is past the first whitespace instead (`_boundary`):
gensim cuts such a line into 10,000-word sentences anyway, so one long line splits over K actors
like many short ones, every word read by exactly one range. Compressed files cannot be entered in
the middle and are always whole (one actor reads a single compressed text8.zip or text8.gz). A zip
archive is one shard per member (`archive`), each read whole. A Parquet file splits by row groups
instead of bytes (`formats`); JSON Lines split by bytes like text, a record per line.

This module does not count or train: `vocab` and `trainer` consume the sentences it yields.
"""

from __future__ import annotations

import gzip
import io
import logging
import lzma
import math
import os
import re
import time
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from typing import IO, Any, Iterator, Mapping, Sequence

from . import archive, formats, storage
from .config import MAX_EXPANSION, MAX_SENTENCE_WORDS, TOKENIZERS
from .errors import BadShardError, CorpusError, StorageError, StorageUnavailableError

logger = logging.getLogger(__name__)

BLOCK_CHARS = 1 << 20  # characters decoded per read
RANGE_READ_BYTES = 1 << 20  # bytes fetched per read inside a byte range (one ranged GET streams them)
PIECES_PER_ACTOR = 16  # automatic splitting: pieces of at most total/(16 K) bytes, so greedy is within ~6%
MIN_PIECE_BYTES = 64 * 2**10  # never split finer than this: it only adds tasks and requests
BALANCE_TOLERANCE = 0.05  # whole files within 5% of an even split by bytes are not split at all
LONG_LINE_BYTES = 1 << 20  # a range boundary with no newline this far past it cuts the line at whitespace
SCAN_BYTES = 1 << 16  # bytes read at a time while looking for a range boundary
MAX_TOKEN_CHARS = 1 << 20  # a "word" longer than this is cut: it is garbage, and memory stays bounded
# A sentence is also cut once it holds this many characters: 10,000 words of ~100 characters, where real text
# has ~6 (text8's 10,000-word sentences are ~60,000). Without it a run of 1 MiB "words" (2 GiB of zeros) was one
# sentence of up to 10,000 x 1 MiB, held whole: memory grew with the decompressed size.
MAX_SENTENCE_CHARS = 1 << 20
# An archive member or a compressed file may expand to `max_expansion` times its compressed bytes, plus this
# much (a small file of one repeated line compresses ~340x with gzip: harmless at this size).
EXPANSION_FLOOR_BYTES = 16 << 20
TOKENIZE_CHARS = 1 << 16  # a long line is tokenized this many characters at a time: ~11,000 text8 words

SAMPLE_PREFIX = "sample:"  # `sample:` is the demo text (`demo_text`); `sample:NAME` a file of gensim's test data
SIMPLE_MIN_CHARS, SIMPLE_MAX_CHARS = 2, 15  # the simple tokenizer's word lengths: simple_preprocess's defaults

# Text is decoded with errors="surrogateescape": each byte that is not UTF-8 becomes one lone
# surrogate in this range, which valid UTF-8 can never produce. So a line holds bad bytes exactly
# when it holds one of these, and the unicode_errors policy is applied (and counted) per line.
_BAD_BYTES = re.compile("[\udc80-\udcff]")
_SPACE_BYTES = re.compile(rb"[ \t\n\r\x0b\x0c]")  # ASCII whitespace: str.split cuts there, never inside a UTF-8 character


@dataclass(frozen=True)
class Shard:
    """One unit of reading work: a whole file, the lines starting in bytes [start, end) of one, or row groups of a Parquet file."""

    uri: str
    size: int  # bytes on storage of this shard: the range's length, or the file's (compressed) size
    mtime: float
    start: int = 0  # first byte of the range (0 for a whole file)
    end: int | None = None  # byte after the range; None: a whole file
    file_size: int | None = None  # a range's whole file as listed, in bytes: never read past it (None: unknown)
    member: str | None = None  # a zip archive's member (`archive`): the shard is that member, read whole
    etag: str | None = None  # the file's version tag as listed (S3, HTTP), recorded in the manifest
    last_modified: str | None = None  # HTTP's Last-Modified as listed, recorded in the manifest
    row_groups: tuple[int, int] | None = None  # a Parquet file's row groups [first, last); None: all of them
    records: int | None = None  # rows of those row groups, from the Parquet footer (None: not known before reading)

    @property
    def limit(self) -> int | None:
        """Bytes of the file as listed: reading stops there, so a file appended to meanwhile reads as planned."""
        return self.size if self.end is None else self.file_size

    @property
    def name(self) -> str:
        """Unique within an assignment: the URI, with `#bytes=start-end` for a range, `#member=NAME` for a zip member,
        `#row_groups=first-last` for row groups of a Parquet file.

        >>> Shard("s3://b/big.txt", 10, 0, 0, 10).name, Shard("https://h/text8.zip", 9, 0, member="text8").name
        ('s3://b/big.txt#bytes=0-10', 'https://h/text8.zip#member=text8')
        >>> Shard("s3://b/f.parquet", 9, 0, row_groups=(2, 4)).name
        's3://b/f.parquet#row_groups=2-4'
        """
        if self.member is not None:
            return f"{self.uri}#member={self.member}"
        if self.row_groups is not None:
            return f"{self.uri}#row_groups={self.row_groups[0]}-{self.row_groups[1]}"
        return self.uri if self.end is None else f"{self.uri}#bytes={self.start}-{self.end}"

    def version(self) -> dict[str, str]:
        """The file's version as listed, for the manifest: `etag` and `last_modified` where the store gives them.

        >>> Shard("https://h/a.txt", 1, 0, etag='"5e-1"').version()
        {'etag': '"5e-1"'}
        """
        return {k: v for k, v in (("etag", self.etag), ("last_modified", self.last_modified)) if v}


@dataclass(frozen=True)
class ReadOptions:
    """How text becomes tokens; identical for counting and training, or the vocabulary lies."""

    lowercase: bool = False
    tokenizer: str = "whitespace"  # whitespace | simple; see `tokenize`
    deaccent: bool = False  # simple tokenizer: strip accents first
    unicode_errors: str = "strict"  # strict | replace | ignore | skip (the line); see config
    max_sentence_words: int = MAX_SENTENCE_WORDS
    max_expansion: float = MAX_EXPANSION  # a compressed file or member expands to at most this x its bytes; 0: any
    on_bad_shard: str = "fail"  # fail | skip: what `vocab.count_shard` does with a corrupt archive
    text_field: str | None = None  # JSON Lines field (dotted) or Parquet column holding the text; None: plain text
    on_bad_line: str = "fail"  # fail | skip: a JSON line that is not JSON or lacks the field, a null Parquet text
    s3: storage.S3Settings = field(default_factory=storage.S3Settings)  # how this process reaches S3
    phrases: Any = None  # phrases.Phrasing joined into every sentence (new york -> new_york); None: no phrases

    @classmethod
    def of(cls, source: Any, phrases: Any = None) -> ReadOptions:
        """The one constructor from settings: a job's (a TrainConfig: counting and training read alike) or an
        artifact's (its manifest's `parameters`: the tokenization only, keys older artifacts lack at their
        defaults); `phrases` joined when given.

        >>> ReadOptions.of({"lowercase": True, "tokenizer": "simple"}).tokenizer
        'simple'
        """
        if isinstance(source, Mapping):
            return cls(lowercase=bool(source.get("lowercase", False)), tokenizer=source.get("tokenizer", "whitespace"),
                       deaccent=bool(source.get("deaccent", False)), phrases=phrases)
        return cls(lowercase=source.lowercase, tokenizer=source.tokenizer, deaccent=source.deaccent,
                   unicode_errors=source.unicode_errors, max_expansion=source.max_expansion,
                   on_bad_shard=source.on_bad_shard, text_field=source.text_field, on_bad_line=source.on_bad_line,
                   s3=source.s3_settings(), phrases=phrases)


@dataclass
class ReadStats:
    """What one pass over a shard met, filled in while its sentences are read."""

    lines: int = 0  # lines read ("\n"-terminated, plus a last one without a newline)
    bad_lines: int = 0  # lines that held bytes that are not UTF-8, or bad records (formats: not JSON, no field)
    records: int = 0  # JSON Lines records or Parquet rows read; 0 for plain text (its records are `lines`)


def tokenize(text: str, options: ReadOptions = ReadOptions()) -> list[str]:
    """The tokens of one line (or piece of a line cut at whitespace): the one rule counting, training and `to_indices` share.

    >>> tokenize("Don't stop, café-2!"), tokenize("Don't stop, café-2!", ReadOptions(tokenizer="simple"))
    (["Don't", 'stop,', 'café-2!'], ['don', 'stop', 'café'])
    """
    if options.tokenizer == "whitespace":
        return text.split()
    if options.tokenizer == "simple":
        from gensim.utils import simple_preprocess

        return simple_preprocess(text, deacc=options.deaccent, min_len=SIMPLE_MIN_CHARS, max_len=SIMPLE_MAX_CHARS)
    raise CorpusError(f"tokenizer {options.tokenizer!r}: must be one of {TOKENIZERS}")


def resolve_sample(entry: str) -> list[str]:
    """`sample:` -> the demo texts (`demo_text`); `sample:NAME` -> that one file of gensim's test data.

    >>> resolve_sample("sample:")
    ['sample://wiki', 'sample://lee']
    """
    from gensim.test.utils import datapath

    from .storage import demo_text

    if entry == SAMPLE_PREFIX:
        return [demo_text.uri(name) for name in demo_text.TEXTS]
    if demo_text.is_demo(entry):
        return [entry]
    names = entry[len(SAMPLE_PREFIX) :].split(",")
    paths = [datapath(n) for n in names if n]
    for p in paths:
        if not os.path.isfile(p):
            raise CorpusError(f"{entry}: gensim ships no test file {os.path.basename(p)!r}")
    return paths


def list_shards(entries: Sequence[str], keep_empty: bool = False) -> list[Shard]:
    """Expand corpus entries (files, directories, globs, `sample:`) into shards, in a stable order.

    Zero-byte files are left out (with a warning), or kept with `keep_empty` for a caller that
    accounts for them (the job lists them in the manifest's `skipped_shards`). Raises CorpusError
    when an entry matches nothing, when the same file is given twice, or when every file is empty.
    """
    shards: list[Shard] = []
    seen: dict[str, str] = {}  # uri -> the entry that produced it
    for entry in entries:
        targets = resolve_sample(entry) if entry.startswith(SAMPLE_PREFIX) else [entry]
        for target in targets:
            try:
                infos = storage.list_files(target)
            except StorageUnavailableError as exc:  # the store's trouble, not the path's: keeps its exit code
                raise StorageUnavailableError(f"corpus path {exc}") from None
            except StorageError as exc:
                raise CorpusError(f"corpus path {exc}") from None
            if not infos:
                raise CorpusError(f"corpus path {target}: no files found")
            for info in infos:
                if info.uri in seen:
                    raise CorpusError(
                        f"corpus file {info.uri} is given twice (by {seen[info.uri]!r} and {entry!r})"
                    )
                seen[info.uri] = entry
                whole = Shard(uri=info.uri, size=info.size, mtime=info.mtime, etag=info.etag,
                              last_modified=info.last_modified)
                shards.extend(_members(whole) if archive.is_archive(info.uri) and info.size else [whole])
    if not shards or all(s.size == 0 for s in shards):
        raise CorpusError(f"corpus {', '.join(entries)}: every file is empty")
    skipped = [s for s in shards if s.size == 0]
    for s in skipped:
        logger.warning("skipping empty corpus file %s", s.name)
    return shards if keep_empty else [s for s in shards if s.size > 0]


def check_formats(shards: Sequence[Shard], text_field: str | None) -> None:
    """Before any reading: --text-field given exactly when JSON Lines or Parquet files are, and pyarrow there for Parquet."""
    formats.check_text_field([s.member or s.uri for s in shards], text_field)
    if any(formats.format_of(s.uri) == formats.PARQUET for s in shards):
        from . import extras

        extras.check("pyarrow", "reading a Parquet corpus")


def _members(whole: Shard) -> list[Shard]:
    """A zip archive's shards: one per member, sized by its compressed bytes (empty members: size 0)."""
    members = archive.list_members(whole.uri, version=whole.version())
    if not members:
        raise CorpusError(f"corpus file {whole.uri}: the zip archive holds no file")
    logger.info("%s: %d member(s), one shard each", whole.uri, len(members))
    return [replace(whole, size=m.compressed_size if m.size else 0, member=m.name) for m in members]


def _location(uri: str) -> str:
    """Where an entry or output lives, comparable by prefix: absolute, links resolved, up to a glob's first magic.

    >>> _location("s3://b/corpus/*.txt"), _location("s3://b/art/")
    ('s3://b/corpus', 's3://b/art')
    """
    local = storage.local_path(uri)
    if local is not None:
        path = os.path.expanduser(local)
        magic = re.search(r"[*?\[]", path)
        fixed = os.path.dirname(path[: magic.start()] + "x") if magic else path
        return os.path.realpath(fixed or ".")
    magic = re.search(r"[*?\[]", uri)
    return (uri[: magic.start()].rsplit("/", 1)[0] if magic else uri).rstrip("/")


def refuse_overlap(entries: Sequence[str], outputs: dict[str, str]) -> None:
    """A CorpusError when an output (flag -> location) is inside a corpus entry, or an entry inside an output.

    An artifact written into the corpus directory would be read as corpus by the next run (and a
    corpus inside `--out` would be replaced by the artifact).
    """
    corpus = [(e, _location(e)) for e in entries if not e.startswith(SAMPLE_PREFIX)]
    for flag, output in outputs.items():
        where = _location(output)
        for entry, base in corpus:
            if (storage.local_path(entry) is None) != (storage.local_path(output) is None):
                continue  # one on this machine, the other in a store: never inside each other
            if where == base or where.startswith(base.rstrip("/") + "/"):
                raise CorpusError(f"{flag} {output} is inside the corpus location {base}: the next run would read "
                                  f"what it writes as corpus; choose a {flag} outside it")
            if base.startswith(where.rstrip("/") + "/"):
                raise CorpusError(f"corpus path {entry} is inside {flag} {output}; move the corpus or choose "
                                  f"another {flag}")


def assign_shards(shards: Sequence[Shard], actors: int) -> list[list[Shard]]:
    """Balance shards over actors by bytes: largest first, each to the least loaded actor.

    >>> [[s.size for s in a] for a in assign_shards([Shard("a", 5, 0), Shard("b", 3, 0), Shard("c", 3, 0)], 2)]
    [[5], [3, 3]]
    """
    if actors < 1:
        raise ValueError("actors must be >= 1")
    loads = [0] * actors
    assignment: list[list[Shard]] = [[] for _ in range(actors)]
    for shard in sorted(shards, key=lambda s: (-s.size, s.uri)):
        i = min(range(actors), key=lambda j: (loads[j], j))
        assignment[i].append(shard)
        loads[i] += shard.size
    return assignment


def split_shards(shards: Sequence[Shard], actors: int, piece_bytes: int | None = None) -> list[Shard]:
    """Split big uncompressed files into byte ranges, so `actors` actors can get near-equal bytes.

    With `piece_bytes`, every uncompressed file bigger than that is split into pieces of at most
    that size. Without it (automatic), nothing is split when whole files already balance within
    BALANCE_TOLERANCE; otherwise files bigger than total/(PIECES_PER_ACTOR x actors) bytes (at
    least MIN_PIECE_BYTES) are split into equal pieces of at most that size. Compressed files (and
    the generated demo text) stay whole: one much bigger than the others cannot be balanced (a warning says so).

    >>> [(s.start, s.end) for s in split_shards([Shard("a.txt", 10, 0)], 2, piece_bytes=4)]
    [(0, 3), (3, 6), (6, 10)]
    """
    total = sum(s.size for s in shards)
    if piece_bytes is None:
        if _imbalance(assign_shards(shards, actors)) <= BALANCE_TOLERANCE:
            return list(shards)
        piece_bytes = max(MIN_PIECE_BYTES, math.ceil(total / (actors * PIECES_PER_ACTOR)))
    pieces: list[Shard] = []
    for s in shards:
        if s.member is None and s.row_groups is None and _is_parquet(s) and s.size > piece_bytes:
            pieces.extend(_row_group_pieces(s, piece_bytes))
            continue
        if s.end is not None or not _byte_splittable(s) or s.size <= piece_bytes:
            pieces.append(s)
            continue
        n = math.ceil(s.size / piece_bytes)
        bounds = [s.size * i // n for i in range(n + 1)]
        pieces.extend(replace(s, size=b - a, start=a, end=b, file_size=s.size) for a, b in zip(bounds, bounds[1:]))
    whole = [s for s in pieces if s.end is None and not _is_parquet(s) and not _byte_splittable(s)]
    if whole and actors > 1 and max(s.size for s in whole) > total / actors:
        biggest = max(whole, key=lambda s: s.size)
        if len(pieces) == 1:  # text8.zip, text8.gz: the cheapest honest thing is one reader, said up front
            logger.warning("%s is one compressed stream (%d bytes): it cannot be split by bytes, so ONE actor reads and "
                           "trains on it while the other %d are not started; decompress it (a plain file, even one "
                           "line, splits over every actor) or recompress it as several files",
                           biggest.name, biggest.size, actors - 1)
        else:
            logger.warning("%s (%d bytes, compressed or generated) is more than one actor's share (%d bytes): it cannot "
                           "be split, so the actors will not get equal bytes; recompress it as several files",
                           biggest.name, biggest.size, total // actors)
    return pieces


def _is_parquet(shard: Shard) -> bool:
    return formats.format_of(shard.uri) == formats.PARQUET


def _byte_splittable(shard: Shard) -> bool:
    return storage.is_splittable(shard.uri) and not _is_parquet(shard)


def _row_group_pieces(shard: Shard, piece_bytes: int) -> list[Shard]:
    """A Parquet file as shards of consecutive row groups of about `piece_bytes` compressed bytes each.

    Row groups are Parquet's unit of independent reading (a footer lists their byte ranges): a file
    written as one row group stays one shard. Only the footer is read here.
    """
    try:
        with storage.open(shard.uri, "rb", compression="disable") as raw:
            groups = formats.row_group_sizes(raw, shard.uri)  # (rows, bytes) per row group
    except BadShardError:
        return [shard]  # the counting pass meets it again, and fails or skips it (--on-bad-shard)
    total = sum(size for _, size in groups) or 1
    n = max(1, math.ceil(total / piece_bytes))
    pieces: list[Shard] = []
    before, current = 0, -1  # compressed bytes of the row groups before g; the piece being filled
    for g, (rows, size) in enumerate(groups):
        index = min(n - 1, before * n // total)  # the piece whose share of the bytes this group starts in
        if index != current:
            pieces.append(replace(shard, size=0, row_groups=(g, g), records=0, file_size=shard.size))
            current = index
        last = pieces[-1]
        pieces[-1] = replace(last, size=last.size + size, row_groups=(last.row_groups[0], g + 1),
                             records=last.records + rows)
        before += size
    if len(pieces) <= 1:
        logger.info("%s has %d Parquet row group(s): one shard (write it with smaller row groups to split it)",
                    shard.uri, len(groups))
        return [replace(shard, records=sum(rows for rows, _ in groups))]
    return pieces


def _imbalance(assignment: Sequence[Sequence[Shard]]) -> float:
    """How far the busiest actor is above an even split by bytes: 0.0 is perfect, 0.1 is 10% above."""
    loads = [sum(s.size for s in p) for p in assignment]
    mean = sum(loads) / len(loads)
    return max(loads) / mean - 1 if mean else 0.0


def assignment_summary(assignment: Sequence[Sequence[Shard]]) -> str:
    """One log line: shards, byte ranges, bytes per actor and the imbalance.

    >>> assignment_summary([[Shard("a", 6, 0)], [Shard("b", 2, 0, 0, 2), Shard("b", 2, 0, 2, 4)]])
    'assignment: 3 shard(s) (2 byte range(s) of 1 file(s)), 10 bytes; actor 0: 1 shard(s) 6 bytes, actor 1: 2 shard(s) 4 bytes; busiest actor 20.0% above an even split'
    """
    shards = [s for p in assignment for s in p]
    ranges = [s for s in shards if s.end is not None]
    files = len({s.uri for s in ranges})
    each = ", ".join(f"actor {k}: {len(p)} shard(s) {sum(s.size for s in p):,} bytes" for k, p in enumerate(assignment))
    return (f"assignment: {len(shards)} shard(s) ({len(ranges)} byte range(s) of {files} file(s)), "
            f"{sum(s.size for s in shards):,} bytes; {each}; "
            f"busiest actor {100 * _imbalance(assignment):.1f}% above an even split")


def _boundary(raw: IO, p: int, limit: int | None) -> int:
    """Where a range that starts (or ends) at byte `p` really starts (ends): the same byte for both sides.

    Past the first newline at or after byte p-1, when one comes within LONG_LINE_BYTES; otherwise
    (inside a line too long for one sentence, or a last line without a newline) past the first
    whitespace at or after p-1. Both rules
    give a boundary that grows with `p`, so consecutive ranges [B(start), B(end)) cover the file once,
    and a cut at whitespace never splits a word. Reads SCAN_BYTES at a time, never at or past `limit`.
    """
    if p <= 0:
        return 0
    if limit is not None and p >= limit:
        return limit
    raw.seek(p - 1)
    pos, window, space = p - 1, p - 1 + LONG_LINE_BYTES, None  # space: the first whitespace byte at or after p-1
    while True:
        want = SCAN_BYTES if limit is None else min(SCAN_BYTES, limit - pos)
        block = raw.read(want) if want > 0 else b""
        if not block:  # the file ends, with no newline: a last line is cut like a long one (words stay whole)
            return space + 1 if space is not None else max(pos, p)
        newline = block.find(b"\n")
        if newline >= 0 and pos + newline < window:
            return pos + newline + 1
        if space is None:
            found = _SPACE_BYTES.search(block)
            space = None if found is None else pos + found.start()
        if space is not None and pos + len(block) >= window:
            return space + 1
        pos += len(block)


class _LineRange(io.RawIOBase):
    """The bytes of the lines that start in [start, end) of a seekable binary stream (`_boundary`), read lazily.

    Memory stays at one SCAN_BYTES block while the boundaries are found, whatever the length of the
    lines around them. Nothing at or past byte `limit` is read: the file's size when it was listed,
    so bytes appended since are not.
    """

    def __init__(self, raw: IO, start: int, end: int, limit: int | None = None):
        self.raw = raw  # the open file or S3 object, closed with this reader
        self.stop = _boundary(raw, end, limit)  # the byte after the range's last
        self.pos = min(_boundary(raw, start, limit), self.stop)  # file position of the next byte to hand out
        raw.seek(self.pos)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = min(len(buffer), self.stop - self.pos)
        if want <= 0:
            return 0
        n = self.raw.readinto(memoryview(buffer)[:want]) or 0
        self.pos += n
        return n

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()


class _Head(io.RawIOBase):
    """The first `limit` bytes of a binary stream: a whole file as big as it was when listed."""

    def __init__(self, raw: IO, limit: int):
        self.raw = raw  # the open file or S3 object, closed with this reader
        self.left = limit  # bytes still to hand out

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.left <= 0:
            return 0
        n = self.raw.readinto(memoryview(buffer)[: self.left]) or 0
        self.left -= n
        return n

    def close(self) -> None:
        if not self.closed:
            self.raw.close()
        super().close()


class _Expansion(io.RawIOBase):
    """The decompressed bytes of a file or member, refused beyond `limit`: a zip bomb fails while it streams.

    2 GiB of zeros zip to 2.1 MB; read whole they took 8 minutes, 10.7 GB of memory and 2.1 GB of spool
    for a one-word model. Real text compresses 3-4x (gzip, bzip2, xz on gensim's corpora; text8.zip 3.2x).
    """

    def __init__(self, inner: IO, shard: Shard, ratio: float):
        self.inner = inner  # the decompressing stream, closed with this one
        self.shard = shard  # named in the error
        self.ratio = ratio  # --max-expansion
        self.limit = int(ratio * shard.size) + EXPANSION_FLOOR_BYTES  # bytes it may hand out
        self.seen = 0  # bytes handed out

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.inner.readinto(buffer) or 0
        self.seen += n
        if self.seen > self.limit:
            raise CorpusError(f"corpus file {self.shard.name} expands to more than {self.limit:,} bytes from "
                              f"{self.shard.size:,} compressed (over {self.ratio:g}x: a zip bomb?); if it is real "
                              f"text, raise --max-expansion (0 = no limit)")
        return n

    def close(self) -> None:
        if not self.closed:
            self.inner.close()
        super().close()


def _bounded(stream: IO, shard: Shard, options: ReadOptions) -> IO:
    """`stream` (decompressed) under the expansion limit, unless it is off."""
    if not options.max_expansion:
        return stream
    return io.BufferedReader(_Expansion(stream, shard, options.max_expansion), BLOCK_CHARS)


def _open_text(shard: Shard, options: ReadOptions) -> IO:
    """A text stream over one shard: the whole (decompressed) file, or the lines of its byte range.

    Either way only the bytes the file had when it was listed are read (a log still being written
    to gives the words it had at planning, in the counting pass and in every spool alike).
    """
    from smart_open.compression import compression_wrapper

    if shard.member is not None:
        member = _bounded(archive.open_member(shard.uri, shard.member, options.s3, shard.version()), shard, options)
        return io.TextIOWrapper(member, encoding="utf-8", errors="surrogateescape", newline="")
    raw = storage.open(shard.uri, "rb", settings=options.s3, compression="disable", version=shard.version())
    if shard.end is None:
        stream: IO = io.BufferedReader(_Head(raw, shard.size))
        if storage.is_compressed(shard.uri):
            stream = _bounded(compression_wrapper(stream, "rb", filename=shard.uri), shard, options)
    else:
        stream = io.BufferedReader(_LineRange(raw, shard.start, shard.end, shard.limit), RANGE_READ_BYTES)
    return io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")


def _blocks(shard: Shard, options: ReadOptions, stats: ReadStats | None = None) -> Iterator[str]:
    """Decoded text blocks of one shard; decoding and archive errors name the file.

    With a text field, a JSON Lines or Parquet shard's blocks are its records' texts, each ending a
    line (`formats`); their records and bad lines are added to `stats`.
    """
    kind = formats.read_as(shard.member or shard.uri, options.text_field)
    counted = [0, 0]  # records read, bad lines (formats fills it in)
    where = shard.name if shard.end is None else f"{shard.uri}, byte range {shard.start}-{shard.end},"
    try:
        if kind == formats.PARQUET:
            with storage.open(shard.uri, "rb", settings=options.s3, compression="disable") as raw:
                texts = formats.parquet_texts(raw, options.text_field, shard.row_groups, where, options.on_bad_line,
                                              counted)
                yield from _lowered(_joined(texts), options)
            return
        with _open_text(shard, options) as f:
            if kind == formats.JSON_LINES:
                texts = formats.json_texts(f, options.text_field, where, options.on_bad_line, counted)
                yield from _lowered(_joined(texts), options)
                return
            yield from _lowered(iter(lambda: f.read(BLOCK_CHARS), ""), options)
    except (EOFError, gzip.BadGzipFile, lzma.LZMAError, zlib.error, zipfile.BadZipFile) as exc:
        raise _bad_archive(shard, exc) from None
    except OSError as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise CorpusError(f"corpus file {shard.uri} cannot be read: {exc.strerror}") from None
        if storage.local_path(shard.uri) is None:
            raise CorpusError(f"corpus file {shard.uri} cannot be read: {type(exc).__name__}: {exc}") from None
        raise _bad_archive(shard, exc) from None
    except Exception as exc:  # zstandard raises its own ZstdError
        if type(exc).__name__ == "ZstdError":
            raise _bad_archive(shard, exc) from None
        raise
    finally:
        if stats is not None:
            stats.records += counted[0]
            stats.bad_lines += counted[1]


def _lowered(blocks: Iterator[str], options: ReadOptions) -> Iterator[str]:
    return (block.lower() for block in blocks) if options.lowercase else blocks


def _joined(texts: Iterator[str]) -> Iterator[str]:
    r"""Records' texts as blocks of about BLOCK_CHARS characters, each text ending a line.

    >>> list(_joined(iter(["a b", "c"])))
    ['a b\nc\n']
    """
    batch: list[str] = []
    size = 0
    for text in texts:
        batch.append(text)
        size += len(text)
        if size >= BLOCK_CHARS:
            batch.append("")
            yield "\n".join(batch)
            batch, size = [], 0
    if batch:
        batch.append("")
        yield "\n".join(batch)


def _bad_archive(shard: Shard, exc: Exception) -> BadShardError:
    return BadShardError(f"corpus file {shard.name} is a corrupt or truncated archive ({exc}); "
                         f"replace it or pass --on-bad-shard skip")


def _clean(text: str, shard: Shard, policy: str, line_number: int) -> str:
    r"""Apply the unicode_errors policy to text holding bad bytes (escaped as lone surrogates).

    >>> _clean("caf\udce9 au lait", Shard("x", 1, 0), "replace", 1) == "caf\ufffd au lait"
    True
    """
    if policy == "replace":
        return _BAD_BYTES.sub("\ufffd", text)
    if policy in ("ignore", "skip"):  # skip: the caller drops the line; the text is not used
        return _BAD_BYTES.sub("", text)
    byte = ord(_BAD_BYTES.search(text).group()) - 0xDC00
    raise CorpusError(f"corpus file {shard.uri} is not valid UTF-8 (byte 0x{byte:02x} on line {line_number}); "
                      f"fix the file or pass --unicode-errors replace|ignore|skip")


def _split_full(pending: list[str], limit: int) -> Iterator[list[str]]:
    """Yield `limit`-word sentences while more than `limit` words are pending; return the rest."""
    while len(pending) > limit:
        yield pending[:limit]
        pending = pending[limit:]
    return pending


_WHITESPACE = re.compile(r"\s")  # str.isspace's characters: where str.split cuts, never inside a token


def _pieces(text: str, size: int) -> Iterator[str]:
    """`text` cut at whitespace into pieces of about `size` characters: tokenizing them gives its tokens.

    >>> list(_pieces("ab cd ef gh", 4)), list(_pieces("abc", 4))
    (['ab cd', ' ef gh'], ['abc'])
    """
    start = 0
    while len(text) - start > size:
        cut = _WHITESPACE.search(text, start + size)
        if cut is None:
            break
        yield text[start : cut.start()]
        start = cut.start()
    yield text[start:] if start else text


def _add_tokens(pending: list[str], text: str, options: ReadOptions, limit: int) -> Iterator[list[str]]:
    """Tokenize `text` onto `pending` a piece at a time, yielding every full sentence; return the rest.

    So a line of a million words never becomes a list of a million words: at most `limit` plus
    one piece's tokens are held, and a run of huge tokens is cut at MAX_SENTENCE_CHARS.
    """
    for piece in _pieces(text, TOKENIZE_CHARS):
        pending.extend(tokenize(piece, options))
        # A piece longer than TOKENIZE_CHARS holds a token that long: cut the sentence by characters too
        if len(piece) > TOKENIZE_CHARS and sum(map(len, pending)) > MAX_SENTENCE_CHARS:
            yield pending
            pending = []
        pending = yield from _split_full(pending, limit)
    return pending


def iter_sentences(shard: Shard, options: ReadOptions = ReadOptions(),
                   stats: ReadStats | None = None) -> Iterator[list[str]]:
    """Sentences of one shard: each line's tokens (`tokenize`), long lines split every N words.

    Memory is bounded by BLOCK_CHARS characters + N words + one piece's words (`_add_tokens`),
    whatever the line length. CRLF line ends need no care: "\r" is whitespace. Lines with bytes
    that are not UTF-8 follow `options.unicode_errors` and are counted in `stats.bad_lines`;
    `skip` drops such a line whole, except the pieces of a line longer than a block that were
    already yielded.
    """
    # With phrases: each sentence as gensim would see it (after the split), its phrases joined. The one
    # place they are joined, so counting, spooling and read_rate all agree.
    if options.phrases is not None:
        yield from map(options.phrases.apply, iter_sentences(shard, replace(options, phrases=None), stats))
        return
    stats = stats if stats is not None else ReadStats()
    policy = options.unicode_errors
    limit = options.max_sentence_words
    pending: list[str] = []  # tokens of the line being read, not yet yielded
    tail = ""  # a token cut by the block boundary, completed by the next block
    line_bad = False  # the line being read (spanning blocks) held bad bytes
    for block in _blocks(shard, options, stats):
        text = tail + block
        has_bad = _BAD_BYTES.search(text) is not None  # one C-speed scan per block in the common case
        lines = text.split("\n")
        tail = ""
        last = lines.pop()  # the unfinished line (empty when the block ends with a newline)
        for line in lines:
            stats.lines += 1
            if has_bad and _BAD_BYTES.search(line):
                line, line_bad = _clean(line, shard, policy, stats.lines), True
            if line_bad:
                stats.bad_lines += 1
                line_bad = False
                if policy == "skip":
                    pending = []
                    continue
            pending = yield from _add_tokens(pending, line, options, limit)
            if pending:
                yield pending
            pending = []
        if has_bad and _BAD_BYTES.search(last):
            last, line_bad = _clean(last, shard, policy, stats.lines + 1), True
        if line_bad and policy == "skip":
            pending, last = [], ""
        if last and not last[-1].isspace():
            head = last.rsplit(None, 1)
            last, tail = ("", head[0]) if len(head) == 1 else head
            if len(tail) > MAX_TOKEN_CHARS:
                last, tail = last + " " + tail[:MAX_TOKEN_CHARS], tail[MAX_TOKEN_CHARS:]
        pending = yield from _add_tokens(pending, last, options, limit)
    if tail or pending or line_bad:
        stats.lines += 1  # the last line had no newline
        if line_bad:
            stats.bad_lines += 1
            if policy == "skip":
                return
    pending = yield from _add_tokens(pending, tail, options, limit)
    if pending:
        yield pending


class ShardSentences:
    """Re-iterable sentences over several shards in order (gensim rejects one-shot generators)."""

    def __init__(self, shards: Sequence[Shard], options: ReadOptions = ReadOptions()):
        self.shards = list(shards)  # read in this order, every iteration
        self.options = options  # tokenization, the same as the vocabulary pass

    def __iter__(self) -> Iterator[list[str]]:
        for shard in self.shards:
            yield from iter_sentences(shard, self.options)


def read_rate(shards: Sequence[Shard], options: ReadOptions = ReadOptions()) -> dict[str, float]:
    """Stream shards through the tokenizer, as the counting and spooling passes do, and time it.

    One process, one thread: the rate of one actor's reading. `bytes` are bytes on storage
    (compressed bytes for compressed files), so MB/s is the rate at which storage is drained.
    """
    started = time.perf_counter()
    words = sentences = 0
    for sentence in ShardSentences(shards, options):
        words += len(sentence)
        sentences += 1
    seconds = max(time.perf_counter() - started, 1e-9)
    size = sum(s.size for s in shards)
    return {"bytes": size, "words": words, "sentences": sentences, "seconds": round(seconds, 3),
            "mb_per_s": round(size / 1e6 / seconds, 2), "words_per_s": round(words / seconds)}
