"""Storage backends against a real local S3 endpoint (moto server over HTTP): listing over pages,
globs, compression, named errors, retries, multipart publishing, and a whole job on S3."""

import bz2
import gzip
import json
import logging
import lzma
import re

import numpy as np
import pytest
import smart_open
from botocore.exceptions import ClientError

import w2v
from w2v import CorpusError, StorageError, storage
from w2v.corpus import Shard, iter_sentences, list_shards

from .conftest import FAKE_SECRET
from .corpora import write_planted_corpus


def put(bucket: str, key: str, data: bytes) -> None:
    storage.s3_client().put_object(Bucket=bucket, Key=key, Body=data)


def test_listing_reads_every_page_and_skips_directory_markers(s3_bucket, monkeypatch, caplog):
    monkeypatch.setattr(storage.s3, "S3_LIST_PAGE_SIZE", 20)
    for i in range(55):
        put(s3_bucket, f"corpus/part-{i:03d}.txt", b"a b\n")
    put(s3_bucket, "corpus/", b"")  # "directory" markers, as consoles create them
    put(s3_bucket, "corpus/sub/", b"")
    put(s3_bucket, "corpus/.hidden", b"skip me\n")
    put(s3_bucket, "corpusx/not-under-the-prefix.txt", b"x\n")
    with caplog.at_level(logging.INFO, logger="w2v.storage"):
        infos = storage.list_files(f"s3://{s3_bucket}/corpus")
    assert [i.uri for i in infos] == [f"s3://{s3_bucket}/corpus/part-{i:03d}.txt" for i in range(55)]
    assert all(i.size == 4 and i.mtime > 0 for i in infos)
    assert "59 object(s) in 3 page(s), 55 file(s) kept" in caplog.text  # 59 keys under "corpus", 20 a page
    assert len(storage.list_files(f"s3://{s3_bucket}/corpus/")) == 55
    assert [i.uri for i in storage.list_files(f"s3://{s3_bucket}/corpus/part-007.txt")] == [
        f"s3://{s3_bucket}/corpus/part-007.txt"]


def test_globs_stay_within_a_prefix(s3_bucket):
    for key in ("c/a.txt", "c/b.txt.gz", "c/d/e.txt", "c/d/f.txt.bz2", "other/a.txt"):
        put(s3_bucket, key, b"x\n")
    names = lambda pattern: [i.uri.split("/", 3)[3] for i in storage.list_files(f"s3://{s3_bucket}/{pattern}")]
    assert names("c/*.txt") == ["c/a.txt"]
    assert names("c/**/*.txt") == ["c/a.txt", "c/d/e.txt"]
    assert names("c/*/*.bz2") == ["c/d/f.txt.bz2"]
    assert names("c/?.txt*") == ["c/a.txt", "c/b.txt.gz"]
    with pytest.raises(StorageError, match=rf"s3://{s3_bucket}/c/\*.zzz: the pattern matches no key"):
        storage.list_files(f"s3://{s3_bucket}/c/*.zzz")


@pytest.mark.parametrize("suffix", ["", ".gz", ".bz2", ".xz", ".zst"])
def test_compressed_objects_read_like_local_files(s3_bucket, tmp_path, suffix):
    from gensim.test.utils import datapath

    source = datapath("head500.noblanks.cor")
    uri = f"s3://{s3_bucket}/text/head500.cor{suffix}"
    with open(source, "rb") as src, storage.open(uri, "wb") as dst:  # compressed by extension on the way up
        dst.write(src.read())
    shard = list_shards([uri])[0]
    assert list(iter_sentences(shard)) == list(iter_sentences(list_shards([source])[0]))


