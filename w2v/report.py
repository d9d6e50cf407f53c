"""What a person reads about an artifact: `report.md`, its two pictures, and `w2v info`'s summary.

- `words_pca.png`: the 300 most frequent words on the first two principal components (numpy SVD
  of the centred unit vectors: no scikit-learn), each axis with its share of the variance; only
  labels that fit without overlapping are drawn (the most frequent words first), and the
  evaluated words (whose neighbours the report lists) are highlighted and always labelled;
- `training_curves.png`: words/s, gensim's (rough) training loss and the learning rate per epoch,
  from the manifest (the rate from `alpha`, `min_alpha` and `epochs`: one linear schedule), and
  the share of actor time spent syncing, per epoch (an older manifest's: the run's, as one level);
- `report.md`: the artifact in a few lines, the evaluation's tables, and the pictures.

Drawing uses matplotlib's Agg backend (no display needed) and runs on the driver; nothing here
imports TensorFlow.
"""

from __future__ import annotations

import io
from typing import Any, Iterable, Sequence

import numpy as np

from .display import printable
from .extras import require
from .manifest import Manifest, TrainingSection, epoch_losses

REPORT_MD = "report.md"
PCA_PNG = "words_pca.png"
CURVES_PNG = "training_curves.png"
PCA_WORDS = 300


def principal_components(vectors: np.ndarray, k: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """(n x k coordinates of the unit rows on their first k principal components, each one's share of the variance).

    >>> xy, share = principal_components(np.array([[1, 0], [-1, 0.1], [1, 0.1]], dtype=np.float32))
    >>> xy.shape, bool(share[0] > 0.9), round(float(share.sum()), 6)
    ((3, 2), True, 1.0)
    """
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    centred = unit - unit.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    variance = singular**2
    return centred @ components[:k].T, variance[:k] / max(float(variance.sum()), 1e-30)


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """n x 2 coordinates of the unit rows on their first two principal components.

    >>> pca_2d(np.eye(3, dtype=np.float32)).shape
    (3, 2)
    """
    return principal_components(vectors)[0]


def _pyplot():
    matplotlib = require("matplotlib", "the report's pictures")
    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buffer.getvalue()


# Where a label may sit beside its point (offset in points, horizontal alignment), tried in order.
LABEL_SPOTS = (((3, 2), "left"), ((3, -9), "left"), ((-3, 2), "right"), ((-3, -9), "right"))


def _label_without_overlap(ax, xy: np.ndarray, words: Sequence[str], order: Sequence[int],
                           style: dict[int, dict[str, Any]]) -> int:
    """Label the points in `order` (most wanted first) where a label fits beside its point.

    Each label tries the spots of LABEL_SPOTS and takes the first whose box overlaps no label drawn
    so far; a point with no free spot is left unlabelled, except those in `style` (the highlighted
    words, drawn first), which keep their first spot. Boxes are measured by the renderer (the real
    font and size), so nothing overlaps on the saved picture. Returns the number of labels drawn.
    """
    renderer = ax.figure.canvas.get_renderer()
    placed: list[Any] = []  # display-space boxes of the labels drawn so far
    for i in order:
        for n, (offset, align) in enumerate(LABEL_SPOTS):
            text = ax.annotate(printable(words[i]), tuple(xy[i]), xytext=offset, textcoords="offset points",
                               ha=align, **style.get(i, {"fontsize": 7, "color": "0.2"}))
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in placed):
                break
            text.remove()
            if n == len(LABEL_SPOTS) - 1 and i in style:  # always labelled: back to the first spot
                text = ax.annotate(printable(words[i]), tuple(xy[i]), xytext=LABEL_SPOTS[0][0],
                                   textcoords="offset points", **style[i])
                box = text.get_window_extent(renderer)
                break
        else:
            continue
        placed.append(box)
    return len(placed)


