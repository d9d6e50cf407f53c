"""The artifact's `README.md`: a model card as the Hugging Face Hub reads it, from the manifest.

The card opens with YAML front matter in the Hub's model card metadata (`library_name: gensim`,
`tags`, `license` from `--license`, `language` from `--language`, `datasets`: the corpus as
`corpus_names` gives it, `metrics`, and the evaluation as `model-index` results: task, dataset,
metrics with type, value and name), then says for people what was trained on
what, how to load it in gensim, numpy and Keras, and what to watch out for (most evaluation
words out of the vocabulary, a small corpus, skipped files, a failed evaluation).

The corpus is described by file names and remote URIs only: a local path names a machine and
a directory layout, which mean nothing to the card's reader (the manifest keeps the full URIs).
The front matter is written without a YAML library: strings as JSON strings (a JSON string is
a YAML double-quoted scalar), so any word or name is quoted safely.

This module renders text; `export` writes it with the other files, checksummed in the manifest.
"""

from __future__ import annotations

import json
import os
from typing import Any

from . import storage
from .display import printable
from .manifest import Manifest
from .report import percent

README_MD = "README.md"
BASE_TAGS = ("word2vec", "word-embeddings", "gensim", "w2v")
TASK = {"type": "feature-extraction", "name": "Word embeddings"}  # the Hub's task id for vectors; named per test
OOV_WARNING = 50.0  # % of an evaluation file's questions or pairs out of the vocabulary that earns a warning
SMALL_CORPUS = 1_000_000  # words: below it, the card warns that the vectors are rough
DATASETS_LISTED = 20  # corpus names in the metadata's `datasets` (a corpus of 10,000 files is not listed whole)


def _yaml(value: Any, indent: int = 0) -> list[str]:
    """Block YAML lines of dicts, lists and JSON scalars.

    >>> _yaml({"tags": ["a", "b"], "x": {"y": 1.5}})
    ['tags:', '- "a"', '- "b"', 'x:', '  y: 1.5']
    """
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines += _yaml(item, indent + (0 if isinstance(item, list) else 2))
            else:
                lines.append(f"{pad}{key}: {json.dumps(item, ensure_ascii=False)}")
    elif isinstance(value, list):
        for item in value:
            nested = isinstance(item, (dict, list))
            inner = _yaml(item, indent + 2) if nested else [f"{pad}  {json.dumps(item, ensure_ascii=False)}"]
            lines.append(f"{pad}- {inner[0].strip()}")
            lines += inner[1:]
    else:
        lines.append(pad + json.dumps(value, ensure_ascii=False))
    return lines


def corpus_names(manifest: Manifest, limit: int | None = 5) -> list[str]:
    """The corpus as a reader may see it: file names of local files, remote URIs without query strings.

    >>> from w2v.manifest import CorpusSection
    >>> corpus_names(Manifest(corpus=CorpusSection(shards=[{"uri": "/home/me/c/a.txt#bytes=0-9"},
    ...     {"uri": "/home/me/c/a.txt#bytes=9-20"}, {"uri": "s3://b/k.txt?X-Amz-Signature=s"}])))
    ['a.txt', 's3://b/k.txt']
    """
    names: list[str] = []
    for shard in (manifest.corpus.shards if manifest.corpus else []):
        uri = str(shard.get("uri", "")).split("#bytes=")[0]
        local = storage.local_path(uri) if uri else None
        name = os.path.basename(local.rstrip("/")) if local is not None else uri.split("?")[0].split("#")[0]
        if name and name not in names:
            names.append(name)
    if limit is None or len(names) <= limit:
        return names
    return names[:limit] + [f"... ({len(names) - limit} more)"]


def model_name(manifest: Manifest) -> str:
    """--name, else the artifact's directory name."""
    if manifest.run and manifest.run.name:
        return manifest.run.name
    out = str(manifest.parameters.get("out") or "word2vec").rstrip("/")
    return out.rsplit("/", 1)[-1] or "word2vec"


