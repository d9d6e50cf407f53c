"""Checkpoints: complete or ignored, the newest good one wins, and --resume refuses another job's."""

import json

import numpy as np
import pytest

from w2v import ConfigError, StorageError, TrainConfig
from w2v import checkpoint
from w2v.corpus import Shard
from w2v.pipeline import preflight, resume_point
from w2v.rounds import Position


def weights(seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"vectors": rng.random((7, 3), dtype=np.float32), "syn1neg": rng.random((7, 3), dtype=np.float32)}


def position(epoch: int) -> dict:
    return {"position": {"epoch": epoch, "actor_epochs": [epoch, epoch + 1], "words_done": 10 * epoch}}


def test_written_checkpoint_reads_back_exactly(tmp_path):
    location = str(tmp_path / "ckpt")
    checkpoint.write(location, 1, weights(1), position(2))
    found = checkpoint.latest(location)
    assert found.number == 1 and found.epoch == 2
    assert found.state["position"]["actor_epochs"] == [2, 3]
    for name, array in weights(1).items():
        assert np.array_equal(found.weights[name], array)
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]  # the staging dir is gone


def test_only_the_newest_two_are_kept(tmp_path):
    location = str(tmp_path / "ckpt")
    for n in range(1, 5):
        checkpoint.write(location, n, weights(n), position(n))
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == ["ckpt-000003.json", "ckpt-000003.npz", "ckpt-000004.json", "ckpt-000004.npz"]
    assert checkpoint.latest(location).number == 4


def test_an_incomplete_or_damaged_checkpoint_is_ignored(tmp_path):
    """A crash between the two files, or a damaged npz: the previous checkpoint is used."""
    location = tmp_path / "ckpt"
    checkpoint.write(str(location), 1, weights(1), position(1))
    checkpoint.write(str(location), 2, weights(2), position(2))
    (location / "ckpt-000002.npz").write_bytes(b"half a file")  # damaged after the JSON was written
    (location / "ckpt-000003.npz").write_bytes(b"no JSON yet: never published")  # JSON never came
    found = checkpoint.latest(str(location))
    assert found.number == 1 and np.array_equal(found.weights["vectors"], weights(1)["vectors"])
    (location / "ckpt-000001.npz").unlink()
    assert checkpoint.latest(str(location)) is None
    assert checkpoint.exists(str(location))  # JSONs remain: --resume then says no complete checkpoint


@pytest.mark.parametrize("bad", [np.array([{"a": 1}], dtype=object), np.array(["abc"]), None])
def test_a_checksummed_npz_that_holds_no_numbers_is_ignored_with_a_warning(tmp_path, caplog, bad):
    """A broken writer or a crafted file, its sha256 consistent: an object array (pickle stays off), strings,
    or not a zip at all; the previous checkpoint is used, or --resume says there is none."""
    import hashlib
    import io

    location = tmp_path / "ckpt"
    checkpoint.write(str(location), 1, weights(1), position(1))
    checkpoint.write(str(location), 2, weights(2), position(2))
    packed = io.BytesIO()
    if bad is None:
        packed.write(b"PK\x03\x04 not really a zip")
    else:
        np.savez(packed, vectors=bad, allow_pickle=True)
    (location / "ckpt-000002.npz").write_bytes(packed.getvalue())
    meta = json.loads((location / "ckpt-000002.json").read_text())
    (location / "ckpt-000002.json").write_text(json.dumps({**meta, "sha256": hashlib.sha256(packed.getvalue())
                                                           .hexdigest()}))
    assert checkpoint.latest(str(location)).number == 1
    assert "ignoring checkpoint 2 in " in caplog.text and "ckpt-000002.npz" in caplog.text
    (location / "ckpt-000001.npz").unlink()  # the only one left is the bad one: --resume says why, in one line
    with pytest.raises(ConfigError, match=f"^--resume: no complete checkpoint in {location} \\(the newest: "
                                          f"ckpt-000002.npz: "):
        resume_point(TrainConfig(corpus=("c",), out=str(tmp_path / "art"), checkpoint_dir=str(location),
                                 resume=True), {})


