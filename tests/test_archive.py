"""Zip archives as corpus: one shard per member, streamed from disk, S3 and HTTP (ranges or a local spool)."""

import gzip
import io
import logging
import zipfile

import pytest
from gensim.test.utils import datapath

from w2v import CorpusError, archive, storage
from w2v.storage import http as http_store
from w2v.corpus import assign_shards, iter_sentences, list_shards, split_shards
from w2v.errors import BadShardError

LEE = open(datapath("lee_background.cor"), "rb").read()
HEAD500 = open(datapath("head500.noblanks.cor"), "rb").read()


def sentences(path: str):
    return list(iter_sentences(list_shards([path])[0]))


def make_zip(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as z:
        for name, data in members.items():
            if name.endswith("/"):
                z.mkdir(name.rstrip("/"))
            else:
                z.writestr(name, data)
    return out.getvalue()


CORPUS_ZIP = {"docs/": b"", "docs/lee.cor": LEE, "docs/head500.cor.gz": gzip.compress(HEAD500), "empty.txt": b"",
              ".hidden": b"skip me", "__MACOSX/docs/._lee.cor": b"resource fork"}


def test_every_member_is_a_shard_read_like_the_file_it_holds(tmp_path):
    path = tmp_path / "corpus.zip"
    path.write_bytes(make_zip(CORPUS_ZIP))
    shards = list_shards([str(path)], keep_empty=True)
    assert [s.name for s in shards] == [f"{path}#member=docs/lee.cor", f"{path}#member=docs/head500.cor.gz",
                                        f"{path}#member=empty.txt"]
    assert [s.size for s in shards][2] == 0  # an empty member: skipped like an empty file
    assert 0 < shards[0].size < len(LEE)  # compressed bytes: what reading it costs
    assert list(iter_sentences(shards[0])) == sentences(datapath("lee_background.cor"))
    assert list(iter_sentences(shards[1])) == sentences(datapath("head500.noblanks.cor"))  # a .gz member
    assert split_shards(shards[:2], 4, piece_bytes=1024) == shards[:2]  # a member is never cut into ranges
    assert [len(p) for p in assign_shards(shards[:2], 2)] == [1, 1]  # two members: one for each of two actors


def test_a_zip_over_http_is_read_with_range_requests(http_files, monkeypatch):
    monkeypatch.setattr(http_store, "HTTP_BACKOFF_SECONDS", 0.001)
    http_files.files["/corpus.zip"] = make_zip(CORPUS_ZIP)
    url = f"{http_files.url}/corpus.zip"
    shards = list_shards([url])
    assert [s.member for s in shards] == ["docs/lee.cor", "docs/head500.cor.gz"]
    assert shards[0].version()["etag"] == http_files.etag(http_files.files["/corpus.zip"])
    http_files.requests.clear()
    http_files.faults = ["503"]  # retried like any request
    assert list(iter_sentences(shards[1])) == sentences(datapath("head500.noblanks.cor"))
    ranged = [r for m, _, r in http_files.requests if m == "GET" and r]
    assert ranged and all(r.startswith("bytes=") for r in ranged)  # the directory, then the member


def test_a_zip_from_a_server_without_ranges_is_spooled_to_a_temporary_file(http_files, caplog):
    http_files.files["/corpus.zip"] = make_zip(CORPUS_ZIP)
    http_files.ranges = False
    with caplog.at_level(logging.INFO, logger="w2v.archive"):
        shards = list_shards([f"{http_files.url}/corpus.zip"])
        assert list(iter_sentences(shards[0])) == sentences(datapath("lee_background.cor"))
    assert "the server does not serve byte ranges: spooled the archive" in caplog.text


def test_a_zip_on_s3_is_read_member_by_member(s3_bucket):
    storage.s3_client().put_object(Bucket=s3_bucket, Key="c/corpus.zip", Body=make_zip(CORPUS_ZIP))
    shards = list_shards([f"s3a://{s3_bucket}/c/"])  # Spark's spelling of s3://
    assert [s.name for s in shards] == [f"s3://{s3_bucket}/c/corpus.zip#member=docs/lee.cor",
                                        f"s3://{s3_bucket}/c/corpus.zip#member=docs/head500.cor.gz"]
    assert list(iter_sentences(shards[0])) == sentences(datapath("lee_background.cor"))


def test_bad_archives_are_one_line_naming_the_file(tmp_path):
    bad = tmp_path / "not.zip"
    bad.write_bytes(b"this is not a zip archive at all, " * 10)
    with pytest.raises(CorpusError, match=f"^corpus file {bad} is not a readable zip archive"):
        list_shards([str(bad)])
    empty = tmp_path / "empty.zip"
    empty.write_bytes(make_zip({"dir/": b""}))
    with pytest.raises(CorpusError, match=f"^corpus file {empty}: the zip archive holds no file$"):
        list_shards([str(empty)])
    stored = tmp_path / "stored.zip"  # a member whose bytes were damaged after zipping: its CRC fails
    data = bytearray(make_zip({"a.txt": b"alpha beta gamma\n" * 1000}, zipfile.ZIP_STORED))
    data[data.index(b"alpha") + 100] ^= 0x20
    stored.write_bytes(bytes(data))
    [shard] = list_shards([str(stored)])
    with pytest.raises(BadShardError, match=f"corpus file {stored}#member=a.txt is a corrupt or truncated archive"):
        list(iter_sentences(shard))


def test_an_encrypted_member_is_refused_at_listing(tmp_path):
    path = tmp_path / "secret.zip"
    data = bytearray(make_zip({"a.txt": b"x y\n"}, zipfile.ZIP_STORED))
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # set the "encrypted" flag in both headers
        at = data.index(header) + (6 if header == b"PK\x03\x04" else 8)
        data[at] |= 0x1
    path.write_bytes(bytes(data))
    with pytest.raises(CorpusError, match=f"corpus file {path}: member a.txt is encrypted"):
        archive.list_members(str(path))
    twice = tmp_path / "twice.zip"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(twice, "w") as z:
        z.writestr("a.txt", "one\n")
        z.writestr("a.txt", "two\n")
    with pytest.raises(CorpusError, match=f"corpus file {twice}: member a.txt appears twice in the archive"):
        list_shards([str(twice)])