def pca_picture(vectors: np.ndarray, words: Sequence[str], top: int = PCA_WORDS,
                highlight: Sequence[str] = ()) -> bytes:
    """PNG of `pca_figure`."""
    return _png(pca_figure(vectors, words, top, highlight))


def pca_figure(vectors: np.ndarray, words: Sequence[str], top: int = PCA_WORDS, highlight: Sequence[str] = ()):
    """The `top` most frequent words on a 2-D PCA map; `highlight` (the evaluated words) in colour."""
    plt = _pyplot()
    top = min(top, len(words))
    if top >= 2:
        xy, share = principal_components(vectors[:top])
    else:
        xy, share = np.zeros((top, 2)), np.zeros(2)
    marked = [i for i, w in enumerate(words[:top]) if w in set(highlight)]
    fig, ax = plt.subplots(figsize=(13, 10))
    ax.scatter(xy[:, 0], xy[:, 1], s=8, color="tab:blue", alpha=0.45, label=f"the {top} most frequent words")
    if marked:
        ax.scatter(xy[marked, 0], xy[marked, 1], s=40, color="tab:red", zorder=3,
                   label=f"the {len(marked)} evaluated words (neighbours in the report)")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.07), ncol=2, fontsize=9, frameon=False)
    fig.canvas.draw()  # fixes the axes' limits and layout, so label boxes are measured where they end up
    emphasis = {i: {"fontsize": 10, "fontweight": "bold", "color": "tab:red", "zorder": 4} for i in marked}
    labelled = _label_without_overlap(ax, xy, words, marked + [i for i in range(top) if i not in emphasis],
                                      emphasis)
    ax.set_title(f"The {top} most frequent words on the first two principal components of the unit vectors\n"
                 f"({labelled} labelled, most frequent first: a label that would overlap another is left out)")
    ax.set_xlabel(f"PC 1 ({100 * share[0]:.1f}% of the variance)")
    ax.set_ylabel(f"PC 2 ({100 * share[1]:.1f}% of the variance)")
    return fig


def learning_rates(alpha: float, min_alpha: float, epochs: int) -> list[float]:
    """The learning rate at the start of each epoch and at the end of the last: linear over all words.

    >>> learning_rates(0.025, 0.005, 2)
    [0.025, 0.015, 0.005]
    """
    return [round(alpha - (alpha - min_alpha) * e / epochs, 12) for e in range(epochs + 1)]


def _thousands(value: float, _position: Any = None) -> str:
    """A tick label with thousands separators and no offset or scientific notation.

    >>> _thousands(1234567.0)
    '1,234,567'
    """
    return f"{value:,.0f}"


def curves_picture(epochs: Sequence[dict[str, Any]], parameters: dict[str, Any] | None = None,
                   sync_share: float | None = None) -> bytes:
    """PNG of `curves_figure`."""
    return _png(curves_figure(epochs, parameters, sync_share))


