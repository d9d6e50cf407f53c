"""HTTP(S) sources against a real HTTP server on 127.0.0.1: listing, streaming, retries, resume, named errors."""

import gzip
import io
import logging

import pytest
from gensim.test.utils import datapath

from w2v import CorpusError, StorageError, StorageUnavailableError, storage
from w2v.storage import http as http_store
from w2v.cli import main
from w2v.corpus import Shard, iter_sentences, list_shards

from .http_server import LAST_MODIFIED, FileServer

LEE = open(datapath("lee_background.cor"), "rb").read()
BIG = (LEE.rstrip(b"\n") + b"\n") * 8  # 2.9 MB, over the reader's 1 MiB buffer: a body cut halfway handed bytes out


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    """Retries wait milliseconds, not seconds (a new session is built for the new backoff)."""
    monkeypatch.setattr(http_store, "HTTP_BACKOFF_SECONDS", 0.001)


def reference(copies: int = 1):
    return list(iter_sentences(list_shards([datapath("lee_background.cor")])[0])) * copies


def test_a_url_is_one_file_listed_with_its_size_etag_and_last_modified(http_files):
    http_files.files["/lee.cor"] = LEE
    [shard] = list_shards([f"{http_files.url}/lee.cor"])
    assert (shard.uri, shard.size) == (f"{http_files.url}/lee.cor", len(LEE))
    assert shard.version() == {"etag": FileServer.etag(LEE), "last_modified": LAST_MODIFIED}
    assert shard.mtime == http_store._timestamp(LAST_MODIFIED) > 0
    assert not storage.is_splittable(shard.uri)  # read whole: one stream per file


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_url_reads_like_the_local_file(http_files, suffix):
    http_files.files[f"/lee.cor{suffix}"] = gzip.compress(LEE) if suffix else LEE
    shard = list_shards([f"{http_files.url}/lee.cor{suffix}"])[0]
    assert list(iter_sentences(shard)) == reference()


def test_503s_and_dropped_connections_are_retried_by_urllib3(http_files):
    http_files.files["/lee.cor"] = LEE
    http_files.faults = ["503", "reset"]  # the HEAD, then its retry
    shard = list_shards([f"{http_files.url}/lee.cor"])[0]
    assert shard.size == len(LEE)
    http_files.faults = ["503", "reset"]  # the GET, then its retry
    assert list(iter_sentences(shard)) == reference()
    assert [m for m, _, _ in http_files.requests] == ["HEAD"] * 3 + ["GET"] * 3


def test_a_body_cut_mid_stream_resumes_at_its_byte_with_a_range_request(http_files, caplog):
    http_files.files["/lee.cor"] = BIG
    shard = list_shards([f"{http_files.url}/lee.cor"])[0]
    http_files.faults = ["cut"]  # the first GET sends half the body, then closes the connection
    with caplog.at_level(logging.WARNING, logger="w2v.storage.http"):
        assert list(iter_sentences(shard)) == reference(8)
    assert "the body broke in the read from byte" in caplog.text
    gets = [r for m, _, r in http_files.requests if m == "GET"]
    assert gets[0] is None and gets[-1] is not None and gets[-1].startswith("bytes=")
    resumed_at = int(gets[-1][len("bytes="):].rstrip("-"))
    assert 2**20 <= resumed_at <= len(BIG) // 2  # from the byte reached, not from the start


def test_without_ranges_a_cut_body_restarts_from_the_start_and_skips_what_was_read(http_files, caplog):
    http_files.files["/lee.cor"] = BIG
    http_files.ranges = False
    shard = list_shards([f"{http_files.url}/lee.cor"])[0]
    http_files.faults = ["cut"]
    with caplog.at_level(logging.INFO, logger="w2v.storage.http"):
        assert list(iter_sentences(shard)) == reference(8)
    assert "restarted from byte 0 and skipped" in caplog.text


def test_a_file_replaced_while_it_is_read_is_an_error_not_a_mix(http_files):
    http_files.files["/lee.cor"] = BIG
    shard = list_shards([f"{http_files.url}/lee.cor"])[0]
    http_files.faults = ["cut"]
    sentences = iter_sentences(shard)
    next(sentences)
    http_files.files["/lee.cor"] = BIG.replace(b"the", b"THE")  # a new version: a new ETag
    with pytest.raises(StorageError, match=f"{http_files.url}/lee.cor: the file changed on the server"):
        list(sentences)


