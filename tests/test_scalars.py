"""The training curves' event file, read back by TensorBoard's own reader; written without TensorFlow."""

import subprocess
import sys

import pytest

from w2v.scalars import EVENTS_FILE, event_file, record

EPOCHS = [{"epoch": 1, "words_per_s": 1000, "epoch_loss": 50.0, "seconds": 2.0},
          {"epoch": 2, "words_per_s": 1500, "epoch_loss": 40.5, "seconds": 1.5},
          {"epoch": 3, "words_per_s": 1200, "epoch_loss": 30.25, "seconds": 1.0, "sync_share": 0.125}]


# TensorBoard's readers import TensorFlow when it is installed (tensorboard.compat): slow.
tensorboard_reader = pytest.mark.slow


def _scalars(directory):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(directory))
    acc.Reload()
    return {tag: [(e.step, e.value, e.wall_time) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


@tensorboard_reader
def test_tensorboard_reads_every_epoch_back(tmp_path):
    (tmp_path / EVENTS_FILE).write_bytes(event_file(EPOCHS, sync_share=0.25, finished=1_000_000.0))
    scalars = _scalars(tmp_path)
    assert set(scalars) == {"train/words_per_s", "train/epoch_loss", "train/sync_share"}
    assert [(s, v) for s, v, _ in scalars["train/words_per_s"]] == [(1, 1000), (2, 1500), (3, 1200)]
    assert [(s, v) for s, v, _ in scalars["train/epoch_loss"]] == [(1, 50.0), (2, 40.5), (3, 30.25)]
    assert [(s, v) for s, v, _ in scalars["train/sync_share"]] == [(1, 0.25), (2, 0.25), (3, 0.125)]
    assert [t for _, _, t in scalars["train/epoch_loss"]] == [999_997.5, 999_999.0, 1_000_000.0]  # counted back


def test_an_older_manifests_running_loss_becomes_each_epochs_loss():
    from w2v.scalars import per_epoch

    old = [{"epoch": 1, "words_per_s": 10, "loss": 516_808.0}, {"epoch": 2, "words_per_s": 10, "loss": 900_000.0}]
    assert [values["train/epoch_loss"] for _, values in per_epoch(old)] == [516_808.0, 383_192.0]


@tensorboard_reader
def test_without_exchanges_there_is_no_sync_curve(tmp_path):
    (tmp_path / EVENTS_FILE).write_bytes(event_file(EPOCHS[:2]))
    assert set(_scalars(tmp_path)) == {"train/words_per_s", "train/epoch_loss"}


@tensorboard_reader
def test_a_corrupted_record_is_refused_by_tensorboard(tmp_path):
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import PyRecordReader_New

    good = record(b"payload")
    bad = good[:-5] + b"X" + good[-4:]  # one data byte changed: its CRC no longer matches
    for name, data in (("good", good), ("bad", bad)):
        (tmp_path / name).write_bytes(data)
    reader = PyRecordReader_New(str(tmp_path / "good"))
    reader.GetNext()
    assert reader.record() == b"payload"
    reader = PyRecordReader_New(str(tmp_path / "bad"))
    with pytest.raises(Exception, match="(?i)crc|data loss|corrupt"):
        reader.GetNext()


def test_writing_imports_neither_tensorflow_nor_tensorboard():
    code = ("import sys; from w2v.scalars import event_file; event_file([{'epoch': 1, 'words_per_s': 1, 'loss': 1}]);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tensorboard')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