def curves_figure(epochs: Sequence[dict[str, Any]], parameters: dict[str, Any] | None = None,
                  sync_share: float | None = None):
    """Words/s, training loss and learning rate per epoch (the manifest's `training.epochs`).

    The learning rate is drawn from `parameters` (alpha, min_alpha, epochs) when given. The sync
    share (the actors' time spent exchanging) is drawn per epoch where the entries have
    `sync_share` (manifests since per-epoch shares were recorded), with the run's `sync_share` as a
    dashed level beside it; an older manifest's epochs have none, and the run's is drawn alone.
    """
    plt = _pyplot()  # first: it names the extra when matplotlib is missing
    from matplotlib.ticker import FuncFormatter, PercentFormatter

    parameters = parameters or {}
    x = [e["epoch"] for e in epochs]
    has_rate = all(k in parameters for k in ("alpha", "min_alpha", "epochs"))
    fig, axes = plt.subplots(1, 3 if has_rate else 2, figsize=(16 if has_rate else 11, 4.4))
    speed, loss = axes[0], axes[1]
    speed.plot(x, [e["words_per_s"] for e in epochs], marker="o", label="words / s")
    speed.set(title="training speed (all actors)", xlabel="epoch", ylabel="words / s")
    speed.set_ylim(bottom=0)
    speed.yaxis.set_major_formatter(FuncFormatter(_thousands))
    shares = [e.get("sync_share") for e in epochs]  # None: an epoch without its own (an older manifest)
    known = [v for v in shares if v is not None]
    if known or sync_share is not None:
        share = speed.twinx()
        if known:  # a gap where an epoch has none
            share.plot(x, [float("nan") if v is None else v for v in shares], marker="s", color="tab:purple",
                       label="sync share of actor time, per epoch")
        if sync_share is not None:
            share.axhline(sync_share, color="tab:purple", linestyle="--", alpha=0.6 if known else 1.0,
                          label=f"sync share of actor time (whole run): {percent(sync_share)}")
        share.set_ylim(0, max(0.1, 1.3 * max(known + [sync_share or 0.0])))
        share.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        share.set_ylabel("sync share of actor time", color="tab:purple")
        lines = speed.get_legend_handles_labels()[0] + share.get_legend_handles_labels()[0]
        speed.legend(lines, [line.get_label() for line in lines], loc="lower right", fontsize=8)
    loss.plot(x, [float("nan") if v is None else v for v in epoch_losses(list(epochs))], marker="o",
              color="tab:red")
    loss.set(title="training loss per epoch (gensim's, all actors)", ylabel="loss",
             xlabel="epoch\nrough: gensim adds it up without locks across threads; read the trend, not the values")
    loss.yaxis.set_major_formatter(FuncFormatter(_thousands))
    if has_rate:
        rate = axes[2]
        n = int(parameters["epochs"])
        rate.plot(range(n + 1), learning_rates(float(parameters["alpha"]), float(parameters["min_alpha"]), n),
                  color="tab:green")
        rate.set(title=f"learning rate: linear from alpha {parameters['alpha']:g} to min_alpha "
                       f"{parameters['min_alpha']:g}\nover all words of all epochs", xlabel="epochs done",
                 ylabel="learning rate")
        rate.set_ylim(bottom=0)
        rate.set_xticks(range(n + 1))
    for ax in axes[:2]:
        ax.grid(alpha=0.3)
        ax.set_xticks(x)
    if has_rate:
        axes[2].grid(alpha=0.3)
    fig.tight_layout()
    return fig


def percent(fraction: float | None) -> str:
    """A fraction as a percentage with one decimal, or n/a.

    >>> percent(0.3333), percent(None)
    ('33.3%', 'n/a')
    """
    return "n/a" if fraction is None else f"{100 * fraction:.1f}%"


def neighbors_text(found: Iterable[tuple[str, float]]) -> str:
    r"""Words with their scores, control characters escaped: `n1 (0.81), n2 (0.77)`.

    >>> neighbors_text([("b", 0.8123), ("esc\x1b", 0.5)])
    'b (0.81), esc\\x1b (0.50)'
    """
    return ", ".join(f"{printable(word)} ({score:.2f})" for word, score in found)


def format_neighbors(neighbors: dict[str, list[dict[str, Any]]]) -> list[str]:
    """One printable line per word of eval.json's `neighbors`: `word: n1 (0.81), n2 (0.77), ...`."""
    return [f"{printable(word)}: " + neighbors_text((n["word"], n["cosine"]) for n in found)
            for word, found in neighbors.items()]


