"""The artifact: formats that load back to the same vectors, checksums, never half-written."""

import hashlib
import json

import numpy as np
import pytest
from gensim.models import KeyedVectors

import w2v
from w2v import ArtifactError, StorageError
from w2v.export import check_output, write_artifact

WORDS = ["the", "of", "zebra", "café", "a"]
COUNTS = [50, 40, 7, 7, 5]


@pytest.fixture
def vectors():
    return np.random.default_rng(0).standard_normal((len(WORDS), 8)).astype(np.float32)


def write(out, vectors, overwrite=False, evaluation=None):
    return write_artifact(str(out), WORDS, COUNTS, vectors, {"parameters": {"note": "test"}}, evaluation, overwrite)


def test_files_agree_and_manifest_checksums_match(tmp_path, vectors):
    out = tmp_path / "art"
    manifest = write(out, vectors, evaluation={"neighbors": {}})
    assert sorted(p.name for p in out.iterdir()) == ["eval.json", "manifest.json", "vectors.bin", "vectors.npy",
                                                     "vocab.tsv"]
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


def test_load_gives_keyed_vectors_with_counts(tmp_path, vectors):
    write(tmp_path / "art", vectors)
    kv = w2v.load(str(tmp_path / "art"))
    assert kv.index_to_key == WORDS and kv.key_to_index["zebra"] == 2
    assert np.array_equal(kv.vectors, vectors)
    assert [kv.get_vecattr(w, "count") for w in WORDS] == COUNTS


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
