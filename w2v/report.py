"""What a person reads about an artifact: `report.md`, its two pictures, and `w2v info`'s summary.

- `words_pca.png`: the 300 most frequent words on the first two principal components (numpy SVD
  of the centred unit vectors: no scikit-learn);
- `training_curves.png`: words/s and gensim's (rough) training loss per epoch, from the manifest;
- `report.md`: the artifact in a few lines, the evaluation's tables, and the pictures.

Drawing uses matplotlib's Agg backend (no display needed) and runs on the driver; nothing here
imports TensorFlow.
"""

from __future__ import annotations

import io
from typing import Any, Sequence

import numpy as np

from .display import printable

REPORT_MD = "report.md"
PCA_PNG = "words_pca.png"
CURVES_PNG = "training_curves.png"
PCA_WORDS = 300


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """n x 2 coordinates of the unit rows on their first two principal components.

    >>> pca_2d(np.eye(3, dtype=np.float32)).shape
    (3, 2)
    """
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    centred = unit - unit.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


def pca_picture(vectors: np.ndarray, words: Sequence[str], top: int = PCA_WORDS) -> bytes:
    """PNG of the `top` most frequent words on a 2-D PCA map."""
    plt = _pyplot()
    top = min(top, len(words))
    xy = pca_2d(vectors[:top]) if top >= 2 else np.zeros((top, 2))
    fig, ax = plt.subplots(figsize=(13, 10))
    ax.scatter(xy[:, 0], xy[:, 1], s=6, color="tab:blue", alpha=0.5)
    for (x, y), word in zip(xy, words[:top]):
        ax.annotate(word, (x, y), fontsize=7, alpha=0.85, xytext=(2, 2), textcoords="offset points")
    ax.set_title(f"The {top} most frequent words, first two principal components of the unit vectors")
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    return _png(fig)


def epoch_losses(running: Sequence[float]) -> list[float]:
    """Each epoch's loss from gensim's running total (it accumulates over a `train` call).

    >>> epoch_losses([5.0, 9.0, 12.5])
    [5.0, 4.0, 3.5]
    """
    return [b - a for a, b in zip([0.0, *running[:-1]], running)]


def curves_picture(epochs: Sequence[dict[str, Any]]) -> bytes:
    """PNG of words/s and training loss per epoch (the manifest's `training.epochs`)."""
    plt = _pyplot()
    x = [e["epoch"] for e in epochs]
    fig, (speed, loss) = plt.subplots(1, 2, figsize=(11, 4))
    speed.plot(x, [e["words_per_s"] for e in epochs], marker="o")
    speed.set(title="training speed", xlabel="epoch", ylabel="words / s")
    speed.set_ylim(bottom=0)
    loss.plot(x, epoch_losses([e["loss"] for e in epochs]), marker="o", color="tab:red")
    loss.set(title="training loss per epoch (gensim's, all actors)", xlabel="epoch", ylabel="loss")
    for ax in (speed, loss):
        ax.grid(alpha=0.3)
        ax.set_xticks(x)
    return _png(fig)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def markdown(manifest: dict[str, Any], evaluation: dict[str, Any]) -> str:
    """report.md: the artifact, the evaluation's tables (analogies per section, word pairs, neighbours), pictures."""
    lines = ["# w2v evaluation report", ""]
    lines += [f"- {line}" for line in describe(manifest, with_files=False) if not line.startswith("evaluation:")]
    rt = evaluation["runtime"]
    lines += [f"- evaluation: {rt['seconds']:.1f} s in total, TensorFlow {rt['tensorflow']} on "
              f"{', '.join(rt['devices'])} ({rt['host']})", ""]
    for a in evaluation.get("analogies", []):
        methods = a["methods"]
        lines += [f"## Analogies: {a['file']}", "",
                  f"{a['total']['evaluated']:,} of {a['total']['questions']:,} questions evaluated "
                  f"({a['oov_ratio']}% OOV: skipped, as gensim does) among the {a['restrict_vocab']:,} most "
                  f"frequent words, in **{a['seconds']:.2f} s** for {' and '.join(methods)}.", "",
                  "| section | questions | evaluated | " + " | ".join(methods) + " |",
                  "|---|---:|---:|" + "---:|" * len(methods)]
        for row in a["sections"] + [a["total"]]:
            name = f"**{row['section']}**" if row is a["total"] else row["section"]
            lines.append(f"| {name} | {row['questions']:,} | {row['evaluated']:,} | "
                         + " | ".join(_pct(row[m]["accuracy"]) for m in methods) + " |")
        lines.append("")
    if evaluation.get("pairs"):
        lines += ["## Word-pair similarity", "", "| file | pairs | evaluated | OOV | Spearman ρ | Pearson r |",
                  "|---|---:|---:|---:|---:|---:|"]
        for p in evaluation["pairs"]:
            rho = "n/a" if p["spearman"] is None else f"{p['spearman']:.3f}"
            r = "n/a" if p["pearson"] is None else f"{p['pearson']:.3f}"
            lines.append(f"| {p['file']} | {p['pairs']} | {p['evaluated']} | {p['oov_ratio']}% | {rho} | {r} |")
        lines.append("")
    if evaluation.get("neighbors"):
        lines += ["## Nearest neighbours (cosine)", ""]
        lines += [f"- **{printable(word)}**: " + ", ".join(f"{printable(n['word'])} ({n['cosine']:.2f})" for n in found)
                  for word, found in evaluation["neighbors"].items()]
        lines.append("")
    lines += ["## Pictures", "", f"![The most frequent words, PCA]({PCA_PNG})", "",
              f"![Training curves]({CURVES_PNG})", ""]
    return "\n".join(lines)