def results(manifest: Manifest) -> list[dict[str, Any]]:
    """The evaluation as model-index results: one per analogy file (accuracy per method), one per pair file."""
    e = manifest.evaluation
    if e is None or e.error:
        return []
    out = []
    for name, scores in e.analogies.items():
        metrics = [{"type": "accuracy", "value": round(v, 4), "name": f"{m} accuracy"}
                   for m, v in scores.items() if m != "oov_ratio" and v is not None]
        if metrics:
            out.append({"task": {**TASK, "name": "Word analogies"}, "dataset": _dataset(name), "metrics": metrics})
    for name, scores in e.pairs.items():
        if scores.get("spearman") is not None:
            out.append({"task": {**TASK, "name": "Word similarity"}, "dataset": _dataset(name),
                        "metrics": [{"type": "spearmanr", "value": scores["spearman"], "name": "Spearman rho"}]})
    return out


def _dataset(file: str) -> dict[str, str]:
    stem = os.path.splitext(os.path.basename(file))[0]
    return {"type": stem.lower(), "name": os.path.basename(file)}


def front_matter(manifest: Manifest) -> dict[str, Any]:
    """The Hub metadata of the card."""
    tags = list(BASE_TAGS) + [t for t in (manifest.run.tags if manifest.run else []) if t not in BASE_TAGS]
    data: dict[str, Any] = {"library_name": "gensim"}
    license_id = manifest.parameters.get("license")
    if license_id:
        data["license"] = license_id
    if manifest.parameters.get("language"):
        data["language"] = list(manifest.parameters["language"])
    datasets = corpus_names(manifest, limit=None)[:DATASETS_LISTED]
    if datasets:
        data["datasets"] = datasets
    data["tags"] = tags
    found = results(manifest)
    if found:
        data["metrics"] = sorted({m["type"] for r in found for m in r["metrics"]})
        data["model-index"] = [{"name": model_name(manifest), "results": found}]
    return data


def warnings(manifest: Manifest) -> list[str]:
    """What a user of the vectors should know before trusting them."""
    out = []
    e, c = manifest.evaluation, manifest.corpus
    if e is None:
        out.append("The vectors were not evaluated (`--no-eval`): run `w2v eval DIR` before relying on them.")
    elif e.error:
        out.append(f"The evaluation failed ({printable(e.error)}): the vectors were published unevaluated.")
    else:
        oov = {name: s.get("oov_ratio") for name, s in (*e.analogies.items(), *e.pairs.items())}
        high = {name: r for name, r in oov.items() if r is not None and r >= OOV_WARNING}
        if high:
            out.append("Most evaluation words were out of the vocabulary ("
                       + ", ".join(f"{name}: {r}% skipped" for name, r in high.items())
                       + "): those scores describe a small part of the test set.")
    if c is not None and c.words < SMALL_CORPUS:
        out.append(f"Trained on a small corpus ({c.words:,} words): the vectors are rough, and rare words' "
                   f"neighbours mostly noise.")
    if c is not None and c.skipped_shards:
        out.append(f"{len(c.skipped_shards)} corpus file(s) were skipped (empty or corrupt; listed in manifest.json).")
    if c is not None and c.bad_lines:
        out.append(f"{c.bad_lines:,} line(s) held bytes that were not UTF-8 (handled by `unicode_errors: "
                   f"{c.unicode_errors}`).")
    if manifest.gensim_fast_version is not None and manifest.gensim_fast_version < 0:
        out.append("gensim's compiled routines were not in use when this was trained.")
    return out


