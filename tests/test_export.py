"""The artifact: formats that load back to the same vectors, checksums, never half-written."""

import hashlib
import json

import numpy as np
import pytest
from gensim.models import KeyedVectors

import w2v
from w2v import ArtifactError, StorageError
from w2v.export import check_output, update_artifact, write_artifact

WORDS = ["the", "of", "zebra", "café", "a"]
COUNTS = [50, 40, 7, 7, 5]


@pytest.fixture
def vectors():
    return np.random.default_rng(0).standard_normal((len(WORDS), 8)).astype(np.float32)


def write(out, vectors, overwrite=False, evaluation=None, **kwargs):
    return write_artifact(str(out), WORDS, COUNTS, vectors, {"parameters": {"note": "test"}}, evaluation, overwrite,
                          **kwargs)


def rewrite(artifact, name: str, data: bytes) -> None:
    """Replace one file of an artifact and its checksum in the manifest, as a broken writer or a hand edit
    would leave them: the checksums agree, the content is wrong."""
    (artifact / name).write_bytes(data)
    manifest = json.loads((artifact / "manifest.json").read_text())
    manifest["files"][name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (artifact / "manifest.json").write_text(json.dumps(manifest))


def test_files_agree_and_manifest_checksums_match(tmp_path, vectors):
    out = tmp_path / "art"
    manifest = write(out, vectors, evaluation={"neighbors": {}})
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "eval.json", "manifest.json", "vectors.bin",
                                                     "vectors.npy", "vocab.tsv"]  # no vectors.kv unless asked for
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    for name, entry in on_disk["files"].items():
        data = (out / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert np.load(out / "vectors.npy").dtype == np.float32
    lines = (out / "vocab.tsv").read_text(encoding="utf-8").splitlines()
    assert lines == [f"{w}\t{c}" for w, c in zip(WORDS, COUNTS)]


def test_vectors_bin_loads_in_gensim_bit_exact(tmp_path, vectors):
    write(tmp_path / "art", vectors)
    kv = KeyedVectors.load_word2vec_format(str(tmp_path / "art" / "vectors.bin"), binary=True)
    assert kv.index_to_key == WORDS
    assert np.array_equal(kv.vectors, vectors)


def test_every_format_loads_back_to_the_same_vectors(tmp_path, vectors):
    out = tmp_path / "art"
    manifest = write(out, vectors, text_vectors=True, kv_pickle=True, extra_files={"report.md": b"# hi\n"})
    assert {"vectors.txt", "vectors.kv", "report.md"} <= set(manifest["files"])
    text = KeyedVectors.load_word2vec_format(str(out / "vectors.txt"), binary=False)
    assert text.index_to_key == WORDS
    np.testing.assert_allclose(text.vectors, vectors, atol=1e-6)
    native = KeyedVectors.load(str(out / "vectors.kv"))
    assert native.index_to_key == WORDS and np.array_equal(native.vectors, vectors)
    assert [native.get_vecattr(w, "count") for w in WORDS] == COUNTS
    assert np.array_equal(np.load(out / "vectors.npy"), vectors)
    assert (out / "report.md").read_bytes() == b"# hi\n"
    w2v.verify(str(out))


def test_a_big_matrix_goes_beside_vectors_kv_and_is_checksummed(tmp_path):
    words = [f"w{i}" for i in range(3000)]
    big = np.random.default_rng(1).standard_normal((3000, 400)).astype(np.float32)  # 1.2M elements > KV_SEP_LIMIT
    manifest = write_artifact(str(tmp_path / "art"), words, [1] * 3000, big, {}, None, False, kv_pickle=True)
    assert "vectors.kv.vectors.npy" in manifest["files"]
    native = KeyedVectors.load(str(tmp_path / "art" / "vectors.kv"), mmap="r")
    assert np.array_equal(native.vectors, big)


def test_update_artifact_adds_files_and_keeps_checksums_true(tmp_path, vectors):
    out = tmp_path / "art"
    write(out, vectors, evaluation={"old": True})
    written = update_artifact(str(out), {"eval.json": b'{"new": true}\n', "report.md": b"# r\n"},
                              {"evaluation": {"file": "eval.json"}})
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == written and on_disk["evaluation"] == {"file": "eval.json"}
    assert on_disk["parameters"] == {"note": "test"}  # the rest of the manifest is kept
    assert json.loads((out / "eval.json").read_text()) == {"new": True}
    assert w2v.verify(str(out))["files"]["report.md"]["bytes"] == len(b"# r\n")
    (out / "vectors.npy").write_bytes(b"tampered")
    with pytest.raises(ArtifactError, match="vectors.npy: sha256 does not match"):
        update_artifact(str(out), {"report.md": b"x"}, {})


def test_load_gives_keyed_vectors_with_counts(tmp_path, vectors):
    write(tmp_path / "art", vectors)
    kv = w2v.load(str(tmp_path / "art"))
    assert kv.index_to_key == WORDS and kv.key_to_index["zebra"] == 2
    assert np.array_equal(kv.vectors, vectors)
    assert [kv.get_vecattr(w, "count") for w in WORDS] == COUNTS


def test_a_local_matrix_loads_as_a_read_only_memmap_with_gensims_norms(tmp_path, vectors):
    write(tmp_path / "art", vectors)
    kv = w2v.load(str(tmp_path / "art"))
    assert isinstance(kv.vectors, np.memmap) and not kv.vectors.flags.writeable
    assert np.array_equal(kv.vectors, vectors)
    assert np.allclose(kv.norms, np.linalg.norm(vectors, axis=1), rtol=1e-6)  # what gensim's fill_norms computes
    gensims = KeyedVectors.load_word2vec_format(str(tmp_path / "art" / "vectors.bin"), binary=True)
    found, expected = kv.most_similar("the", topn=3), gensims.most_similar("the", topn=3)
    assert [w for w, _ in found] == [w for w, _ in expected]
    assert [c for _, c in found] == pytest.approx([c for _, c in expected], abs=1e-6)
    words, _, matrix = w2v.load_arrays(str(tmp_path / "art"))
    assert isinstance(matrix, np.memmap) and words == WORDS
    in_memory = w2v.load(str(tmp_path / "art"), mmap=False).vectors
    assert not isinstance(in_memory, np.memmap) and in_memory.flags.writeable and np.array_equal(in_memory, vectors)


def test_loading_and_querying_a_big_matrix_never_holds_a_copy_of_it(tmp_path):
    import tracemalloc

    rows, dims = 20_000, 400  # 32 MB of float32
    matrix = np.random.default_rng(1).standard_normal((rows, dims)).astype(np.float32)
    words = [f"w{i}" for i in range(rows)]
    write_artifact(str(tmp_path / "big"), words, list(range(rows, 0, -1)), matrix, {}, None, False)
    del matrix
    tracemalloc.start()  # numpy's array buffers are traced; a memmap's pages are the page cache's, not ours
    try:
        kv = w2v.load(str(tmp_path / "big"))
        kv.most_similar("w7", topn=5)
        w2v.verify(str(tmp_path / "big"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < rows * dims * 4 / 4, f"{peak:,} bytes at the peak"  # reading it whole (or twice) would be 1-2x


def test_a_npy_that_is_not_what_its_header_says_is_refused(tmp_path, vectors):
    manifest = write(tmp_path / "art", vectors)
    path = tmp_path / "art" / "vectors.npy"
    path.write_bytes(path.read_bytes()[:-4])  # one float short, its checksum updated to match
    manifest["files"]["vectors.npy"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "art" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="vectors.npy: .* bytes, not the .* its header describes"):
        w2v.load(str(tmp_path / "art"))
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    manifest["files"]["vectors.npy"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (tmp_path / "art" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="holds Python objects"):
        w2v.load(str(tmp_path / "art"))


def test_tampering_is_detected(tmp_path, vectors):
    write(tmp_path / "art", vectors)
    path = tmp_path / "art" / "vectors.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="vectors.npy: sha256 does not match"):
        w2v.load(str(tmp_path / "art"))
    with pytest.raises(ArtifactError, match="vectors.npy"):
        w2v.verify(str(tmp_path / "art"))


def test_an_artifact_without_manifest_is_incomplete(tmp_path, vectors):
    write(tmp_path / "art", vectors)
    (tmp_path / "art" / "manifest.json").unlink()
    with pytest.raises(ArtifactError, match="no manifest.json.*incomplete"):
        w2v.load(str(tmp_path / "art"))


def test_existing_output_is_refused_unless_overwrite(tmp_path, vectors):
    out = tmp_path / "art"
    write(out, vectors, evaluation={"neighbors": {}})
    with pytest.raises(StorageError, match="already holds an artifact.*--overwrite"):
        check_output(str(out), overwrite=False)
    with pytest.raises(StorageError, match="no longer empty"):
        write(out, vectors)
    check_output(str(out), overwrite=True)
    write(out, vectors * 2, overwrite=True)  # no evaluation this time: the stale eval.json goes
    assert not (out / "eval.json").exists()
    assert np.array_equal(w2v.load(str(out)).vectors, vectors * 2)
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="is a file"):
        check_output(str(tmp_path / "file"), overwrite=True)


def test_a_failed_write_leaves_no_artifact_and_no_staging(tmp_path, vectors):
    with pytest.raises(ValueError, match="do not agree"):
        write_artifact(str(tmp_path / "art"), WORDS[:2], COUNTS, vectors, {}, None, False)
    assert list(tmp_path.iterdir()) == []


def test_the_manifest_digest_printed_at_publish_pins_the_artifact(tmp_path, vectors):
    from w2v.export import manifest_sha256

    out = tmp_path / "art"
    write(out, vectors)
    digest = manifest_sha256(str(out))
    assert digest == hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest()
    assert w2v.load(str(out), manifest_sha256=digest).index_to_key == WORDS
    manifest = json.loads((out / "manifest.json").read_text())  # an attacker rewrites a file and its checksum
    manifest["files"]["vocab.tsv"]["sha256"] = "0" * 64
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match=f"manifest.json: sha256 .* not the pinned {digest[:12]}"):
        w2v.load(str(out), manifest_sha256=digest)


def test_a_failed_export_keeps_a_rescue_copy_that_publishes_again(tmp_path, vectors, full_disk, monkeypatch, capsys):
    import tempfile

    from w2v.cli import main
    from w2v.export import publish_artifact

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    disk = tmp_path / "disk"
    disk.mkdir()
    full_disk(disk)
    out = disk / "art"
    with pytest.raises(StorageError) as raised:
        publish_artifact(str(out), WORDS, COUNTS, vectors, {"parameters": {"text_vectors": True}}, {"n": 1}, False,
                         extra_files={"report.md": b"# r\n"}, rescue_to=[str(disk / "art.checkpoint" / "rescue")])
    message = str(raised.value)
    assert message.startswith(f"cannot write the artifact to {out} (No space left on device); the trained vectors")
    rescue = message.split("kept in ", 1)[1].split(":", 1)[0]
    assert rescue.startswith(str(tmp_path / "tmp")) and "\n" not in message  # the full disk took no rescue copy
    assert f"w2v publish {rescue} --out {out} --overwrite" in message
    assert np.array_equal(w2v.load(rescue).vectors, vectors)
    assert not [p for p in disk.rglob("*") if p.is_file()]  # nothing half-written on the full disk
    assert type(raised.value) is w2v.StorageUnavailableError and raised.value.exit_code == 6  # not bad input
    assert main(["publish", rescue, "--out", str(disk / "art2")]) == 6
    assert capsys.readouterr().err == (f"w2v: error: cannot write the artifact to {disk / 'art2'} (No space left on "
                                       f"device); free space, then run the same command again\n")
    again = tmp_path / "again"
    assert main(["publish", rescue, "--out", str(again)]) == 0
    assert "manifest sha256: " in capsys.readouterr().out
    assert np.array_equal(w2v.load(str(again)).vectors, vectors) and (again / "vectors.txt").exists()
    assert (again / "report.md").read_bytes() == b"# r\n" and json.loads((again / "eval.json").read_text()) == {"n": 1}
    w2v.verify(str(again))


@pytest.mark.parametrize("name", ["../x.txt", "/tmp/x.txt", "sub/../../x.txt", "a/b.txt", "..", ".", "", "a\\..\\x",
                                  "x\x00.txt"])
def test_every_reader_refuses_a_manifest_naming_a_file_that_is_not_a_plain_name_inside_the_artifact(
        tmp_path, vectors, name):
    art = tmp_path / "art"
    write(art, vectors)
    manifest = json.loads((art / "manifest.json").read_text())
    manifest["files"][name] = {"bytes": 1, "sha256": "0" * 64}
    (art / "manifest.json").write_text(json.dumps(manifest))
    for read in (w2v.load, w2v.verify):
        with pytest.raises(ArtifactError, match="manifest.json: lists .* not a plain file name inside the artifact"):
            read(str(art))


def test_publish_never_writes_outside_out_whatever_the_manifest_says(tmp_path, vectors, capsys):
    from w2v.cli import main

    art = tmp_path / "src" / "art"
    write(art, vectors)
    payload = b"import os; os.system('echo owned')\n"  # a .pth file beside the output would run at start-up
    (tmp_path / "src" / "evil.pth").write_bytes(payload)
    manifest = json.loads((art / "manifest.json").read_text())
    manifest["files"]["../evil.pth"] = {"bytes": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}
    (art / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "dst").mkdir()
    assert main(["publish", str(art), "--out", str(tmp_path / "dst" / "out")]) == 2
    err = capsys.readouterr().err
    assert err == (f"w2v: error: {art / 'manifest.json'}: lists '../evil.pth', which is not a plain file name "
                   "inside the artifact: refused\n")
    assert not (tmp_path / "dst" / "evil.pth").exists() and not (tmp_path / "dst" / "out").exists()


def test_a_presigned_corpus_urls_signature_reaches_neither_the_manifest_nor_the_model_card(tmp_path, vectors):
    url = ("https://b.s3.amazonaws.com/c.txt?X-Amz-Credential=AKIAFAKE%2F20260101&X-Amz-Security-Token=IQoJtok"
           "&X-Amz-Signature=f00dcafe")
    body = {"parameters": {"corpus": [url], "mlflow_uri": "http://h/?token=tok2"},
            "corpus": {"shards": [{"uri": url, "bytes": 10}]}}
    write_artifact(str(tmp_path / "art"), WORDS, COUNTS, vectors, body, None, False)
    update_artifact(str(tmp_path / "art"), {}, {"note": url})
    stored = "".join(p.read_text() for p in (tmp_path / "art").glob("*.json")) + \
        (tmp_path / "art" / "README.md").read_text()
    assert "X-Amz-Signature=***" in stored and "https://b.s3.amazonaws.com/c.txt?" in stored
    for secret in ("AKIAFAKE", "IQoJtok", "f00dcafe", "tok2"):
        assert secret not in stored


@pytest.mark.parametrize("vocab, line, shown_line", [
    (b"the\nof\t40\n", 1, "'the'"),  # no count column
    (b"the\tabc\nof\t40\n", 1, r"'the\tabc'"),
    (b"the\t50\nof\t-4\n", 2, r"'of\t-4'"),
    (b"the\t50\nof\t4\x00\n", 2, r"'of\t4\x00'"),
    (b"the\t50\n\t40\n", 2, r"'\t40'"),  # no word
])
def test_a_vocab_tsv_that_is_not_word_tab_count_is_named_with_its_line(tmp_path, vectors, vocab, line, shown_line):
    art = tmp_path / "art"
    write(art, vectors)
    rewrite(art, "vocab.tsv", vocab)
    with pytest.raises(ArtifactError) as raised:
        w2v.load(str(art))
    assert str(raised.value) == f"{art / 'vocab.tsv'} line {line}: {shown_line} is not word<TAB>count (a count of 0 " \
                                "or more)"


def test_a_word_listed_twice_in_vocab_tsv_is_refused(tmp_path, vectors):
    art = tmp_path / "art"
    write(art, vectors)
    rewrite(art, "vocab.tsv", b"the\t50\nof\t40\nthe\t7\n")
    with pytest.raises(ArtifactError, match=r"vocab.tsv line 3: 'the' is listed twice \(line 1 too\)$"):
        w2v.load(str(art))


def test_a_word_with_control_characters_is_read_as_written(tmp_path):
    words = ["esc\x1b[31m", "nel\x85x", "vt\x0bx"]  # str.splitlines would cut the last two
    write_artifact(str(tmp_path / "art"), words, [3, 2, 1], np.ones((3, 2), np.float32), {}, None, False)
    assert w2v.load(str(tmp_path / "art")).index_to_key == words


def test_two_jobs_racing_for_one_out_are_told_so_not_to_free_space(tmp_path, vectors):
    from w2v.export import publish_artifact

    out = tmp_path / "art"
    write(out, vectors)  # the other job published first, after this one checked that --out was empty
    with pytest.raises(StorageError) as raised:
        publish_artifact(str(out), WORDS, COUNTS, vectors * 2, {}, None, False,
                         rescue_to=[str(tmp_path / "ckpt" / "rescue")])
    message = str(raised.value)
    assert message.startswith(f"cannot write the artifact to {out} (--out {out} is no longer empty (another job wrote "
                              f"there); pass --overwrite to replace it); the trained vectors are kept in ")
    assert "another job published there meanwhile; keep both with another --out, or replace it: w2v publish " in message
    assert "free space" not in message and raised.value.exit_code == 2
