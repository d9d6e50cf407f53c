"""Training curves as TensorBoard scalars: one event file beside the projector files of the artifact.

`tensorboard --logdir ARTIFACT` then shows both: the Embedding Projector (the evaluation writes
`projector_config.pbtxt` and `projector_vectors.tsv`, which TensorBoard reads without TensorFlow) and, under Scalars, per epoch:

- `train/words_per_s`  words trained per second by all actors over the epoch;
- `train/epoch_loss`   the epoch's training loss, gensim's, summed over the actors (rough: gensim's own);
- `train/sync_share`   the share of the actors' time spent exchanging weights (with 2+ actors).

The file is written by the driver with neither TensorFlow nor TensorBoard: an event file is a
TFRecord file (each record: its length, a masked CRC-32C of the length, the bytes, a masked
CRC-32C of the bytes) of `Event` protocol buffers, and the few fields scalars need are encoded
here (`Event.wall_time` 1, `step` 2, `file_version` 3, `summary` 5; `Summary.value` 1;
`Value.tag` 1, `simple_value` 2). The tests read the file back with TensorBoard's own reader.
"""

from __future__ import annotations

import struct
import time
from typing import Any, Sequence

from .manifest import epoch_losses

EVENTS_FILE = "events.out.tfevents.w2v-training"  # TensorBoard reads files whose name holds "tfevents"
TAGS = {"words_per_s": "train/words_per_s", "epoch_loss": "train/epoch_loss", "sync_share": "train/sync_share"}


def _crc32c_table() -> list[int]:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1  # Castagnoli polynomial, reflected
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), as TFRecord files use it.

    >>> hex(crc32c(b"123456789"))
    '0xe3069283'
    """
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC_TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    """TFRecord's masked CRC: rotated right by 15 bits, plus a constant."""
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC of the length, data, masked CRC of the data."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _masked(crc32c(length))) + data + struct.pack("<I", _masked(crc32c(data)))


def _varint(n: int) -> bytes:
    """Protocol-buffer base-128 varint of a non-negative integer.

    >>> _varint(300).hex()
    'ac02'
    """
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire_type) + payload


def _bytes_field(number: int, data: bytes) -> bytes:
    return _field(number, 2, _varint(len(data)) + data)


def event(wall_time: float, step: int = 0, scalars: dict[str, float] | None = None,
          file_version: str | None = None) -> bytes:
    """An `Event` message: at `wall_time` (seconds since the epoch) and `step`, scalars tag -> value."""
    data = _field(1, 1, struct.pack("<d", wall_time)) + _field(2, 0, _varint(step))
    if file_version is not None:
        data += _bytes_field(3, file_version.encode())
    if scalars:
        values = b"".join(_bytes_field(1, _bytes_field(1, tag.encode()) + _field(2, 5, struct.pack("<f", value)))
                          for tag, value in scalars.items())
        data += _bytes_field(5, values)
    return data


def per_epoch(epochs: Sequence[dict[str, Any]], sync_share: float | None = None) -> list[tuple[int, dict[str, float]]]:
    """(epoch, tag -> value) of the manifest's `training.epochs`; `sync_share` stands for epochs without their own.

    >>> per_epoch([{"epoch": 1, "words_per_s": 10, "epoch_loss": 2.5}], sync_share=0.1)
    [(1, {'train/words_per_s': 10.0, 'train/epoch_loss': 2.5, 'train/sync_share': 0.1})]
    """
    points = []
    for e, loss in zip(epochs, epoch_losses(list(epochs))):
        values = {TAGS[k]: float(v) for k, v in (("words_per_s", e.get("words_per_s")), ("epoch_loss", loss))
                  if v is not None}
        share = e.get("sync_share", sync_share)
        if share is not None:
            values[TAGS["sync_share"]] = float(share)
        points.append((int(e["epoch"]), values))
    return points


def event_file(epochs: Sequence[dict[str, Any]], sync_share: float | None = None,
               finished: float | None = None) -> bytes:
    """The bytes of an event file with one step per epoch; `finished` (default now) is the last epoch's wall time.

    Each epoch's wall time is counted back from `finished` by the epochs' `seconds`, so
    TensorBoard's relative-time axis shows how long each took.
    """
    finished = time.time() if finished is None else finished
    ends, t = [], finished
    for e in reversed(epochs):
        ends.append(t)
        t -= float(e.get("seconds") or 0.0)
    ends.reverse()
    out = [record(event(t, file_version="brain.Event:2"))]
    out += [record(event(end, step, values)) for end, (step, values) in zip(ends, per_epoch(epochs, sync_share))]
    return b"".join(out)