def test_missing_bucket_key_and_prefix_are_named(s3_bucket):
    with pytest.raises(StorageError, match="s3://w2v-no-such-bucket/x: the bucket 'w2v-no-such-bucket' does not exist"):
        storage.list_files("s3://w2v-no-such-bucket/x")
    with pytest.raises(StorageError, match=f"s3://{s3_bucket}/nope.txt: no such key"):
        storage.open(f"s3://{s3_bucket}/nope.txt")
    with pytest.raises(StorageError, match="s3://w2v-no-such-bucket/a.txt: the bucket 'w2v-no-such-bucket' does not"):
        storage.open("s3://w2v-no-such-bucket/a.txt")
    with pytest.raises(CorpusError, match=f"corpus path s3://{s3_bucket}/missing/: no such key or prefix"):
        list_shards([f"s3://{s3_bucket}/missing/"])
    gone = Shard(f"s3://{s3_bucket}/deleted.txt", 10, 0.0)  # listed, then deleted before reading
    with pytest.raises(StorageError, match=f"s3://{s3_bucket}/deleted.txt: no such key"):
        list(iter_sentences(gone))
    with pytest.raises(StorageError, match="no bucket"):
        storage.list_files("s3:///key")
    assert not storage.exists(f"s3://{s3_bucket}/nope.txt")


def test_denied_access_and_missing_credentials_are_named_without_secrets():
    denied = ClientError({"Error": {"Code": "AccessDenied", "Message": f"key {FAKE_SECRET}"}}, "GetObject")
    wrapped = OSError("smart_open says no")
    wrapped.__cause__ = denied
    message = str(storage.s3.s3_error("s3://bkt/key.txt", wrapped))
    assert message.startswith("s3://bkt/key.txt: access denied (AccessDenied)") and FAKE_SECRET not in message
    from botocore.exceptions import NoCredentialsError

    assert "no AWS credentials found" in str(storage.s3.s3_error("s3://bkt/k", NoCredentialsError()))


def test_publish_uploads_big_files_in_parts_and_the_manifest_last(s3_bucket, tmp_path, monkeypatch):
    monkeypatch.setattr(storage.s3, "S3_PART_BYTES", 5 * 2**20)  # S3's minimum part size
    out = f"s3://{s3_bucket}/artifacts/run"
    staging = storage.staging_dir(out)
    big = np.random.default_rng(0).bytes(11 * 2**20)
    with open(f"{staging}/vectors.npy", "wb") as f:
        f.write(big)
    with open(f"{staging}/manifest.json", "w") as f:
        f.write("{}")
    uploaded = []
    publish_file = storage.S3Backend.publish_file

    def recording(self, local_path, out_uri, name, settings):
        publish_file(self, local_path, out_uri, name, settings)
        uploaded.append((name, storage.list_names(out_uri)))  # what a reader sees after each upload

    monkeypatch.setattr(storage.S3Backend, "publish_file", recording)
    storage.publish(staging, out, ["manifest.json", "vectors.npy"], last="manifest.json")
    assert uploaded == [("vectors.npy", ["vectors.npy"]), ("manifest.json", ["manifest.json", "vectors.npy"])]
    head = storage.s3_client().head_object(Bucket=s3_bucket, Key="artifacts/run/vectors.npy")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of 3 parts (5 + 5 + 1 MiB)
    with storage.open(f"{out}/vectors.npy", "rb") as f:
        assert f.read() == big
    assert storage.list_names(f"s3://{s3_bucket}/artifacts") == ["run"]


def test_an_s3_output_that_holds_files_is_refused(s3_bucket):
    from w2v.export import check_output

    put(s3_bucket, "out/stale.txt", b"x")
    with pytest.raises(StorageError, match=f"--out s3://{s3_bucket}/out already holds 1 file"):
        check_output(f"s3://{s3_bucket}/out", overwrite=False)
    check_output(f"s3://{s3_bucket}/fresh", overwrite=False)
    storage.S3Backend().check_writable(f"s3://{s3_bucket}/fresh", storage.S3Settings())
    with pytest.raises(StorageError, match="s3://w2v-no-such-bucket/out: the bucket 'w2v-no-such-bucket' does not"):
        storage.S3Backend().check_writable("s3://w2v-no-such-bucket/out", storage.S3Settings())
    with pytest.raises(StorageError, match="s3://w2v-no-such-bucket/out: the bucket 'w2v-no-such-bucket' does not"):
        check_output("s3://w2v-no-such-bucket/out", overwrite=False)


