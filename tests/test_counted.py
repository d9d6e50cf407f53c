"""The counting pass's outcome beside the checkpoints (`w2v/counted.py`): read back exactly, and only by a
`--resume` of the same job; a damaged record is counted again, not trusted."""

import gzip
import logging
from dataclasses import replace

from w2v import TrainConfig, checkpoint, counted
from w2v.corpus import Shard
from w2v.phrases import Phrasing
from w2v.vocab import ShardCount, Vocabulary


def record(fingerprint) -> counted.Counted:
    vocab = Vocabulary(("new_york", "the", "a"), (9, 7, 5), 5, 40, 6, phrasing=Phrasing(({"new_york": (9, 21.5)},)))
    shards = (ShardCount("s3://b/x.txt", 30, 3, 5, {}, bad_lines=1), ShardCount("s3://b/y.txt", 10, 1, 2, {}),
              ShardCount("s3://b/empty.txt", 0, 0, 0, {}, skipped="empty file"))
    return counted.Counted(fingerprint, vocab, shards, dropped={"rare": 1})


FILES = [Shard("s3://b/x.txt", 100, 1.0), Shard("s3://b/y.txt", 40, 1.0), Shard("s3://b/empty.txt", 0, 1.0)]


def fingerprint(tmp_path, parent=None, **changes):
    config = TrainConfig(corpus=("s3://b/",), out=str(tmp_path / "out"), **changes)
    return counted.fingerprint(checkpoint.fingerprint(config, FILES), parent)


def test_the_record_reads_back_exactly_for_the_same_job_only(tmp_path, caplog):
    location = str(tmp_path / "out.checkpoint")
    written = record(fingerprint(tmp_path))
    counted.write(location, written)
    found = counted.read(location, fingerprint(tmp_path))
    assert found == written  # phrases, per-shard summaries and left-out words included
    assert found.vocab.phrasing.apply(["new", "york"]) == ["new_york"]
    with caplog.at_level(logging.INFO, logger="w2v.counted"):
        assert counted.read(location, fingerprint(tmp_path, min_count=2)) is None  # another job's
        assert counted.read(location, fingerprint(tmp_path, parent="f00d")) is None  # another parent's words
    assert "other parameters or files: counting the corpus again" in caplog.text


def test_a_damaged_or_missing_record_means_counting_again(tmp_path, caplog):
    location = tmp_path / "out.checkpoint"
    assert counted.read(str(location), fingerprint(tmp_path)) is None  # never written
    counted.write(str(location), record(fingerprint(tmp_path)))
    good = (location / counted.FILE).read_bytes()
    with caplog.at_level(logging.WARNING, logger="w2v.counted"):
        for damaged in (gzip.compress(b'{"format_version": 1, "fingerprint": {}'),  # cut short
                        gzip.compress(b"[1, 2]"),  # not an object
                        good[:20] + bytes(b ^ 0xFF for b in good[20:60]) + good[60:]):  # bytes flipped inside
            (location / counted.FILE).write_bytes(damaged)
            assert counted.read(str(location), fingerprint(tmp_path)) is None
    assert "counted.json.gz" in caplog.text and "counting the corpus again" in caplog.text


def test_the_record_goes_with_the_checkpoints_once_the_job_is_done(tmp_path):
    location = str(tmp_path / "out.checkpoint")
    counted.write(location, record(fingerprint(tmp_path)))
    checkpoint.remove_all(location)
    assert not (tmp_path / "out.checkpoint").exists()


def test_a_record_that_cannot_be_written_is_one_warning(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with caplog.at_level(logging.WARNING, logger="w2v.counted"):
        counted.write(str(blocker / "out.checkpoint"), record(fingerprint(tmp_path)))
    assert "a --resume would count the corpus again" in caplog.text


def test_a_resume_takes_the_counts_only_where_they_hold_for_this_run(tmp_path, caplog):
    """Same parameters and files, cut into the same shards, the same counting bound, the left-out words when
    --save-training-state wants them: anything else is counted again (pipeline._counted_for_resume)."""
    from w2v.pipeline import _counted_for_resume

    def config(**changes):
        return TrainConfig(corpus=("s3://b/",), out=str(tmp_path / "out"), resume=True, **changes)

    split = [Shard("s3://b/x.txt", 100, 1.0), Shard("s3://b/y.txt", 40, 1.0), Shard("s3://b/empty.txt", 0, 1.0)]
    location = config().checkpoint_location
    counted.write(location, record(fingerprint(tmp_path)))
    assert _counted_for_resume(config(), FILES, split, None) == record(fingerprint(tmp_path))
    assert _counted_for_resume(replace(config(), resume=False), FILES, split, None) is None
    with caplog.at_level(logging.INFO):
        halves = [Shard("s3://b/x.txt", 100, 1.0, 0, 50), Shard("s3://b/x.txt", 100, 1.0, 50, 100)] + split[1:]
        assert _counted_for_resume(config(), FILES, halves, None) is None  # cut for another number of actors
        assert _counted_for_resume(config(max_vocab_size=1000), FILES, split, None) is None
    assert caplog.text.count("counting the corpus again") == 2
    no_dropped = replace(record(fingerprint(tmp_path)), dropped=None)
    counted.write(location, no_dropped)
    assert _counted_for_resume(config(), FILES, split, None) == no_dropped
    assert _counted_for_resume(config(save_training_state=True), FILES, split, None) is None