def evaluation_lines(evaluation: dict[str, Any]) -> list[str]:
    """`w2v eval`'s summary of an evaluation: where it ran, then one line per analogy file and per pair file."""
    rt = evaluation["runtime"]
    task = rt.get("resources") is not None  # None: in the calling process
    held = "; " + resources_text(rt["resources"]) if rt.get("resources") else ""
    lines = [f"evaluated in {'a Ray task' if task else 'this process'} on {rt['host']} "
             f"({', '.join(rt['devices'])}{held}) in {rt['seconds']:.1f} s"]
    for a in evaluation.get("analogies", []):
        lines.append(f"analogies {a['file']}: " + ", ".join(f"{m} {percent(a['total'][m]['accuracy'])}"
                                                          for m in a["methods"])
                     + f" on {a['total']['evaluated']:,} of {a['total']['questions']:,} questions "
                       f"({a['oov_ratio']}% OOV), {a['seconds']:.2f} s")
    for p in evaluation.get("pairs", []):
        lines.append(f"pairs {p['file']}: Spearman {p['spearman']}, Pearson {p['pearson']}, "
                     f"{p['evaluated']:,} of {p['pairs']:,} pairs ({p['oov_ratio']}% OOV)")
    return lines


def resources_text(resources: dict[str, float]) -> str:
    """Ray resources as `1 CPU, 1 GPU`.

    >>> resources_text({"CPU": 0.5, "GPU": 1.0})
    '0.5 CPU, 1 GPU'
    """
    return ", ".join(f"{amount:g} {name}" for name, amount in sorted(resources.items()))


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
                         + " | ".join(percent(row[m]["accuracy"]) for m in methods) + " |")
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
        lines += [f"- **{printable(word)}**: " + neighbors_text((n["word"], n["cosine"]) for n in found)
                  for word, found in evaluation["neighbors"].items()]
        lines.append("")
    lines += ["## Pictures", "", f"![The most frequent words, PCA]({PCA_PNG})", "",
              f"![Training curves]({CURVES_PNG})", ""]
    return "\n".join(lines)


def render(manifest: dict[str, Any], evaluation: dict[str, Any], words: Sequence[str],
           vectors: np.ndarray) -> dict[str, bytes]:
    """name -> bytes of report.md and its pictures (no training curves without per-epoch numbers)."""
    files = {REPORT_MD: markdown(manifest, evaluation).encode("utf-8"),
             PCA_PNG: pca_picture(vectors, words, highlight=list(evaluation.get("neighbors") or ()))}
    training = Manifest.from_json(manifest).training
    epochs = training.epochs if training else []
    if epochs:
        files[CURVES_PNG] = curves_picture(epochs, manifest.get("parameters"), training.shown_sync_share)
    else:
        files[REPORT_MD] = files[REPORT_MD].replace(f"![Training curves]({CURVES_PNG})".encode(),
                                                    b"(no per-epoch training numbers in the manifest)")
    return files


def evaluation_line(summary: dict[str, Any]) -> str:
    """The manifest's evaluation summary in one line: analogy accuracies, Spearman of each pair file."""
    parts = [f"{name} " + ", ".join(f"{m} {percent(acc)}" for m, acc in scores.items() if m != "oov_ratio")
             + f" ({scores['oov_ratio']}% OOV)" for name, scores in summary.get("analogies", {}).items()]
    parts += [f"{name} Spearman {s['spearman']} ({s['oov_ratio']}% OOV)" for name, s in summary.get("pairs", {}).items()]
    return "; ".join(parts)


def describe(manifest: dict[str, Any], with_files: bool = True) -> list[str]:
    """`w2v info`: the manifest as a few readable lines (those of `summary_lines`)."""
    lines = summary_lines(manifest)
    if not with_files:
        lines.pop("files")
    return list(lines.values())