def test_a_missing_url_is_one_line_naming_it(http_files, tmp_path, capsys):
    url = f"{http_files.url}/nope/text8.zip"
    with pytest.raises(CorpusError, match=f"^corpus path {url}: not found \\(HTTP 404\\)$"):
        list_shards([url])
    assert main(["train", url, "--out", str(tmp_path / "art")]) == 2
    err = capsys.readouterr().err
    assert err == f"w2v: error: corpus path {url}: not found (HTTP 404)\n"
    assert not (tmp_path / "art").exists()
    assert not storage.exists(url)


def test_retries_are_bounded_and_the_last_answer_is_named(http_files):
    http_files.files["/lee.cor"] = LEE
    http_files.faults = ["503"] * 20
    attempts = http_store.HTTP_MAX_ATTEMPTS
    with pytest.raises(StorageUnavailableError, match=f"/lee.cor: HTTP 503 Service Unavailable after {attempts} "
                                                      f"attempts$"):
        storage.list_files(f"{http_files.url}/lee.cor")
    assert len(http_files.requests) == http_store.HTTP_MAX_ATTEMPTS
    http_files.faults = ["cut"] * 20  # every body breaks: the reader gives up too, naming where its read started
    shard = Shard(f"{http_files.url}/lee.cor", len(LEE), 0.0)
    with pytest.raises(StorageUnavailableError, match=f"/lee.cor: the connection broke {attempts} times in a row, "
                                                      f"the last time in the read from byte 0 on"):
        list(iter_sentences(shard))


def test_a_server_error_is_not_bad_input_it_exits_6(http_files, tmp_path, capsys):
    http_files.files["/lee.cor"] = LEE
    http_files.faults = ["503"] * 20
    url = f"{http_files.url}/lee.cor"
    assert main(["train", url, "--out", str(tmp_path / "art")]) == 6
    assert capsys.readouterr().err == (f"w2v: error: corpus path {url}: HTTP 503 Service Unavailable after "
                                       f"{http_store.HTTP_MAX_ATTEMPTS} attempts\n")


def test_an_unreachable_host_and_writes_are_named(tmp_path, capsys):
    with pytest.raises(StorageError, match=r"http://127.0.0.1:9/x.txt: cannot be reached \(.*(refused|timed out).*\)"):
        storage.list_files("http://127.0.0.1:9/x.txt")  # the discard port: nothing listens
    with pytest.raises(StorageError, match="https://example.invalid/out: an HTTP URL is read-only; write elsewhere"):
        storage.check_writable("https://example.invalid/out")
    (tmp_path / "c.txt").write_text("a b c\n")
    assert main(["train", str(tmp_path / "c.txt"), "--out", "http://127.0.0.1:9/out"]) == 2
    assert capsys.readouterr().err == "w2v: error: http://127.0.0.1:9/out: an HTTP URL is read-only; write elsewhere\n"