def render(manifest: Manifest) -> str:
    """The whole card: front matter, then the summary for people."""
    p, v, t, c, run = manifest.parameters, manifest.vocabulary, manifest.training, manifest.corpus, manifest.run
    name = printable(model_name(manifest))
    model = "skip-gram" if p.get("sg") else "CBOW"
    objective = "hierarchical softmax" if p.get("hs") else f"negative sampling ({p.get('negative')})"
    lines = ["---", *_yaml(front_matter(manifest)), "---", "", f"# {name}", ""]
    size = f"{v.size:,} words x {manifest.vector_size} dimensions" if v else f"{manifest.vector_size} dimensions"
    lines.append(f"word2vec vectors ({size}): {model}, window {p.get('window')}, {objective}, {p.get('epochs')} "
                 f"epoch(s), min_count {v.effective_min_count if v else p.get('min_count')}, seed {p.get('seed')}; "
                 f"trained with w2v {manifest.versions.get('w2v', '?')} and gensim "
                 f"{manifest.versions.get('gensim', '?')}"
                 + (f" on {len(t.actors)} Ray actor(s) in {t.seconds:.0f} s" if t else "") + ".")
    lines.append("")
    if c is not None:
        reading = ("lowercased, " if p.get("lowercase") else "") + (
            "gensim's simple_preprocess words" + (", accents stripped" if p.get("deaccent") else "")
            if p.get("tokenizer") == "simple" else "split on whitespace")
        lines += [f"**Corpus**: {c.words:,} words ({c.sentences:,} lines, {c.bytes:,} bytes; {reading}) in "
                  f"{len(c.shards)} shard(s): " + ", ".join(f"`{printable(n)}`" for n in corpus_names(manifest)) + ".",
                  ""]
    if run is not None and (run.name or run.tags or run.git_commit or run.ray_job_id):
        facts = [f"created {manifest.created}"]
        facts += [f"tags {', '.join(run.tags)}"] if run.tags else []
        facts += [f"git commit `{run.git_commit[:12]}`" + (" (with uncommitted changes)" if run.git_dirty else "")
                  ] if run.git_commit else []
        job = run.ray_submission_id or run.ray_job_id
        facts += [f"Ray job {job}"] if job else []
        lines += ["**Run**: " + "; ".join(printable(f) for f in facts) + ".", ""]
    lines += _evaluation(manifest)
    cautions = warnings(manifest)
    if cautions:
        lines += ["## Warnings", ""] + [f"- {w}" for w in cautions] + [""]
    lines += _loading()
    return "\n".join(lines) + "\n"


def _evaluation(manifest: Manifest) -> list[str]:
    e = manifest.evaluation
    if e is None or e.error:
        return []
    lines = ["## Evaluation", "", "| test | score | out of vocabulary |", "|---|---|---|"]
    for name, scores in e.analogies.items():
        shown = ", ".join(f"{m} {percent(v)}" for m, v in scores.items() if m != "oov_ratio")
        lines.append(f"| analogies `{printable(name)}` | {shown} | {scores.get('oov_ratio')}% |")
    for name, scores in e.pairs.items():
        rho = scores.get("spearman")
        lines.append(f"| word pairs `{printable(name)}` | Spearman {'n/a' if rho is None else rho} | "
                     f"{scores.get('oov_ratio')}% |")
    return lines + ["", "Details: `eval.json` and `report.md`.", ""]


def _loading() -> list[str]:
    return ["## Loading", "",
            "Every file is listed with its sha256 in `manifest.json` (`w2v verify DIR` checks them). "
            "No pickle is needed:",
            "", "```python", "# gensim, with w2v (checksums verified)", "import w2v",
            'kv = w2v.load("DIR")', 'kv.most_similar("city", topn=5)', "",
            "# gensim alone", "from gensim.models import KeyedVectors",
            'kv = KeyedVectors.load_word2vec_format("DIR/vectors.bin", binary=True)', "",
            "# numpy: row i of the matrix is word i of vocab.tsv (word<TAB>count)", "import numpy as np",
            'vectors = np.load("DIR/vectors.npy", allow_pickle=False)',
            'words = [line.split("\\t")[0] for line in open("DIR/vocab.tsv", encoding="utf-8")]', "",
            "# Keras: a frozen Embedding, row 0 = padding, word i = row i + 1",
            "layer = w2v.keras_embedding(kv)", 'ids = w2v.to_indices("the city".split(), kv, length=8)',
            "```", ""]


def card_bytes(manifest: dict[str, Any]) -> bytes:
    """README.md of a manifest as written (a dict), for export."""
    return render(Manifest.from_json(manifest)).encode("utf-8")


def parse_front_matter(text: str) -> dict[str, Any]:
    """The YAML front matter of a card (needs PyYAML): what the Hub reads."""
    import yaml

    if not text.startswith("---\n"):
        return {}
    return yaml.safe_load(text[4 : text.index("\n---\n", 4)]) or {}

