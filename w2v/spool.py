"""A trainer's spool: its shards' sentences written to local plain files that gensim's corpus_file mode trains.

`spool_chunks` writes them as chunks of near-equal words (one chunk is trained between two
exchanges), one file per gensim worker thread each. A spool lives in a directory named after its
owner process (`new_spool_dir`, `owners`), so the next trainer on the host removes those of dead
processes, and is marked finished with a record (`write_spool_record`), so a trainer that Ray
restarts on the same node takes over its predecessor's spool instead of reading its share of the
corpus again (`adopt_spool`). Reading and tokenizing are `corpus`'s; this module only writes and finds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from typing import IO, Sequence

from . import owners
from .corpus import ReadOptions, ReadStats, Shard, iter_sentences
from .errors import CorpusError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpoolStats:
    """What `spool_chunks` wrote (or `adopt_spool` found)."""

    path: str  # the directory of chunk files
    words: int  # tokens written (gensim's `total_words` for corpus_file training)
    sentences: int  # lines written
    bytes: int  # size of the spool file(s)
    bad_lines: int = 0  # lines with bytes that are not UTF-8 (see ReadOptions.unicode_errors)
    # chunk c, worker w -> (file, words in it); one chunk is trained between two exchanges
    chunks: tuple[tuple[tuple[str, int], ...], ...] = ()

    @property
    def chunk_words(self) -> list[int]:
        """Words in each chunk (all its workers' files).

        >>> SpoolStats("d", 5, 2, 9, chunks=((("a", 2), ("b", 1)), (("c", 2), ("d", 0)))).chunk_words
        [3, 2]
        """
        return [sum(words for _, words in chunk) for chunk in self.chunks]


SPOOL_PREFIX = "w2v-spool-"


def new_spool_dir(root: str | None) -> str:
    """A new private directory for one actor's spool file, after removing those of dead actors.

    A spool is as big as the actor's share of the corpus. An actor removes its own when it closes,
    but a process that crashed, or was killed with its driver, cannot: so every new actor first
    removes the spool directories on its host whose owner process is gone (`owners`). The owner
    (host and pid) is in the directory's name, so a spool on a shared `--spool-dir` of another
    host, or of a live job, is never touched.
    """
    root = root or tempfile.gettempdir()
    owners.remove_stale(root, SPOOL_PREFIX, "the spool directory of a trainer process")
    try:
        os.makedirs(root, exist_ok=True)
        return tempfile.mkdtemp(prefix=owners.owned_name(SPOOL_PREFIX) + "-", dir=root)
    except OSError as exc:
        raise CorpusError(f"cannot create a spool directory in {root}: {exc.strerror} (see --spool-dir)") from None


def stale_spool_dirs(root: str) -> list[str]:
    """Spool directories in `root` made on this host by a process that no longer runs."""
    return owners.stale(root, SPOOL_PREFIX)


SPOOL_RECORD = "spool.json"  # written last into a finished spool directory: what it holds, and for which job


def spool_key(shards: Sequence[Shard], options: ReadOptions, chunks: int, workers: int, expected_words: int) -> str:
    """What a spool's contents depend on, as a digest: the shards (with sizes and times), the tokenization,
    the phrases, and the cut into chunks and worker files. Equal keys, equal spool files.

    >>> a = spool_key([Shard("s3://b/a.txt", 10, 1.0)], ReadOptions(), 4, 2, 100)
    >>> a == spool_key([Shard("s3://b/a.txt", 10, 1.0)], ReadOptions(), 4, 2, 100)
    True
    >>> a == spool_key([Shard("s3://b/a.txt", 11, 1.0)], ReadOptions(), 4, 2, 100)
    False
    """
    digest = hashlib.sha256()
    digest.update(repr([(s.uri, s.size, s.mtime, s.start, s.end, s.member, s.etag, s.row_groups) for s in shards]
                       ).encode())
    digest.update(repr((options.lowercase, options.tokenizer, options.deaccent, options.unicode_errors,
                        options.max_sentence_words, options.text_field, options.on_bad_line, chunks, workers,
                        expected_words)).encode())
    phrasing = options.phrases
    if phrasing is not None:  # in sorted order: a set's or dict's order is not the same in every process
        digest.update(repr((phrasing.min_count, phrasing.threshold, phrasing.scoring, phrasing.connectors)).encode())
        for layer in phrasing.layers:
            digest.update(repr(sorted(layer.items())).encode())
    return digest.hexdigest()


def write_spool_record(stats: SpoolStats, key: str) -> None:
    """Mark a finished spool directory with what it holds (file names relative to it) and its key."""
    record = {"format_version": 1, "key": key, "words": stats.words, "sentences": stats.sentences,
              "bytes": stats.bytes, "bad_lines": stats.bad_lines,
              "chunks": [[[os.path.basename(path), words] for path, words in chunk] for chunk in stats.chunks]}
    with open(os.path.join(stats.path, SPOOL_RECORD), "w", encoding="utf-8") as f:
        json.dump(record, f)


def adopt_spool(root: str | None, key: str) -> SpoolStats | None:
    """A finished spool of a process of this host that died, with this `key`, made this process's own; or None.

    A trainer actor that Ray restarts on the same node needs exactly the spool its dead predecessor
    wrote (same shards, tokenization and chunks): re-reading its share of the corpus (from S3, a
    tens-of-GB share) would be most of what a fault costs. The directory is renamed to this
    process's name (so the cleaner of dead processes' spools leaves it alone) and checked: every
    file there at its recorded size, or it is not adopted (and is removed like any stale spool).
    """
    root = root or tempfile.gettempdir()
    for stale in owners.stale(root, SPOOL_PREFIX):
        try:
            with open(os.path.join(stale, SPOOL_RECORD), encoding="utf-8") as f:
                record = json.load(f)
        except (OSError, ValueError):
            continue  # unfinished or not ours: new_spool_dir removes it
        if record.get("key") != key:
            continue
        mine = os.path.join(root, f"{owners.owned_name(SPOOL_PREFIX)}-adopted-{os.urandom(4).hex()}")
        try:
            os.rename(stale, mine)
        except OSError:  # another process took it first
            continue
        chunks = tuple(tuple((os.path.join(mine, name), words) for name, words in chunk) for chunk in record["chunks"])
        try:
            size = sum(os.path.getsize(path) for chunk in chunks for path, _ in chunk)
        except OSError:
            size = -1
        if size != record["bytes"]:
            logger.warning("spool %s of a dead trainer is incomplete (%d of %d bytes): spooling again", stale, size,
                           record["bytes"])
            shutil.rmtree(mine, ignore_errors=True)
            continue
        logger.info("reusing the spool %s of a trainer process that ended (%d words)", stale, record["words"])
        return SpoolStats(path=mine, words=record["words"], sentences=record["sentences"], bytes=record["bytes"],
                          bad_lines=record["bad_lines"], chunks=chunks)
    return None


def chunk_bounds(expected_words: int, chunks: int) -> list[int]:
    """Cumulative word counts at which each chunk ends: near-equal chunks of `expected_words`.

    >>> chunk_bounds(10, 3), chunk_bounds(2, 3)
    ([3, 7, 10], [1, 1, 2])
    """
    return [round(expected_words * (c + 1) / chunks) for c in range(chunks)]


def spool_chunks(shards: Sequence[Shard], options: ReadOptions, directory: str, chunks: int, workers: int,
                 expected_words: int) -> SpoolStats:
    """Write the shards' sentences as `chunks` chunks of near-equal words, each split into one file per worker.

    Word pacing (see `sync`): an actor trains one chunk, then the actors exchange their deltas, so a
    chunk is the words an actor trains between two exchanges. Each gensim worker thread trains its
    own file of the chunk to its end: the chunk's words are trained exactly once, with no overlap
    between threads (gensim's own corpus_file mode starts each thread at a byte offset and stops it
    after a word count, which overlaps by up to a batch). `expected_words` (from the counting pass)
    sets the chunk boundaries while streaming, so the corpus is read once; the last chunk takes any
    difference. Within a chunk a line goes to the worker file with the fewest words so far.

    gensim's `corpus_file` mode trains from such files without the GIL (it scales with cores, the
    iterable mode does not), but it needs local plain files: this turns any shard (compressed, remote,
    huge lines) into them. Lines hold at most `max_sentence_words` words, so gensim cuts nothing;
    tokens never contain whitespace, so re-splitting gives the same sentences.
    """
    bounds = chunk_bounds(max(expected_words, 0), max(chunks, 1))
    paths = [[os.path.join(directory, f"chunk-{c:06d}-{w:03d}.txt") for w in range(workers)]
             for c in range(len(bounds))]
    counts = [[0] * workers for _ in bounds]  # chunk -> worker -> words
    words = sentences = size = 0
    stats = ReadStats()
    current = 0
    outs: list[IO] = []

    def open_chunk(c: int) -> list[IO]:
        for f in outs:
            f.close()
        return [open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) for path in paths[c]]

    try:
        outs = open_chunk(0)
        for shard in shards:
            for sentence in iter_sentences(shard, options, stats):
                while current < len(bounds) - 1 and words >= bounds[current]:
                    current += 1
                    outs = open_chunk(current)
                row = counts[current]
                w = row.index(min(row))
                outs[w].write(" ".join(sentence))
                outs[w].write("\n")
                row[w] += len(sentence)
                words += len(sentence)
                sentences += 1
        for c in range(current + 1, len(bounds)):  # fewer words than expected: the last chunks stay empty
            outs = open_chunk(c)
        for f in outs:
            f.close()
        size = sum(os.path.getsize(p) for row in paths for p in row)
    except OSError as exc:
        for f in outs:
            f.close()
        raise CorpusError(f"cannot write the local spool files in {directory}: {exc.strerror} (see --spool-dir)"
                          ) from None
    table = tuple(tuple(zip(row_paths, row_counts)) for row_paths, row_counts in zip(paths, counts))
    return SpoolStats(path=directory, words=words, sentences=sentences, bytes=size, bad_lines=stats.bad_lines,
                      chunks=table)
