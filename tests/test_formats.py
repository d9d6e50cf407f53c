"""JSON Lines and Parquet corpora read as the plain text they hold: files written by json, zstandard and pyarrow.

The reference is the same texts written as plain lines: a record format must give exactly its sentences.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from w2v import storage
from w2v.corpus import ReadOptions, ShardSentences, check_formats, list_shards, split_shards
from w2v.errors import BadShardError, ConfigError, CorpusError
from w2v.vocab import count_shard

JSONL = ReadOptions(text_field="text")


def make_texts(records: int = 2000, seed: int = 5) -> list[str]:
    """Records of every shape: paragraphs (newlines inside), CRLF, non-ASCII, empty, one of 12,000 words."""
    rng = random.Random(seed)

    def line() -> str:
        return " ".join(f"w{rng.randrange(5000)}" for _ in range(rng.randrange(1, 40)))

    out = []
    for i in range(records):
        kind = rng.random()
        if i == records // 2:
            out.append(" ".join(f"long{j}" for j in range(12_000)))
        elif kind < 0.05:
            out.append("")
        elif kind < 0.1:
            out.append(" ".join(f"über{rng.randrange(99)}" for _ in range(rng.randrange(1, 5))) + "\r\n" + line())
        elif kind < 0.3:
            out.append("\n".join(line() for _ in range(rng.randrange(2, 5))))
        else:
            out.append(line())
    return out


def sentences(shards, options=ReadOptions()) -> list[list[str]]:
    return list(ShardSentences(shards, options))


@pytest.fixture
def texts() -> list[str]:
    return make_texts()


@pytest.fixture
def plain(tmp_path, texts) -> list[list[str]]:
    """The reference: the texts written as plain lines."""
    path = tmp_path / "plain" / "all.txt"
    path.parent.mkdir()
    path.write_text("\n".join(texts) + "\n")
    return sentences(list_shards([str(path)]))


def write_jsonl(path, records, compress=None) -> None:
    data = "".join(json.dumps(r) + "\n" for r in records).encode()
    if compress == "zst":
        data = zstandard.ZstdCompressor().compress(data)
    elif compress == "gz":
        data = gzip.compress(data)
    path.write_bytes(data)


def write_parquet(path_or_file, texts, row_group_rows=None, column="text") -> None:
    table = pa.table({"id": list(range(len(texts))), column: texts, "url": [f"https://x/{i}" for i in range(len(texts))]})
    pq.write_table(table, path_or_file, row_group_size=row_group_rows)


# ---------------------------------------------------------------- JSON Lines


@pytest.mark.parametrize("name,compress", [("c4.jsonl", None), ("c4.json.gz", "gz"), ("c4.jsonl.zst", "zst"),
                                            ("c4.ndjson", None)])
def test_json_lines_give_the_sentences_of_the_same_text_as_plain_lines(tmp_path, texts, plain, name, compress):
    write_jsonl(tmp_path / name, [{"id": i, "text": t, "meta": {"len": len(t)}} for i, t in enumerate(texts)], compress)
    shards = list_shards([str(tmp_path / name)])
    assert sentences(shards, JSONL) == plain
    assert count_shard(shards[0], JSONL).records == len(texts)


def test_a_dotted_field_reads_nested_objects(tmp_path, texts, plain):
    write_jsonl(tmp_path / "d.jsonl", [{"meta": {"body": t}, "text": "not this"} for t in texts])
    assert sentences(list_shards([str(tmp_path / "d.jsonl")]), ReadOptions(text_field="meta.body")) == plain


def test_byte_ranges_of_a_json_lines_file_read_every_record_once(tmp_path, texts, plain):
    write_jsonl(tmp_path / "big.jsonl", [{"text": t, "n": i} for i, t in enumerate(texts)])
    pieces = split_shards(list_shards([str(tmp_path / "big.jsonl")]), 4, piece_bytes=9_000)
    assert len(pieces) > 10 and all(p.end is not None for p in pieces)
    assert sentences(pieces, JSONL) == plain
    assert sum(count_shard(p, JSONL).records for p in pieces) == len(texts)


def test_a_bad_record_fails_naming_file_and_line_or_is_skipped_and_counted(tmp_path, texts):
    lines = [json.dumps({"text": t}) for t in texts[:5]]
    lines[1] = '{"text": "cut off'  # not JSON
    lines[3] = json.dumps({"body": "no text field"})
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    shard = list_shards([str(tmp_path / "bad.jsonl")])[0]
    with pytest.raises(CorpusError, match=r"bad.jsonl line 2 is not JSON .*--on-bad-line skip"):
        sentences([shard], JSONL)
    (tmp_path / "bad.jsonl").write_text("\n".join(lines[2:]) + "\n")
    with pytest.raises(CorpusError, match=r"bad.jsonl line 2 has no field 'text'"):
        sentences([shard], JSONL)
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n")
    skipping = ReadOptions(text_field="text", on_bad_line="skip")
    counted = count_shard(list_shards([str(tmp_path / "bad.jsonl")])[0], skipping)
    assert (counted.bad_lines, counted.records) == (2, 5)
    assert counted.words == sum(len(t.split()) for t in (texts[0], texts[2], texts[4]))


def test_text_field_is_required_for_records_and_refused_for_plain_text(tmp_path):
    write_jsonl(tmp_path / "a.jsonl.zst", [{"text": "a b"}], "zst")
    (tmp_path / "b.txt").write_text("a b\n")
    records, text = list_shards([str(tmp_path / "a.jsonl.zst")]), list_shards([str(tmp_path / "b.txt")])
    with pytest.raises(ConfigError, match=r"a.jsonl.zst is jsonl: pass --text-field NAME"):
        check_formats(records, None)
    with pytest.raises(ConfigError, match=r"--text-field text: the corpus is plain text"):
        check_formats(text, "text")
    check_formats(records, "text")
    check_formats(records + text, "text")  # a mixed corpus: the text files are read as text


# ---------------------------------------------------------------- Parquet


def test_parquet_gives_the_sentences_of_the_same_text_as_plain_lines(tmp_path, texts, plain):
    write_parquet(tmp_path / "fineweb.parquet", texts, row_group_rows=300)
    shards = list_shards([str(tmp_path / "fineweb.parquet")])
    assert sentences(shards, JSONL) == plain
    assert count_shard(shards[0], JSONL).records == len(texts)


def test_a_parquet_file_splits_by_row_groups_each_read_once(tmp_path, texts, plain):
    write_parquet(tmp_path / "one.parquet", texts, row_group_rows=100)  # 20 row groups
    whole = list_shards([str(tmp_path / "one.parquet")])
    pieces = split_shards(whole, 4)
    assert len(pieces) >= 4 and all(p.row_groups is not None and p.end is None for p in pieces)
    assert [p.row_groups[0] for p in pieces[1:]] == [p.row_groups[1] for p in pieces[:-1]]  # consecutive, no gap
    assert (pieces[0].row_groups[0], pieces[-1].row_groups[1]) == (0, 20)
    assert sum(p.records for p in pieces) == len(texts)
    assert len({p.name for p in pieces}) == len(pieces) and "#row_groups=" in pieces[0].name
    assert sentences(pieces, JSONL) == plain
    assert [count_shard(p, JSONL).records for p in pieces] == [p.records for p in pieces]
    one_group = tmp_path / "single" / "g.parquet"
    one_group.parent.mkdir()
    write_parquet(one_group, texts)
    assert [p.row_groups for p in split_shards(list_shards([str(one_group)]), 4, piece_bytes=4096)] == [None]


def test_a_missing_column_is_one_line_naming_file_and_column(tmp_path, texts):
    write_parquet(tmp_path / "t.parquet", texts[:10], column="content")
    with pytest.raises(CorpusError, match=r"t.parquet has no column 'text' \(columns: id, content, url\)"):
        sentences(list_shards([str(tmp_path / "t.parquet")]), JSONL)


def test_null_texts_are_bad_lines(tmp_path, texts):
    write_parquet(tmp_path / "n.parquet", [texts[0], None, texts[1]])
    shard = list_shards([str(tmp_path / "n.parquet")])[0]
    with pytest.raises(CorpusError, match=r"column 'text' is null in 1 row"):
        sentences([shard], JSONL)
    counted = count_shard(shard, ReadOptions(text_field="text", on_bad_line="skip"))
    assert (counted.records, counted.bad_lines, counted.words) == (3, 1, len(texts[0].split()) + len(texts[1].split()))


def test_a_parquet_file_that_is_not_parquet_is_a_bad_shard(tmp_path):
    (tmp_path / "fake.parquet").write_bytes(b"this is not parquet\n" * 100)
    shards = list_shards([str(tmp_path / "fake.parquet")])
    assert split_shards(shards, 2, piece_bytes=100) == shards  # planning leaves it whole for the counting pass
    with pytest.raises(BadShardError, match=r"fake.parquet is not a readable Parquet file.*--on-bad-shard skip"):
        count_shard(shards[0], JSONL)
    skipped = count_shard(shards[0], ReadOptions(text_field="text", on_bad_shard="skip"))
    assert skipped.skipped and skipped.words == 0


def test_parquet_on_s3_reads_only_the_row_groups_of_each_shard(s3_bucket, tmp_path, texts, plain):
    buffer = io.BytesIO()
    write_parquet(buffer, texts, row_group_rows=250)  # 8 row groups
    storage.s3_client().put_object(Bucket=s3_bucket, Key="fineweb/000.parquet", Body=buffer.getvalue())
    whole = list_shards([f"s3://{s3_bucket}/fineweb/"])
    pieces = split_shards(whole, 3, piece_bytes=buffer.tell() // 3)
    assert len(pieces) == 3 and sum(p.records for p in pieces) == len(texts)
    assert sentences(pieces, JSONL) == plain


def test_parquet_and_json_lines_over_http(http_files, tmp_path, texts, plain):
    buffer = io.BytesIO()
    write_parquet(buffer, texts, row_group_rows=500)
    http_files.files["/corpus.parquet"] = buffer.getvalue()
    write_jsonl(tmp_path / "c.jsonl.zst", [{"text": t} for t in texts], "zst")
    http_files.files["/c.jsonl.zst"] = (tmp_path / "c.jsonl.zst").read_bytes()
    parquet = split_shards(list_shards([f"{http_files.url}/corpus.parquet"]), 2, piece_bytes=len(buffer.getvalue()) // 2)
    assert len(parquet) == 2
    assert sentences(parquet, JSONL) == plain
    ranged = [r for method, path, r in http_files.requests if path == "/corpus.parquet" and method == "GET"]
    assert any(r not in (None, "bytes=0-") for r in ranged)  # the footer and row groups are reached by seeking
    assert sentences(list_shards([f"{http_files.url}/c.jsonl.zst"]), JSONL) == plain


def test_counts_of_records_equal_counts_of_the_plain_text(tmp_path, texts):
    write_parquet(tmp_path / "p.parquet", texts, row_group_rows=1000)
    (tmp_path / "p.txt").write_text("\n".join(texts) + "\n")
    rng = random.Random(1)
    lowered = ReadOptions(text_field="text", lowercase=True, tokenizer=rng.choice(["simple", "whitespace"]))
    from_parquet = count_shard(list_shards([str(tmp_path / "p.parquet")])[0], lowered)
    from_text = count_shard(list_shards([str(tmp_path / "p.txt")])[0], lowered)
    assert Counter(from_parquet.counts) == Counter(from_text.counts) and from_parquet.words == from_text.words


# ---------------------------------------------------------------- jobs (Ray)


def planted_texts(records: int = 3000, seed: int = 2) -> list[str]:
    """Documents of words from 4 groups that only co-occur within their group (a document per group)."""
    rng = random.Random(seed)
    groups = [[f"g{g}w{i}" for i in range(12)] for g in range(4)]
    return [" ".join(rng.choice(groups[d % 4]) for _ in range(rng.randrange(20, 60))) for d in range(records)]


def run_job(corpus, out, **overrides):
    from w2v import TrainConfig
    from w2v.pipeline import run

    config = TrainConfig(corpus=tuple(corpus), out=str(out), vector_size=16, min_count=2, epochs=2, seed=1,
                         eval=False, actors=2, checkpoint_interval=0, projector_top=0, **overrides)
    return run(config)


@pytest.mark.slow
def test_a_job_on_a_multi_file_jsonl_zst_corpus(ray_cluster, tmp_path):
    texts = planted_texts()
    for part in range(3):
        write_jsonl(tmp_path / f"part-{part}.jsonl.zst", [{"id": i, "text": t, "meta": {"source": "c4"}}
                                                          for i, t in enumerate(texts[part::3])], "zst")
    result = run_job([str(tmp_path)], tmp_path.parent / f"{tmp_path.name}-art", text_field="text")
    corpus = result.manifest.to_json()["corpus"]
    assert corpus["words"] == sum(len(t.split()) for t in texts)
    assert corpus["formats"] == {"jsonl": 3} and corpus["text_field"] == "text"
    assert sorted(s["records"] for s in corpus["shards"]) == [1000, 1000, 1000]
    assert {s["format"] for s in corpus["shards"]} == {"jsonl"}
    assert result.manifest.parameters["text_field"] == "text"
    assert len(result.manifest.training.actors) == 2


@pytest.mark.slow
def test_a_job_on_a_multi_row_group_parquet_file_on_s3(ray_cluster, s3_bucket, tmp_path):
    texts = planted_texts(records=4000)
    buffer = io.BytesIO()
    write_parquet(buffer, texts, row_group_rows=250)  # 16 row groups
    storage.s3_client().put_object(Bucket=s3_bucket, Key="fineweb/train.parquet", Body=buffer.getvalue())
    result = run_job([f"s3://{s3_bucket}/fineweb/train.parquet"], tmp_path / "art", text_field="text",
                     shard_bytes=len(buffer.getvalue()) // 4)
    corpus = result.manifest.to_json()["corpus"]
    assert corpus["words"] == sum(len(t.split()) for t in texts)
    assert len(corpus["shards"]) >= 4 and all("#row_groups=" in s["uri"] for s in corpus["shards"])
    assert sum(s["records"] for s in corpus["shards"]) == 4000 and corpus["formats"] == {"parquet": len(corpus["shards"])}
    assert all(a["spool_words"] > 0 for a in result.manifest.training.actors)
    assert any(line.lstrip().startswith("shard s3://") and "record(s)" in line for line in result.plan.lines())