def render(manifest: dict[str, Any], evaluation: dict[str, Any], words: Sequence[str],
           vectors: np.ndarray) -> dict[str, bytes]:
    """name -> bytes of report.md and its pictures (no training curves without per-epoch numbers)."""
    files = {REPORT_MD: markdown(manifest, evaluation).encode("utf-8"), PCA_PNG: pca_picture(vectors, words)}
    epochs = manifest.get("training", {}).get("epochs") or []
    if epochs:
        files[CURVES_PNG] = curves_picture(epochs)
    else:
        files[REPORT_MD] = files[REPORT_MD].replace(f"![Training curves]({CURVES_PNG})".encode(),
                                                    b"(no per-epoch training numbers in the manifest)")
    return files


def evaluation_line(summary: dict[str, Any]) -> str:
    """The manifest's evaluation summary in one line: analogy accuracies, Spearman of each pair file."""
    parts = [f"{name} " + ", ".join(f"{m} {_pct(acc)}" for m, acc in scores.items() if m != "oov_ratio")
             + f" ({scores['oov_ratio']}% OOV)" for name, scores in summary.get("analogies", {}).items()]
    parts += [f"{name} Spearman {s['spearman']} ({s['oov_ratio']}% OOV)" for name, s in summary.get("pairs", {}).items()]
    return "; ".join(parts)


def describe(manifest: dict[str, Any], with_files: bool = True) -> list[str]:
    """`w2v info`: the manifest as a few readable lines."""
    p, v, c = manifest.get("parameters", {}), manifest.get("vocabulary", {}), manifest.get("corpus", {})
    t = manifest.get("training", {})
    lines = [f"created {manifest.get('created', '?')}, format {manifest.get('format_version', '?')}, "
             f"w2v {manifest.get('versions', {}).get('w2v', '?')}"]
    if v:
        lines.append(f"vocabulary: {v.get('size', 0):,} words x {manifest.get('vector_size', '?')} dims "
                     f"(min_count {v.get('effective_min_count', '?')}, {v.get('distinct_words', 0):,} distinct words)")
    if c:
        lines.append(f"corpus: {c.get('words', 0):,} words, {c.get('bytes', 0):,} bytes in {len(c.get('shards', []))} "
                     f"shard(s): " + ", ".join(printable(s.get("uri", "?")) for s in c.get("shards", [])[:3])
                     + (" ..." if len(c.get("shards", [])) > 3 else ""))
    if p:
        model = "skip-gram" if p.get("sg") else "CBOW"
        lines.append(f"model: {model}, window {p.get('window')}, negative {p.get('negative')}, "
                     f"{'hs, ' if p.get('hs') else ''}epochs {p.get('epochs')}, alpha {p.get('alpha')}, "
                     f"sample {p.get('sample')}, seed {p.get('seed')}")
    if t:
        lines.append(f"training: {t.get('words', 0):,} words in {t.get('seconds', 0):.1f} s "
                     f"({t.get('words_per_s', 0):,} words/s) on {len(t.get('actors', []))} actor(s)")
    if manifest.get("timings"):
        lines.append("timings: " + ", ".join(f"{k} {s:.1f} s" for k, s in manifest["timings"].items()))
    e = manifest.get("evaluation")
    if e and e.get("error"):
        lines.append(f"evaluation: FAILED: {e['error']}")
    elif e:
        lines.append("evaluation: " + (evaluation_line(e) or f"see {e.get('file', 'eval.json')}"))
    else:
        lines.append("evaluation: none")
    if manifest.get("versions"):
        lines.append("versions: " + ", ".join(f"{k} {val}" for k, val in manifest["versions"].items()))
    if with_files:
        files = manifest.get("files", {})
        lines.append(f"files ({len(files)}, {sum(f['bytes'] for f in files.values()):,} bytes): "
                     + ", ".join(sorted(files)))
    return lines