@pytest.mark.slow
def test_job_reads_many_small_mixed_objects_from_s3_and_writes_its_artifact_there(
        ray_cluster, s3_bucket, tmp_path, monkeypatch, caplog):
    """Actors in other Ray processes read S3 through AWS_ENDPOINT_URL_S3; listing spans several pages."""
    from w2v import TrainConfig
    from w2v.pipeline import run
    from .test_driver import planted_precision

    monkeypatch.setattr(storage.s3, "S3_LIST_PAGE_SIZE", 16)
    counts = write_planted_corpus(tmp_path / "planted", files=2, sentences_per_file=2500, compress=("",))
    lines = b"".join(p.read_bytes() for p in sorted((tmp_path / "planted").iterdir())).splitlines(keepends=True)
    def zst(data: bytes) -> bytes:
        with smart_open.open(str(tmp_path / "tmp.zst"), "wb") as f:
            f.write(data)
        return (tmp_path / "tmp.zst").read_bytes()

    compressors = {"": lambda b: b, ".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress, ".zst": zst}
    suffixes = list(compressors)
    objects = 40
    for i in range(objects):
        suffix = suffixes[i % len(suffixes)]
        put(s3_bucket, f"corpus/part-{i:03d}.txt{suffix}", compressors[suffix](b"".join(lines[i::objects])))
    put(s3_bucket, "corpus/", b"")  # a directory marker
    out = f"s3://{s3_bucket}/artifacts/planted"
    # shard_bytes: the plain objects (~10 KB) are also split into byte ranges, read by the actors' spools.
    config = TrainConfig(corpus=(f"s3://{s3_bucket}/corpus/",), out=out, actors=2, vector_size=32, min_count=5,
                         epochs=5, seed=3, eval=False, shard_bytes=4096)
    with caplog.at_level(logging.INFO, logger="w2v"):
        result = run(config)
    assert "41 object(s) in 3 page(s), 40 file(s) kept" in caplog.text
    manifest = w2v.verify(out)  # read back from S3, checksums verified
    assert manifest["corpus"]["words"] == sum(counts.values())
    shards = manifest["corpus"]["shards"]
    assert len({s["uri"].split("#")[0] for s in shards}) == objects
    assert sum("#bytes=" in s["uri"] for s in shards) > objects // 5 * 2  # every plain object in 2+ ranges
    assert sum(s["words"] for s in shards) == sum(counts.values())
    assert len({a["node_id"] for a in manifest["training"]["actors"]}) == 2
    assert sum(a["spool_words"] for a in manifest["training"]["actors"]) == sum(counts.values())
    kv = w2v.load(out)
    assert planted_precision(kv.index_to_key, kv.vectors) >= 0.9
    assert storage.list_names(out) == sorted([*manifest["files"], "manifest.json"])  # every file, nothing else
    assert {"vectors.npy", "vocab.tsv", "vectors.bin"} <= set(manifest["files"])
    assert FAKE_SECRET not in json.dumps(result.manifest.to_json()) and FAKE_SECRET not in caplog.text


@pytest.mark.slow
def test_credentials_never_reach_the_actors_logs(ray_cluster, s3_bucket, tmp_path):
    """README: credentials "never appear in logs". A small S3 job with actors on both nodes, then every
    file of the Ray session's logs (each worker's stdout and stderr, raylets, GCS) is searched for the secret."""
    from pathlib import Path

    from w2v import TrainConfig
    from w2v.pipeline import run

    write_planted_corpus(tmp_path / "planted", files=2, sentences_per_file=600, compress=("", ".gz"))
    for path in sorted((tmp_path / "planted").iterdir()):
        put(s3_bucket, f"corpus/{path.name}", path.read_bytes())
    config = TrainConfig(corpus=(f"s3://{s3_bucket}/corpus/",), out=f"s3://{s3_bucket}/art", actors=2, vector_size=8,
                         epochs=1, eval=False, checkpoint_interval=0)
    actors = run(config).manifest.training.actors
    log_dirs = {Path(node.get_logs_dir_path()) for node in ray_cluster.list_all_nodes()}
    files = [f for d in log_dirs for f in d.rglob("*") if f.is_file()]
    for actor in actors:  # the actors' own output is among the files searched
        assert any(f.name.startswith("worker-") and f.name.endswith(f"-{actor['pid']}.err") for f in files), actor

    def text(f: Path) -> bytes:  # Ray's log monitor moves the files of ended workers into old/
        for where in (f, f.parent / "old" / f.name):
            try:
                return where.read_bytes()
            except FileNotFoundError:
                pass
        return b""

    assert [str(f) for f in files if FAKE_SECRET.encode() in text(f)] == []


# Secrets as real ones are: about half of AWS secret keys hold a `/`, many a `+`; passwords hold `@`.
CREDENTIALED = [f"s3://AKIAEXAMPLE:{FAKE_SECRET}@bucket/corpus/", f"s3://{FAKE_SECRET}@bucket/x.txt",
                f"s3://AKIAEXAMPLE:wJalrXUtnFEMI/K7MDENG+{FAKE_SECRET}@bucket/corpus/",
                f"s3://AKIAEXAMPLE:{FAKE_SECRET}/x@y+z@bucket/x.txt"]


@pytest.mark.parametrize("uri", CREDENTIALED)
def test_credentials_in_a_uri_are_refused_by_every_entry_point_without_echoing_them(uri, tmp_path, capsys, caplog):
    from w2v.cli import main

    for call in (lambda: storage.list_files(uri), lambda: storage.open(uri), lambda: storage.check_writable(uri),
                 lambda: w2v.load(uri), lambda: w2v.verify(uri)):
        with pytest.raises(StorageError, match=r"s3://\*\*\*@bucket/.*credentials in a URI are refused.*AWS") as raised:
            call()
        assert FAKE_SECRET not in str(raised.value)
    (tmp_path / "c.txt").write_text("a b c\n")
    commands = (["train", uri, "--out", str(tmp_path / "out")], ["train", str(tmp_path / "c.txt"), "--out", uri],
                ["neighbors", uri, "war"], ["info", uri], ["submit", "--", uri, "--out", str(tmp_path / "o")])
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "credentials in a URI are refused" in err and FAKE_SECRET not in err, argv
    assert FAKE_SECRET not in caplog.text


@pytest.mark.parametrize("store", ["gs://bucket/corpus/", "azure://container/corpus/"])
def test_other_object_stores_are_refused_in_one_line(store, tmp_path, capsys, ray_cannot_start):
    """README: `gs://` and `azure://` are refused with a clear message, as a corpus, an output or an artifact."""
    from w2v.cli import main

    scheme = store.split(":", 1)[0]
    (tmp_path / "c.txt").write_text("a b c\n")
    for argv, uri in (([store], store), ([str(tmp_path / "c.txt"), "--out", store + "artifact"], store + "artifact")):
        out = [] if "--out" in argv else ["--out", str(tmp_path / "out")]
        assert main(["train", *argv, *out]) == 2, argv
        err = capsys.readouterr().err
        assert re.fullmatch(rf"w2v: error: (corpus path )?{re.escape(uri)}(\.checkpoint)?: the '{scheme}' scheme is not supported by "
                            rf"this version of w2v \(supported: [a-z0-9, ]+\)\n", err), err
    with pytest.raises(StorageError, match=f"the '{scheme}' scheme is not supported"):
        w2v.load(store + "artifact")
    assert not (tmp_path / "out").exists()


def test_a_parameter_validation_failure_keeps_its_reason(s3_server):
    with pytest.raises(StorageError, match=r"s3://Not_A_Bucket!/x: .*Parameter validation failed: .*[Bb]ucket"):
        storage.open("s3://Not_A_Bucket!/x")


def test_a_staging_directory_left_by_a_killed_publisher_is_removed_by_the_next_one(tmp_path):
    import os
    import subprocess
    import sys

    from w2v.export import write_artifact

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    out = tmp_path / "art"
    mine = storage.staging_dir(str(out))  # named after this process; a killed one left the same with its pid
    left = mine.replace(f"-{os.getpid()}", f"-{int(ended.stdout)}")
    os.rename(mine, left)
    (tmp_path / left / "vectors.npy").write_bytes(b"\0" * 1000)
    elsewhere = tmp_path / ".art.staging-otherhost-1"  # another host's, on a shared filesystem: not ours to judge
    elsewhere.mkdir()
    write_artifact(str(out), ["a", "b"], [2, 1], np.ones((2, 3), np.float32), {}, None, False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".art.staging-otherhost-1", "art"]


def test_an_upload_stage_left_by_a_killed_publisher_is_removed_by_the_next_one(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    mine = storage.staging_dir("s3://bucket/art")  # a local stage named after this process (nothing reaches S3)
    left = mine.replace(f"-{os.getpid()}-", f"-{int(ended.stdout)}-")
    os.rename(mine, left)
    again = storage.staging_dir("s3://bucket/art")
    assert os.listdir(tmp_path) == [os.path.basename(again)]


def test_s3a_and_s3n_uris_are_read_as_s3(s3_bucket):
    put(s3_bucket, "corpus/a.txt", b"alpha beta\n")
    for spelling in ("s3a", "s3n", "S3A"):
        [info] = storage.list_files(f"{spelling}://{s3_bucket}/corpus/")
        assert info.uri == f"s3://{s3_bucket}/corpus/a.txt" and info.etag and info.etag.startswith('"')
        with storage.open(f"{spelling}://{s3_bucket}/corpus/a.txt") as f:
            assert f.read() == b"alpha beta\n"
        assert storage.exists(f"{spelling}://{s3_bucket}/corpus/a.txt")
    assert storage.split_s3(f"s3a://{s3_bucket}/k") == (s3_bucket, "k") and storage.is_splittable("s3n://b/a.txt")
    with pytest.raises(StorageError, match=f"s3a://{s3_bucket}/nope.txt: no such key"):
        storage.open(f"s3a://{s3_bucket}/nope.txt")


@pytest.fixture
def failing_s3(s3_server, monkeypatch):
    """A proxy in front of the moto server that answers 503 when told to; botocore's backoff shortened."""
    import botocore.retries.standard as standard

    from .http_server import FailingProxy

    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.01)  # not seconds
    proxy = FailingProxy(s3_server)
    yield proxy, storage.S3Settings(endpoint_url=proxy.url)
    proxy.close()


def test_503s_from_s3_are_retried_by_botocore_alone(s3_bucket, failing_s3, tmp_path, monkeypatch):
    proxy, settings = failing_s3
    put(s3_bucket, "corpus/a.txt", b"alpha beta\n" * 1000)
    proxy.fail(lambda method, path: method == "GET" and path.endswith("/corpus/a.txt"), 2)
    with storage.open(f"s3://{s3_bucket}/corpus/a.txt", settings=settings) as f:
        assert f.read() == b"alpha beta\n" * 1000
    gets = [status for method, path, status in proxy.seen if method == "GET" and path.endswith("/corpus/a.txt")]
    assert gets == [503, 503, 206]  # one ranged GET, retried twice by botocore: no other layer repeats it
    proxy.fail(lambda method, path: method == "GET" and "list-type=2" in path, 3)
    assert [i.uri for i in storage.list_files(f"s3://{s3_bucket}/corpus/", settings)] == [
        f"s3://{s3_bucket}/corpus/a.txt"]
    proxy.fail(lambda method, path: True, storage.s3.S3_MAX_ATTEMPTS)  # every attempt fails: the URI is named
    with pytest.raises(StorageError, match=f"s3://{s3_bucket}/corpus/: S3 error 503"):
        storage.list_files(f"s3://{s3_bucket}/corpus/", settings)
    assert storage.list_files(f"s3://{s3_bucket}/corpus/", settings)  # S3_MAX_ATTEMPTS attempts, no more

    # An upload through the transfer manager: the part answered 503 is sent again, alone.
    monkeypatch.setattr(storage.s3, "S3_PART_BYTES", 5 * 2**20)
    staging = tmp_path / "stage"
    staging.mkdir()
    big = np.random.default_rng(1).bytes(11 * 2**20)
    (staging / "vectors.npy").write_bytes(big)
    (staging / "manifest.json").write_text("{}")
    proxy.seen.clear()
    proxy.fail(lambda method, path: method == "PUT" and "partNumber=2" in path, 1)
    storage.publish(str(staging), f"s3://{s3_bucket}/art", ["vectors.npy", "manifest.json"], last="manifest.json",
                    settings=settings)
    parts = sorted((path.split("partNumber=")[1].split("&")[0], status) for method, path, status in proxy.seen
                   if method == "PUT" and "partNumber=" in path)
    assert parts == [("1", 200), ("2", 200), ("2", 503), ("3", 200)]
    with storage.open(f"s3://{s3_bucket}/art/vectors.npy") as f:
        assert f.read() == big