def summary_lines(manifest: dict[str, Any]) -> dict[str, str]:
    """topic -> one readable line of the manifest (created, vocabulary, corpus, model, training, timings,
    evaluation, versions, files); topics the manifest lacks are left out, except evaluation ("none")."""
    p, v, c = manifest.get("parameters", {}), manifest.get("vocabulary", {}), manifest.get("corpus", {})
    typed = Manifest.from_json(manifest)
    lines = {"created": f"created {manifest.get('created', '?')}, format {manifest.get('format_version', '?')}, "
                        f"w2v {manifest.get('versions', {}).get('w2v', '?')}"}
    run = typed.run
    if run is not None and (run.name or run.tags or run.git_commit or run.ray_job_id or run.ray_submission_id):
        facts = [printable(run.name)] if run.name else []
        facts += [f"tags {', '.join(run.tags)}"] if run.tags else []
        facts += [f"git {run.git_commit[:12]}" + ("+changes" if run.git_dirty else "")] if run.git_commit else []
        facts += [f"Ray job {run.ray_job_id}"] if run.ray_job_id else []
        facts += [f"submission {run.ray_submission_id}"] if run.ray_submission_id else []
        lines["run"] = "run: " + ", ".join(facts)
    if v:
        lines["vocabulary"] = (f"vocabulary: {v.get('size', 0):,} words x {manifest.get('vector_size', '?')} dims "
                               f"(min_count {v.get('effective_min_count', '?')}, {v.get('distinct_words', 0):,} "
                               f"distinct words)")
    if c:
        lines["corpus"] = (f"corpus: {c.get('words', 0):,} words, {c.get('bytes', 0):,} bytes in "
                           f"{len(c.get('shards', []))} shard(s): "
                           + ", ".join(printable(s.get("uri", "?")) for s in c.get("shards", [])[:3])
                           + (" ..." if len(c.get("shards", [])) > 3 else ""))
    if p:
        model = "skip-gram" if p.get("sg") else "CBOW"
        lines["model"] = (f"model: {model}, window {p.get('window')}, negative {p.get('negative')}, "
                          f"{'hs, ' if p.get('hs') else ''}epochs {p.get('epochs')}, alpha {p.get('alpha')}, "
                          f"sample {p.get('sample')}, seed {p.get('seed')}")
    if manifest.get("training"):
        lines["training"] = training_line(typed.training)
    if manifest.get("parent"):  # --init-from: lineage
        parent = manifest["parent"]
        lines["parent"] = (f"continued from {printable(parent.get('uri', '?'))} (manifest sha256 "
                           f"{parent.get('manifest_sha256', '?')}): {parent.get('inherited_words', 0):,} words on "
                           f"their rows, {parent.get('new_words', 0):,} new")
    if manifest.get("timings"):
        lines["timings"] = "timings: " + ", ".join(f"{k} {s:.1f} s" for k, s in manifest["timings"].items())
    e = manifest.get("evaluation")
    if e and e.get("error"):
        lines["evaluation"] = f"evaluation: FAILED: {e['error']}"
    elif e:
        lines["evaluation"] = "evaluation: " + (evaluation_line(e) or f"see {e.get('file', 'eval.json')}")
    else:
        lines["evaluation"] = "evaluation: none"
    if manifest.get("versions"):
        lines["versions"] = "versions: " + ", ".join(f"{k} {val}" for k, val in manifest["versions"].items())
    files = manifest.get("files", {})
    lines["files"] = (f"files ({len(files)}, {sum(f['bytes'] for f in files.values()):,} bytes): "
                      + ", ".join(sorted(files)))
    return lines


def training_line(t: TrainingSection) -> str:
    """The manifest's `training` section in one line: words, time, rate, actors, and the exchanges when it has them.

    >>> training_line(TrainingSection.from_json({"words": 2000, "seconds": 2.0, "words_per_s": 1000, "actors": [{}]}))
    'training: 2,000 words in 2.0 s (1,000 words/s) on 1 actor(s)'
    """
    line = (f"training: {t.words:,} words in {t.seconds:.1f} s "
            f"({t.words_per_s:,} words/s) on {len(t.actors):,} actor(s)")
    if t.recorded("exchanges"):
        line += (f", {t.exchanges:,} exchange(s)"
                 + (f" ({t.words_per_exchange:,} words per actor between two, {t.stale_words:,} stale: "
                    f"{100 * t.stale_share:.2f}% of an epoch; {t.sync_combine} combining)"
                    if t.words_per_exchange else "")
                 + f", sync {100 * t.sync_share:.0f}% of actor time")
    return line
