"""Record formats: the text field of JSON Lines records and the text column of Parquet files.

Big public corpora ship as JSON Lines (`.jsonl`, `.json`, `.ndjson`, compressed or not: C4, The
Pile, Dolma) or Parquet (FineWeb, data-lake tables), the text in one field beside metadata. The
format is picked by extension (after a compression suffix: `a.jsonl.zst` is JSON Lines); anything
else is plain text. `--text-field` names the field (dotted for nested JSON objects: `meta.text`) or
the Parquet column, and is required for these formats and refused for plain text.

A record's text is read as the lines a plain-text corpus would hold, so a corpus rewritten to text
(one record's text after another) gives the same sentences. A JSON line that is not JSON, or a
record without the field (or with a non-string value), is a bad line: `--on-bad-line fail` stops
naming the file and line, `skip` counts and drops it. Parquet is read through pyarrow: only the
text column, only a shard's row groups, from any seekable stream the storage layer opens.

This module reads records and knows nothing of shards: `corpus` plans shards and tokenizes.
"""

from __future__ import annotations

import json
from typing import IO, Iterable, Iterator

from .errors import BadShardError, ConfigError, CorpusError

TEXT, JSON_LINES, PARQUET = "text", "jsonl", "parquet"
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")
COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz", ".zst")  # storage.COMPRESSED_SUFFIXES (storage imports smart_open)
BAD_LINE_POLICIES = ("fail", "skip")
PARQUET_BATCH_ROWS = 4096  # rows decoded at a time: a batch of C4-sized documents is ~10 MB


def format_of(name: str) -> str:
    """The format of a file by its name: TEXT, JSON_LINES or PARQUET.

    >>> [format_of(n) for n in ("a.txt", "c4-0001.json.gz", "d.JSONL.zst", "x.parquet", "text8")]
    ['text', 'jsonl', 'jsonl', 'parquet', 'text']
    """
    lower = name.lower()
    for suffix in COMPRESSION_SUFFIXES:
        if lower.endswith(suffix):
            lower = lower[: -len(suffix)]
            break
    if lower.endswith(PARQUET_SUFFIXES):
        return PARQUET
    return JSON_LINES if lower.endswith(JSON_SUFFIXES) else TEXT


def read_as(name: str, text_field: str | None) -> str:
    """How a file is read: its format with a text field, plain text without one.

    >>> read_as("a.jsonl.zst", "text"), read_as("a.jsonl.zst", None)
    ('jsonl', 'text')
    """
    return format_of(name) if text_field else TEXT


def check_text_field(names: Iterable[str], text_field: str | None) -> None:
    """A ConfigError when a JSON or Parquet file comes without --text-field, or plain text with one."""
    names = list(names)
    kinds = {format_of(n) for n in names}
    records = next((n for n in names if format_of(n) != TEXT), None)
    if text_field is None and records is not None:
        raise ConfigError(f"corpus file {records} is {format_of(records)}: pass --text-field NAME (the field or column "
                          f"holding the text, dotted for nested JSON objects: meta.text)")
    if text_field is not None and kinds == {TEXT}:
        raise ConfigError(f"--text-field {text_field}: the corpus is plain text (no .jsonl/.json/.ndjson or .parquet "
                          f"file), which has no fields; drop --text-field")


def field_of(record: object, path: tuple[str, ...]) -> object:
    """The value at a dotted path of a parsed JSON record, or None where the path does not lead.

    >>> field_of({"meta": {"text": "a b"}}, ("meta", "text")), field_of({"text": 1}, ("meta", "text"))
    ('a b', None)
    """
    for key in path:
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


def json_texts(lines: Iterable[str], text_field: str, where: str, on_bad_line: str,
               counted: list[int]) -> Iterator[str]:
    """The text field of each JSON line; blank lines are passed over, bad ones fail or are dropped.

    `where` names the file (and byte range) in messages; `counted` is [records read, bad lines],
    updated as lines go by (a generator cannot return counts to a caller that stops early).

    >>> list(json_texts(['{"t": "a b"}\\n', '\\n', '{"t": "c"}'], "t", "x.jsonl", "fail", [0, 0]))
    ['a b', 'c']
    """
    path = tuple(text_field.split("."))
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        counted[0] += 1
        try:
            text = field_of(json.loads(line), path)
            problem = None if isinstance(text, str) else ("has no field" if text is None else "has a non-string")
        except ValueError as exc:  # json.JSONDecodeError
            text, problem = None, f"is not JSON ({exc.msg} at column {exc.colno}): expected one object per line, with"
        if problem is None:
            yield text
            continue
        if on_bad_line != "skip":
            raise CorpusError(f"corpus file {where} line {number} {problem} {text_field!r}; fix the file or pass "
                              f"--on-bad-line skip")
        counted[1] += 1


def _pyarrow_parquet():
    from . import extras

    return extras.require("pyarrow.parquet", "reading a Parquet corpus")


def parquet_file(raw: IO, where: str):
    """A pyarrow ParquetFile over a seekable binary stream; a file that is not Parquet is a bad shard."""
    import pyarrow as pa

    pq = _pyarrow_parquet()
    try:
        return pq.ParquetFile(raw)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadShardError(f"corpus file {where} is not a readable Parquet file ({exc}); replace it or pass "
                            f"--on-bad-shard skip") from None


def row_group_sizes(raw: IO, where: str) -> list[tuple[int, int]]:
    """(rows, compressed bytes) of each row group, from the footer only (a few KB read)."""
    meta = parquet_file(raw, where).metadata
    groups = [meta.row_group(g) for g in range(meta.num_row_groups)]
    return [(g.num_rows, sum(g.column(c).total_compressed_size for c in range(g.num_columns))) for g in groups]


def parquet_texts(raw: IO, text_field: str, row_groups: tuple[int, int] | None, where: str, on_bad_line: str,
                  counted: list[int]) -> Iterator[str]:
    """The text column of row groups [first, last) (None: all), batch by batch; nulls are bad lines.

    Only that column's pages are read: over S3 or HTTP, ranged reads of those bytes only.
    """
    import pyarrow as pa

    f = parquet_file(raw, where)
    top = text_field.split(".")[0]
    if top not in f.schema_arrow.names:
        raise CorpusError(f"corpus file {where} has no column {text_field!r} (columns: "
                          f"{', '.join(f.schema_arrow.names[:20])}); set --text-field to the text column")
    groups = range(*row_groups) if row_groups is not None else range(f.metadata.num_row_groups)
    try:
        for batch in f.iter_batches(batch_size=PARQUET_BATCH_ROWS, row_groups=list(groups), columns=[text_field],
                                    use_threads=False):
            column = batch.column(0)
            if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
                raise CorpusError(f"corpus file {where}: column {text_field!r} holds {column.type}, not text; set "
                                  f"--text-field to the text column")
            counted[0] += len(column)
            if column.null_count:
                if on_bad_line != "skip":
                    raise CorpusError(f"corpus file {where}: column {text_field!r} is null in "
                                      f"{column.null_count} row(s); fix the file or pass --on-bad-line skip")
                counted[1] += column.null_count
            yield from (text for text in column.to_pylist() if text is not None)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BadShardError(f"corpus file {where} is a corrupt Parquet file ({exc}); replace it or pass "
                            f"--on-bad-shard skip") from None