def test_a_login_in_a_url_is_refused_in_one_line_that_shows_none_of_it_and_does_not_point_to_aws(tmp_path, capsys):
    url = "http://user:p@ss/w+rd@127.0.0.1:9/corpus.txt"
    for argv in (["train", url, "--out", str(tmp_path / "o")], ["neighbors", "https://user:p@ss@127.0.0.1:9/art", "x"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("w2v: error: http") and "://***@127.0.0.1:9/" in err and err.count("\n") == 1
        assert "p@ss" not in err and "ss@" not in err and "AWS" not in err and "serve the file without a login" in err


@pytest.mark.slow
def test_train_on_a_text8_like_zip_by_url_through_the_cli(ray_cluster, http_files, tmp_path, capsys):
    """`w2v train http://127.0.0.1:PORT/text8.zip`: one member holding ONE line of 168,000 words, no newline,
    served by a server whose first answers fail; the actors read it over HTTP in their own processes."""
    import json
    import random
    import zipfile
    from collections import Counter

    import w2v

    from .corpora import FILLERS, GROUPS, WORDS_PER_GROUP
    from .test_driver import planted_precision

    rng = random.Random(5)
    words: list[str] = []
    for _ in range(12_000):  # planted groups: 12 words of one group and two fillers, all on one line
        g = rng.randrange(GROUPS)
        sentence = [f"g{g}w{rng.randrange(WORDS_PER_GROUP)}" for _ in range(12)] + rng.sample(FILLERS, 2)
        rng.shuffle(sentence)
        words.extend(sentence)
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("text8", " ".join(words))
    http_files.files["/text8.zip"] = packed.getvalue()
    http_files.faults = ["503", "reset"]  # the driver's HEAD fails twice: retried
    url = f"{http_files.url}/text8.zip"
    out = tmp_path / "art"
    assert main(["train", url, "--out", str(out), "--vector-size", "32", "--min-count", "5", "--epochs", "5",
                 "--seed", "3", "--no-eval", "-q"]) == 0
    assert f"artifact: {out}" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    [shard] = manifest["corpus"]["shards"]
    assert shard["uri"] == f"{url}#member=text8" and shard["words"] == len(words)
    assert shard["bytes"] < len(packed.getvalue()) and shard["etag"] == http_files.etag(packed.getvalue())
    assert shard["last_modified"] == LAST_MODIFIED
    assert manifest["corpus"]["sentences"] == -(-len(words) // 10_000)  # gensim's 10,000-word cuts
    kv = w2v.load(str(out))
    assert Counter(words)["the"] == kv.get_vecattr("the", "count")
    assert planted_precision(kv.index_to_key, kv.vectors) >= 0.8
    assert sum(1 for m, _, r in http_files.requests if m == "GET" and r) >= 2  # the member read with ranges


def test_an_artifact_served_over_http_loads_with_its_checksums(http_files, tmp_path):
    import numpy as np

    import w2v
    from w2v.export import manifest_sha256, write_artifact

    out = tmp_path / "art"
    vectors = np.arange(6, dtype=np.float32).reshape(2, 3)
    write_artifact(str(out), ["alpha", "beta"], [2, 1], vectors, {}, None, False)
    for f in out.iterdir():
        http_files.files[f"/models/art/{f.name}"] = f.read_bytes()
    url = f"{http_files.url}/models/art"
    kv = w2v.load(url, manifest_sha256=manifest_sha256(str(out)))
    assert kv.index_to_key == ["alpha", "beta"] and np.array_equal(kv.vectors, vectors)
    http_files.files["/models/art/vocab.tsv"] = b"alpha\t2\ngamma\t1\n"
    with pytest.raises(w2v.ArtifactError, match=f"{url}/vocab.tsv: sha256 does not match"):
        w2v.load(url)


@pytest.mark.slow
def test_a_presigned_urls_signature_is_in_no_output_log_or_file_of_the_job(ray_cluster, http_files, tmp_path, capsys,
                                                                          caplog):
    query = "X-Amz-Credential=AKIAFAKE%2F2026&X-Amz-Security-Token=IQoJb3%2Btok&X-Amz-Signature=f00dcafe"
    http_files.files[f"/lee.cor?{query}"] = LEE  # the server answers the signed URL only, as S3 does
    out = tmp_path / "art"
    with caplog.at_level(logging.INFO):
        assert main(["train", f"{http_files.url}/lee.cor?{query}", "--out", str(out), "--vector-size", "16",
                     "--epochs", "1", "--no-eval"]) == 0
    printed = "".join(capsys.readouterr()) + caplog.text
    stored = "".join(p.read_text(encoding="utf-8") for p in out.iterdir() if p.suffix in (".json", ".md"))
    assert "X-Amz-Signature=***" in stored
    for secret in ("AKIAFAKE", "IQoJb3", "f00dcafe"):
        assert secret not in printed and secret not in stored


@pytest.mark.parametrize("etag", [True, False])
def test_a_file_replaced_between_listing_and_reading_is_an_error_naming_it(http_files, etag):
    """Counting and spooling are separate passes: each must read the version listed (the manifest records its
    ETag), or the vocabulary comes from one file and the training from another. Without an ETag, the
    Last-Modified listed is compared."""
    from .http_server import LAST_MODIFIED

    http_files.files["/lee.cor"] = LEE
    url = f"{http_files.url}/lee.cor"
    [shard] = list_shards([url])
    assert shard.etag == http_files.etag(LEE)
    assert len(reference()) == len(list(iter_sentences(shard)))  # the listed version reads
    http_files.files["/lee.cor"] = LEE.replace(b"the", b"THE")  # a new version between two passes
    if not etag:
        shard = Shard(shard.uri, shard.size, shard.mtime, last_modified="Tue, 01 Dec 2026 00:00:00 GMT")
        assert shard.last_modified != LAST_MODIFIED
    why = r"or first read \(HTTP 412\)" if etag else r"\(ETag/Last-Modified"  # If-Match sent, or compared
    with pytest.raises(StorageError, match=f"^{url}: the file changed on the server since it was listed {why}"):
        list(iter_sentences(shard))
