"""The artifact: what other teams load, and the only way w2v writes it.

An artifact is a directory:

- `vectors.npy`   float32 V x D, row i = word i (numpy, TensorFlow, Keras);
- `vocab.tsv`     `word<TAB>count`, one line per row, same order;
- `vectors.bin`   word2vec C binary format (gensim `KeyedVectors.load_word2vec_format(binary=True)`);
- `vectors.txt`   word2vec text format, only when asked for (`--text-vectors`): it is large;
- `vectors.kv`    gensim's native `KeyedVectors.save`, only when asked for (`--kv-pickle`): it is a
                  **pickle**, and `KeyedVectors.load` runs whatever code a pickle holds, so load
                  it only from an artifact you trust (big matrices go to `vectors.kv.vectors.npy`);
- `phrases.tsv`   with `--phrases`: phrase, count, score, pass (`phrases`); `phrases-N.pkl` gensim
                  `FrozenPhrases` of pass N, only with `--phrases-pickle` (a pickle, as `vectors.kv`);
- `eval.json`, `report.md`, `*.png`   the evaluation and its human report (when it ran);
- `projector_config.pbtxt`, `metadata.tsv`, `projector_vectors.tsv`, `checkpoint`, `projector.ckpt-1.*`
                  TensorBoard Embedding Projector files for the most frequent words (written by the
                  evaluation task; TensorBoard reads the .tsv, TensorFlow users the checkpoint);
- `README.md`     the model card (`model_card`): Hugging Face Hub metadata, what was trained on what, how to load it;
- `events.out.tfevents.w2v-training`   the training curves as TensorBoard scalars (`scalars`);
- `manifest.json` parameters, shards, counts, timings, versions and the sha256 of every other file
                  (its sections: `manifest`).

Files are staged, then published with the manifest last: a directory without `manifest.json` is
an incomplete artifact, and `load` refuses it. Loading needs no pickle: `load` builds gensim
`KeyedVectors` from `vectors.npy` + `vocab.tsv` (read with `allow_pickle=False`) after checking
their checksums, and with `manifest_sha256` (printed at publish) refuses a manifest not the pinned one.

A publish that fails (a full disk, a denied upload) keeps the trained vectors: `publish_artifact`
writes a rescue copy (`vectors.npy`, `vocab.tsv`, the evaluation and the manifest) where it can,
and its one-line error says how to publish it again (`w2v publish RESCUE --out OUT`, `republish`).
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
from dataclasses import replace
from typing import IO, Any, Sequence

import numpy as np

from . import model_card, phrases, progress, storage
from .display import redacted, shown
from .errors import ArtifactError, StorageError, StorageUnavailableError
from .manifest import EVAL_JSON, FORMAT_VERSION, MANIFEST, Manifest

logger = logging.getLogger(__name__)

VECTORS_NPY = "vectors.npy"
VOCAB_TSV = "vocab.tsv"
VECTORS_BIN = "vectors.bin"
VECTORS_TXT = "vectors.txt"
VECTORS_KV = "vectors.kv"
KV_SEP_LIMIT = 1 << 20  # arrays of more elements go to their own .npy beside vectors.kv, for mmap="r"
HASH_BLOCK = 1 << 20  # bytes read per step while hashing: a file of any size is checked in bounded memory
NORM_BLOCK = 1 << 23  # bytes of the matrix per step while computing row norms (8 MiB)


def check_output(out_uri: str, overwrite: bool) -> None:
    """Refuse an output location that already holds files, unless overwriting was asked for.

    Called before any work starts, so a job never trains for hours towards a refused output.
    """
    path = storage.local_path(out_uri)
    if path is not None and os.path.isfile(path):
        raise StorageError(f"--out {out_uri} is a file; give a directory")
    names = storage.list_names(out_uri)
    if names and not overwrite:
        what = "an artifact" if MANIFEST in names else f"{len(names)} file(s)"
        raise StorageError(f"--out {out_uri} already holds {what}; pass --overwrite to replace it or choose another")


def keyed_vectors(words: Sequence[str], counts: Sequence[int], vectors: np.ndarray):
    """gensim KeyedVectors with our row order and the corpus counts (gensim's `count` attribute).

    The matrix is used as it is, not copied (a float32 memmap stays one): gensim's `add_vectors`
    would stack it into a new array, a second copy of the whole matrix in memory.
    """
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
    kv.vectors = np.asanyarray(vectors, dtype=np.float32)
    kv.index_to_key = list(words)
    kv.key_to_index = {word: i for i, word in enumerate(kv.index_to_key)}
    kv.next_index = len(kv.index_to_key)
    kv.allocate_vecattrs(attrs=["count"], types=[np.int64])
    kv.expandos["count"][:] = np.asarray(counts, dtype=np.int64)
    return kv


def sha256_stream(f: IO[bytes]) -> str:
    """sha256 of what is left to read in a binary file, streamed (`hashlib.file_digest` where there is one)."""
    if hasattr(hashlib, "file_digest"):  # Python >= 3.11
        return hashlib.file_digest(f, "sha256").hexdigest()
    digest = hashlib.sha256()
    for chunk in iter(lambda: f.read(HASH_BLOCK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: str) -> str:
    with open(path, "rb") as f:
        return sha256_stream(f)


def row_norms(vectors: np.ndarray) -> np.ndarray:
    """float32 l2 norm of every row, `NORM_BLOCK` bytes of rows at a time: what gensim's `fill_norms` computes.

    gensim's `np.linalg.norm(vectors, axis=1)` holds two matrix-sized temporaries while it runs
    (the conjugate and the squares); `einsum` sums the squares of each row with none.

    >>> row_norms(np.array([[3.0, 4.0], [0.0, 1.0]], dtype=np.float32)).tolist()
    [5.0, 1.0]
    """
    rows = max(1, NORM_BLOCK // max(1, vectors.shape[1] * vectors.itemsize))
    norms = np.empty(vectors.shape[0], dtype=np.float32)
    for start in range(0, vectors.shape[0], rows):
        block = np.asarray(vectors[start : start + rows], dtype=np.float32)
        norms[start : start + rows] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return norms


def write_artifact(out_uri: str, words: Sequence[str], counts: Sequence[int], vectors: np.ndarray,
                   manifest: dict[str, Any], evaluation: dict[str, Any] | None, overwrite: bool,
                   extra_files: dict[str, bytes] | None = None, text_vectors: bool = False,
                   kv_pickle: bool = False, arrays_only: bool = False,
                   arrays: dict[str, np.ndarray] | None = None) -> dict[str, Any]:
    """Stage every file, checksum it, then publish to `out_uri` with the manifest last.

    `extra_files` (name -> bytes: the report, its pictures, the projector files) are published
    with the rest; so are `arrays` (name -> matrix, written as .npy without pickle: the training
    state of `--save-training-state`). `kv_pickle` adds `vectors.kv` (a pickle); `arrays_only` leaves out every format
    that `republish` rebuilds from vectors.npy + vocab.tsv (a rescue copy: as small as it can be).
    Returns the manifest as written (with `files`: name -> bytes and sha256).
    """
    if vectors.shape != (len(words), vectors.shape[1]) or len(words) != len(counts):
        raise ValueError(f"{len(words)} words, {len(counts)} counts and a {vectors.shape} matrix do not agree")
    manifest = redacted(manifest)  # a presigned corpus URL's signature: the artifact is made to be shared
    cards = {} if arrays_only else {model_card.README_MD: model_card.card_bytes(manifest)}
    files = {**(extra_files or {}), **cards}  # name -> bytes
    text_vectors, kv_pickle = text_vectors and not arrays_only, kv_pickle and not arrays_only
    # Files staged: vectors.npy, vocab.tsv, vectors.bin, vectors.txt, vectors.kv, eval.json, then the rest.
    steps = sum([True, True, not arrays_only, text_vectors, kv_pickle, evaluation is not None]) + len(files) + \
        len(arrays or {})
    staging = storage.staging_dir(out_uri)
    try:
        with progress.bar("writing the artifact", total=steps, unit="files") as bar:
            np.save(os.path.join(staging, VECTORS_NPY), np.ascontiguousarray(vectors, dtype=np.float32))
            bar.update(1)
            with open(os.path.join(staging, VOCAB_TSV), "w", encoding="utf-8", newline="\n") as f:
                f.writelines(f"{w}\t{c}\n" for w, c in zip(words, counts))
            bar.update(1)
            kv = keyed_vectors(words, counts, vectors)
            if not arrays_only:
                kv.save_word2vec_format(os.path.join(staging, VECTORS_BIN), binary=True)
                bar.update(1)
            if text_vectors:
                kv.save_word2vec_format(os.path.join(staging, VECTORS_TXT), binary=False)
                bar.update(1)
            if kv_pickle:
                kv.save(os.path.join(staging, VECTORS_KV), sep_limit=KV_SEP_LIMIT)
                bar.update(1)
            if evaluation is not None:
                _write_json(os.path.join(staging, EVAL_JSON), evaluation)
                bar.update(1)
            for name, data in files.items():
                with open(os.path.join(staging, name), "wb") as f:
                    f.write(data)
                bar.update(1)
            for name, array in (arrays or {}).items():
                np.save(os.path.join(staging, name), np.ascontiguousarray(array, dtype=np.float32),
                        allow_pickle=False)
                bar.update(1)
            names = sorted(os.listdir(staging))
            written = {"format_version": FORMAT_VERSION, **manifest, "files": _checksums(staging, names)}
            _write_json(os.path.join(staging, MANIFEST), written)
        _clear_previous(out_uri, keep=set(names), overwrite=overwrite)
        publish_bytes = sum(os.path.getsize(os.path.join(staging, n)) for n in names + [MANIFEST])
        with progress.bar(f"publishing to {out_uri}", total=publish_bytes, unit="MB", scale=1e-6, decimals=1) as bar:
            storage.publish(staging, out_uri, names + [MANIFEST], last=MANIFEST,
                            published=lambda name, size: bar.update(size))
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after a successful publish
    logger.info("artifact written to %s (%d words x %d)", out_uri, len(words), vectors.shape[1])
    return written


def publish_artifact(out_uri: str, words: Sequence[str], counts: Sequence[int], vectors: np.ndarray,
                     manifest: dict[str, Any], evaluation: dict[str, Any] | None, overwrite: bool,
                     rescue_to: Sequence[str] = (), lost_hint: str = "", **formats: Any) -> dict[str, Any]:
    """`write_artifact`, and when the destination cannot take it, a rescue copy and a StorageError saying so.

    Hours of training must not end in an OSError traceback: the vectors go to the first of
    `rescue_to` (e.g. the checkpoint directory) or a new local temporary directory that takes
    them, and the error is one line: why, where the vectors are, the command that publishes them.
    `lost_hint` ends that line when no rescue copy could be written either.
    """
    args = (words, counts, vectors, manifest, evaluation)
    try:
        return write_artifact(out_uri, *args, overwrite, **formats)
    except (OSError, StorageError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        failed, advice = _publish_failure(exc)
    logger.info("cannot write the artifact to %s (%s): writing a rescue copy", out_uri, reason)  # the error line says it
    extra = {"extra_files": formats.get("extra_files"), "arrays": formats.get("arrays")}  # training state too
    for rescue in (*rescue_to, None):
        try:
            rescue = rescue or tempfile.mkdtemp(prefix="w2v-rescue-")
            write_artifact(rescue, *args, True, arrays_only=True, **extra)
        except (OSError, StorageError) as exc:
            logger.info("no rescue copy in %s either: %s", rescue, getattr(exc, "strerror", None) or exc)
            continue
        raise failed(f"cannot write the artifact to {out_uri} ({reason}); the trained vectors are kept in "
                     f"{rescue}: {advice}: w2v publish {rescue} --out {out_uri} --overwrite") from None
    raise failed(f"cannot write the artifact to {out_uri} ({reason}), nor a rescue copy anywhere"
                 + (f"; {lost_hint}" if lost_hint else "")) from None


class _OutTaken(StorageError):
    """--out was empty when the job checked it and holds files when it publishes: another job wrote there."""


def _publish_failure(exc: BaseException) -> tuple[type[StorageError], str]:
    """The error family and the advice for an artifact that could not be written: a full disk is not bad
    input (exit 6: free space); a denied write needs access; an --out another job took needs another --out."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code in (errno.ENOSPC, errno.EDQUOT):
        return StorageUnavailableError, "free space, then run"
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return StorageError, "fix access, then run"
    if isinstance(exc, _OutTaken):
        return StorageError, "another job published there meanwhile; keep both with another --out, or replace it"
    return (StorageUnavailableError if isinstance(exc, StorageUnavailableError) else StorageError), "then run"


def republish(src_uri: str, out_uri: str, overwrite: bool = False) -> dict[str, Any]:
    """Publish the artifact (or rescue copy) at `src_uri` again at `out_uri`, every format rebuilt.

    vectors.bin, vectors.txt and vectors.kv are written from vectors.npy + vocab.tsv as the original
    job's parameters asked; the evaluation, the report and the other files are copied, checksums verified.
    """
    manifest = read_manifest(src_uri)
    words, counts, vectors = load_arrays(src_uri)
    typed = Manifest.from_json(manifest)
    files = typed.files
    rebuilt = {VECTORS_NPY, VOCAB_TSV, VECTORS_BIN, VECTORS_TXT, EVAL_JSON, model_card.README_MD}
    extra = {n: _read_verified(src_uri, n, manifest) for n in files
             if n not in rebuilt and not n.startswith(VECTORS_KV)}
    evaluation = json.loads(_read_verified(src_uri, EVAL_JSON, manifest)) if EVAL_JSON in files else None
    parameters = typed.parameters
    body = {k: v for k, v in manifest.items() if k not in ("files", "format_version")}
    check_output(out_uri, overwrite)
    try:
        return write_artifact(out_uri, words, counts, vectors, body, evaluation, overwrite, extra,
                              text_vectors=bool(parameters.get("text_vectors")),
                              kv_pickle=bool(parameters.get("kv_pickle")))
    except OSError as exc:  # the source is untouched: the same command works once the cause is fixed
        failed, advice = _publish_failure(exc)
        raise failed(f"cannot write the artifact to {out_uri} ({exc.strerror or exc}); {advice} the same "
                     f"command again") from None


def update_artifact(uri: str, files: dict[str, bytes], changes: dict[str, Any]) -> dict[str, Any]:
    """Add or replace files of a published artifact and merge `changes` into its manifest.

    `w2v eval DIR` uses it to publish a new evaluation beside the vectors. The model card is
    rendered again from the new manifest. The manifest is removed first and written last, so a
    reader never trusts a half-updated artifact.
    """
    manifest = verify(uri)
    changes = redacted(changes)
    body = {k: v for k, v in {**manifest, **changes}.items() if k != "files"}
    files = {**files, model_card.README_MD: model_card.card_bytes(body)}
    staging = storage.staging_dir(uri)
    try:
        for name, data in files.items():
            with open(os.path.join(staging, name), "wb") as f:
                f.write(data)
        names = sorted(files)
        written = {**manifest, **changes, "files": {**manifest.get("files", {}), **_checksums(staging, names)}}
        _write_json(os.path.join(staging, MANIFEST), written)
        storage.remove(storage.join(uri, MANIFEST))
        storage.publish(staging, uri, names + [MANIFEST], last=MANIFEST)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return written


def _checksums(directory: str, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """name -> {bytes, sha256} of staged files."""
    return {n: {"bytes": os.path.getsize(os.path.join(directory, n)), "sha256": sha256_file(os.path.join(directory, n))}
            for n in names}


def _clear_previous(out_uri: str, keep: set[str], overwrite: bool) -> None:
    """Before replacing an artifact: drop its manifest first (it becomes incomplete), then its stale files."""
    names = storage.list_names(out_uri)
    if not names:
        return
    if not overwrite:  # something appeared since check_output: never clobber it
        raise _OutTaken(f"--out {out_uri} is no longer empty (another job wrote there); pass --overwrite to replace it")
    old_files: list[str] = []
    if MANIFEST in names:
        try:
            old_files = list(read_manifest(out_uri).get("files", {}))
        except ArtifactError:
            old_files = []
        storage.remove(storage.join(out_uri, MANIFEST))
    for name in old_files:
        if name not in keep and name in names:
            storage.remove(storage.join(out_uri, name))


def json_bytes(data: Any) -> bytes:
    """How w2v writes JSON files: indented, key order kept, numpy numbers as plain numbers."""
    return (json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n").encode("utf-8")


def _write_json(path: str, data: Any) -> None:
    with open(path, "wb") as f:
        f.write(json_bytes(data))


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (set, tuple)):
        return list(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


# ---------------------------------------------------------------------- reading


def manifest_sha256(uri: str) -> str:
    """sha256 of the published manifest.json: pin it (`load(uri, manifest_sha256=...)`) to pin every file."""
    return hashlib.sha256(_manifest_bytes(uri)).hexdigest()


def _manifest_bytes(uri: str) -> bytes:
    path = storage.join(uri, MANIFEST)
    local = storage.local_path(uri)  # an unsupported or credentialed URI is named as such, not as "no manifest"
    if local is not None:
        check_local_artifact_path(local, uri)
    try:
        with storage.open(path, "rb") as f:
            return f.read()
    except StorageError:
        raise ArtifactError(f"{uri}: no {MANIFEST}: not an artifact, or an incomplete one") from None


def check_local_artifact_path(path: str, uri: str) -> None:
    """An ArtifactError saying what a local `path` is when it cannot be an artifact: missing, or a file.

    Every artifact command and `w2v.load` read the manifest first, so this is where a user who typed
    `demo-artifact/vectors.bin` for `demo-artifact` is told so, instead of an OS error's traceback.
    """
    path = os.path.expanduser(path).rstrip("/") or "/"  # "vectors.bin/" is the file too
    if os.path.isdir(path):
        return
    if not os.path.exists(path):
        raise ArtifactError(f"{uri}: no such directory")
    parent = os.path.dirname(os.path.abspath(path))
    hint = f" ({os.path.dirname(uri.rstrip('/')) or '.'} is one)" if os.path.isfile(os.path.join(parent, MANIFEST)) else ""
    raise ArtifactError(f"{uri} is a file, not an artifact directory: give the directory that holds "
                        f"{MANIFEST}{hint}")


def read_manifest(uri: str, sha256: str | None = None) -> dict[str, Any]:
    """The artifact's manifest; an ArtifactError when there is none (incomplete) or it is not the pinned one.

    The manifest holds every other file's sha256, so a pinned manifest pins the whole artifact:
    an attacker who replaces a file and updates its checksum changes the manifest's own digest.
    """
    data = _manifest_bytes(uri)
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256.lower():
        raise ArtifactError(f"{storage.join(uri, MANIFEST)}: sha256 {hashlib.sha256(data).hexdigest()[:12]}... is "
                            f"not the pinned {sha256[:12]}...: the artifact is not the one published")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{storage.join(uri, MANIFEST)}: not valid JSON: {exc}") from None
    _check_file_names(storage.join(uri, MANIFEST), manifest)
    return manifest


def _check_file_names(where: str, manifest: Any) -> None:
    """Refuse a manifest whose `files` are not plain names of files inside the artifact.

    Every reader (publish, load, verify, --init-from) joins these names to the artifact's location:
    `../x.txt` or `/etc/x` would read, and `w2v publish` write, outside it (a `.pth` file or a shell
    profile placed that way is code run from an artifact). w2v writes flat names only.
    """
    files = manifest.get("files", {}) if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not all(isinstance(e, dict) and isinstance(e.get("sha256"), str)
                                              for e in files.values()):
        raise ArtifactError(f"{where}: `files` is not a table of name -> {{bytes, sha256}}: not an artifact w2v wrote")
    bad = next((n for n in files if not is_plain_name(n)), None)
    if bad is not None:
        raise ArtifactError(f"{where}: lists {shown(bad)}, which is not a plain file name inside the artifact: refused")


def is_plain_name(name: str) -> bool:
    """Whether `name` names a file directly inside a directory: no separator, no `.`/`..`, nothing unprintable.

    >>> [is_plain_name(n) for n in ("vectors.npy", "../x.txt", "a/b", "..", "", "a\\b")]
    [True, False, False, False, False, False]
    """
    return name not in ("", ".", "..") and "/" not in name and "\\" not in name and name.isprintable()


def _read_verified(uri: str, name: str, manifest: dict[str, Any]) -> bytes:
    """One artifact file's bytes, checked against the manifest's sha256."""
    files = manifest.get("files", {})
    expected = files.get(name)  # None with checksums switched off
    if name not in files:
        raise ArtifactError(f"{uri}: {MANIFEST} lists no {name}")
    try:
        with storage.open(storage.join(uri, name), "rb") as f:
            data = f.read()
    except StorageError:
        raise ArtifactError(f"{storage.join(uri, name)}: missing, but listed in {MANIFEST}") from None
    if expected is not None and hashlib.sha256(data).hexdigest() != expected["sha256"]:
        raise ArtifactError(f"{storage.join(uri, name)}: sha256 does not match {MANIFEST}: the file was altered")
    return data


def _check_sha256(f: IO[bytes], where: str, expected: dict[str, Any] | None) -> None:
    """Stream `f` from its start through sha256 and compare with the manifest's entry (None: not checked)."""
    if expected is not None and sha256_stream(f) != expected["sha256"]:
        raise ArtifactError(f"{where}: sha256 does not match {MANIFEST}: the file was altered")


def read_file(uri: str, name: str, manifest: dict[str, Any]) -> bytes:
    """One file of an artifact (e.g. its training state), checked against `manifest`'s sha256."""
    return _read_verified(uri, name, manifest)


def load_array(uri: str, name: str, manifest: dict[str, Any]) -> np.ndarray:
    """One .npy file of an artifact (e.g. the training state), checked against `manifest`, without pickle."""
    try:
        return np.load(io.BytesIO(_read_verified(uri, name, manifest)), allow_pickle=False)
    except ValueError as exc:  # an object array (pickle stays off), or not a .npy file at all
        raise ArtifactError(f"{storage.join(uri, name)}: not a .npy matrix of numbers w2v can read: {exc}") from None


def verify(uri: str, manifest_sha256: str | None = None) -> dict[str, Any]:
    """Check every file listed in the manifest (and the manifest, when pinned); returns it or raises ArtifactError.

    Each file is hashed as it streams (`HASH_BLOCK` bytes at a time): a 10 GB matrix needs no 10 GB of memory.
    """
    manifest = read_manifest(uri, manifest_sha256)
    for name, expected in manifest.get("files", {}).items():
        try:
            with storage.open(storage.join(uri, name), "rb") as f:
                _check_sha256(f, storage.join(uri, name), expected)
        except StorageError:
            raise ArtifactError(f"{storage.join(uri, name)}: missing, but listed in {MANIFEST}") from None
    return manifest


def load_arrays(uri: str, verify_checksums: bool = True, manifest_sha256: str | None = None,
                mmap: bool = True) -> tuple[list[str], list[int], np.ndarray]:
    """(words, counts, vectors) of an artifact, checksums verified (and the manifest's, when pinned).

    A local artifact's matrix is memory-mapped read-only (`mmap`, see `_map_matrix`): its pages
    are read when used, so a matrix bigger than the memory still answers queries. With
    `mmap=False`, or from S3, it is read into memory (a writable array).
    """
    return _read_arrays(uri, read_manifest(uri, manifest_sha256), verify_checksums, mmap)


def _read_arrays(uri: str, manifest: dict[str, Any], verify_checksums: bool,
                 mmap: bool = True) -> tuple[list[str], list[int], np.ndarray]:
    if not verify_checksums:  # trust the files: skips hashing, which takes a while on big artifacts
        manifest = {"files": {n: None for n in (VECTORS_NPY, VOCAB_TSV)}}
    if mmap and storage.local_path(uri) is not None:
        vectors = _map_matrix(uri, manifest)
    else:
        vectors = load_array(uri, VECTORS_NPY, manifest)
    rows = read_counts(_read_verified(uri, VOCAB_TSV, manifest), storage.join(uri, VOCAB_TSV))
    words, counts = [w for w, _ in rows], [c for _, c in rows]
    if vectors.shape[0] != len(words):
        raise ArtifactError(f"{uri}: {VECTORS_NPY} has {vectors.shape[0]} rows but {VOCAB_TSV} {len(words)} words")
    return words, counts, vectors


def read_counts(data: bytes, where: str) -> list[tuple[str, int]]:
    """(word, count) of each `word<TAB>count` line (vocab.tsv, dropped_counts.tsv), or an ArtifactError naming
    the file and the line: checksums only say the file is the one its manifest lists, not that its writer
    was right (or that no one edited both).

    Lines end at `\\n` only: a word may hold control characters that `str.splitlines` would cut at.

    >>> read_counts(b"the\\t50\\nesc\\x1b\\t2\\n", "vocab.tsv")
    [('the', 50), ('esc\\x1b', 2)]
    >>> read_counts(b"the\\t50\\nthe\\t3\\n", "a/vocab.tsv")
    Traceback (most recent call last):
    w2v.errors.ArtifactError: a/vocab.tsv line 2: 'the' is listed twice (line 1 too)
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArtifactError(f"{where}: not UTF-8 (byte {exc.start})") from None
    rows: list[tuple[str, int]] = []
    first: dict[str, int] = {}  # word -> the line it is on
    for number, line in enumerate(text.removesuffix("\n").split("\n") if text else [], 1):
        word, tab, count = line.rpartition("\t")
        if not tab or not word or not (count.isascii() and count.isdigit()):
            raise ArtifactError(f"{where} line {number}: {shown(line)} is not word<TAB>count (a count of 0 or more)")
        if word in first:
            raise ArtifactError(f"{where} line {number}: {shown(word)} is listed twice (line {first[word]} too)")
        first[word] = number
        rows.append((word, int(count)))
    return rows


def _map_matrix(uri: str, manifest: dict[str, Any]) -> np.ndarray:
    """A local `vectors.npy` as a read-only memmap, after a streamed sha256 of the same open file.

    What `np.load(path, mmap_mode="r", allow_pickle=False)` gives, but hashed and mapped through
    one file descriptor: the bytes checked are the bytes mapped, even if the path is replaced
    in between (numpy's memmap opener takes a path, not an open file). The file is read once
    to hash it; the matrix is never copied into memory.
    """
    where = storage.join(uri, VECTORS_NPY)
    if VECTORS_NPY not in manifest.get("files", {}):
        raise ArtifactError(f"{uri}: {MANIFEST} lists no {VECTORS_NPY}")
    try:
        f = open(storage.local_path(where), "rb")
    except OSError:
        raise ArtifactError(f"{where}: missing, but listed in {MANIFEST}") from None
    with f:
        _check_sha256(f, where, manifest["files"][VECTORS_NPY])
        f.seek(0)
        try:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"version {version[0]}.{version[1]} of the .npy format, which w2v does not write")
            shape, fortran_order, dtype = read_header(f)
        except ValueError as exc:
            raise ArtifactError(f"{where}: not a .npy matrix w2v can read: {exc}") from None
        if dtype.hasobject:  # what allow_pickle=False refuses
            raise ArtifactError(f"{where}: holds Python objects (a pickle), not numbers: refused")
        offset, size = f.tell(), int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        actual = os.fstat(f.fileno()).st_size
        if actual != offset + size:
            raise ArtifactError(f"{where}: {actual:,} bytes, not the {offset + size:,} its header describes")
        if size == 0:
            return np.zeros(shape, dtype=dtype)
        return np.memmap(f, dtype=dtype, mode="r", offset=offset, shape=shape, order="F" if fortran_order else "C")


def load(uri: str, verify_checksums: bool = True, manifest_sha256: str | None = None, mmap: bool = True):
    """gensim `KeyedVectors` of an artifact (local path or URI), without pickle: safe on untrusted artifacts.

    `manifest_sha256` (printed when the artifact was published) refuses any other manifest. The
    tokenization the artifact was trained with is attached as `kv.w2v_read_options` (a
    `corpus.ReadOptions`, with its `phrases.tsv` as `phrases` when it has one): `to_indices` and
    `w2v.phrase` apply it. A local artifact's `kv.vectors` is a read-only memmap of `vectors.npy`
    (`load_arrays`; `mmap=False` reads it into memory), and its row norms are computed block by
    block here, so gensim's queries never hold a second matrix-sized array.

    >>> kv = load("artifacts/demo")                      # doctest: +SKIP
    >>> kv.most_similar("king", topn=3)                  # doctest: +SKIP
    """
    from .corpus import ReadOptions

    manifest = read_manifest(uri, manifest_sha256)
    kv = keyed_vectors(*_read_arrays(uri, manifest, verify_checksums, mmap))
    kv.norms = row_norms(kv.vectors)  # what gensim's fill_norms would compute, in bounded memory
    kv.w2v_read_options = ReadOptions.of(Manifest.from_json(manifest).parameters)
    if phrases.PHRASES_TSV in manifest.get("files", {}):
        table = _read_verified(uri, phrases.PHRASES_TSV, manifest)
        phrasing = phrases.from_tsv(table, manifest.get("phrases") or {})
        kv.w2v_read_options = replace(kv.w2v_read_options, phrases=phrasing)
    return kv