def test_remove_all_leaves_nothing(tmp_path):
    location = tmp_path / "ckpt"
    checkpoint.write(str(location), 1, weights(1), position(1))
    checkpoint.remove_all(str(location))
    assert not location.exists()


def make(tmp_path, **overrides) -> TrainConfig:
    return TrainConfig(corpus=(str(tmp_path / "corpus"),), out=str(tmp_path / "out"), **overrides)


def test_resume_refuses_other_parameters_or_another_corpus(tmp_path):
    config = make(tmp_path)
    shards = [Shard("/c/a.txt", 10, 1.0), Shard("/c/b.txt", 20, 2.0)]
    state = {"identity": checkpoint.fingerprint(config, shards)}
    checkpoint.check_resumable(state, checkpoint.fingerprint(config, shards), "loc")  # the same job
    with pytest.raises(ConfigError, match=r"other parameters \(epochs: 5 in the checkpoint, 6 now"):
        checkpoint.check_resumable(state, checkpoint.fingerprint(make(tmp_path, epochs=6), shards), "loc")
    changed = [Shard("/c/a.txt", 10, 1.0), Shard("/c/b.txt", 21, 3.0)]
    with pytest.raises(ConfigError, match="the corpus changed since the checkpoint in loc"):
        checkpoint.check_resumable(state, checkpoint.fingerprint(config, changed), "loc")
    # Cluster and output settings may change between runs: fewer nodes, another sync interval.
    checkpoint.check_resumable(state, checkpoint.fingerprint(make(tmp_path, actors=1, sync_words=50_000), shards), "l")


def test_preflight_wants_a_checkpoint_for_resume_and_protects_one_without(tmp_path):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "a.txt").write_text("some words here\n")
    with pytest.raises(ConfigError, match=r"--resume: there is no checkpoint in .*out\.checkpoint"):
        preflight(make(tmp_path, resume=True))
    config = make(tmp_path)
    shards = preflight(config)
    checkpoint.write(config.checkpoint_location, 1, weights(1),
                     {"identity": checkpoint.fingerprint(config, shards), **position(1)})
    with pytest.raises(StorageError, match="holds a checkpoint of an unfinished job: pass --resume"):
        preflight(config)
    assert preflight(make(tmp_path, overwrite=True)) == shards
    assert preflight(make(tmp_path, resume=True)) == shards
    with pytest.raises(ConfigError, match="window: 5 in the checkpoint, 3 now"):
        preflight(make(tmp_path, resume=True, window=3))
    meta = tmp_path / "out.checkpoint" / "ckpt-000001.json"
    assert json.loads(meta.read_text())["identity"]["parameters"]["window"] == 5


def test_resume_refuses_a_different_vocabulary(tmp_path):
    config, shards = make(tmp_path), [Shard("/c/a.txt", 10, 1.0)]
    then = {**checkpoint.fingerprint(config, shards), "vocabulary": checkpoint.vocabulary_fingerprint(["a"], [5])}
    now = {**checkpoint.fingerprint(config, shards), "vocabulary": checkpoint.vocabulary_fingerprint(["a"], [6])}
    with pytest.raises(ConfigError, match="the vocabulary differs"):
        checkpoint.check_resumable({"identity": then}, now, "loc")
    assert checkpoint.latest_state(str(tmp_path / "none")) is None


def test_a_checkpoint_that_cannot_be_written_is_one_warning_and_training_goes_on(tmp_path, full_disk, caplog):
    disk = tmp_path / "disk"
    disk.mkdir()
    full_disk(disk)
    saver = checkpoint.Checkpointer(str(disk / "ckpt"), interval=60.0, fingerprint={"parameters": {}})
    with caplog.at_level("WARNING", logger="w2v.checkpoint"):
        saver.save(weights(1), Position(epoch=2))  # the training loop calls this: it must not raise
    assert (saver.saved, saver.failed) == (0, 1) and not saver.due()  # the next try waits one interval
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert "No space left on device" in warning.getMessage() and str(disk / "ckpt") in warning.getMessage()
    assert warning.exc_info is None and checkpoint.latest(str(disk / "ckpt")) is None
    assert [p.name for p in disk.iterdir()] in ([], ["ckpt"])  # no staging left behind
