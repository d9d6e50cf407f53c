"""The tools users would otherwise pick, trained on the benchmark's corpus with the same parameters.

Each peer runs in a fresh process (`run_peer`), so its peak RSS (its own and its children's: the C
tool, Spark's JVM) is its own, and saves its vectors as gensim KeyedVectors for the common
evaluation. A peer whose package is missing raises `PeerMissing` with the install hint; the
benchmark reports it as missing instead of dropping it. Install them all with
`pip install -e '.[bench]'` (Spark also needs Java 17 on the PATH).

Same parameters means: vector size, window, negative samples, sample, min count, epochs, threads
and starting learning rate. Where a peer cannot follow them, its row says so:
- word2vec C tool (PyPI `word2vec` builds it): CBOW + negative sampling, like gensim.
- fastText with `maxn=0` (no character n-grams): plain CBOW word2vec.
- Spark MLlib `Word2Vec`: skip-gram with hierarchical softmax is the only algorithm it has; it
  trains `numPartitions` = threads copies and averages them once per iteration.
"""

from __future__ import annotations

import multiprocessing
import resource
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

PEERS = ("word2vec-c", "fasttext", "spark")


class PeerMissing(RuntimeError):
    """A peer's package or program is not installed."""


def _peak_rss() -> int:
    """Bytes: the largest of this process and its waited-for children (the C tool, the JVM)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) * 1024


def _child(fn: Callable, kwargs: dict, queue) -> None:
    try:
        result = fn(**kwargs)
        queue.put({**result, "peak_rss": _peak_rss()})
    except BaseException as exc:  # reported in the parent, with its type
        queue.put({"error": f"{type(exc).__name__}: {exc}", "missing": isinstance(exc, PeerMissing)})


def run_peer(fn: Callable, **kwargs) -> dict:
    """Run `fn(**kwargs)` in a fresh spawned process; returns its dict plus `peak_rss`.

    Raises PeerMissing or RuntimeError with the child's message when it failed.
    """
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_child, args=(fn, kwargs, queue))
    child.start()
    result = queue.get()
    child.join()
    if "error" in result:
        raise (PeerMissing if result["missing"] else RuntimeError)(result["error"])
    return result


def _save(words, vectors, out: str) -> None:
    import numpy as np
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
    kv.add_vectors(list(words), np.asarray(vectors, dtype=np.float32))
    kv.save(out)


def word2vec_c(corpus: str, params: dict, threads: int, out: str, seed: int) -> dict:
    """The original C tool, built by the PyPI `word2vec` package (its binary is on the venv's PATH)."""
    import sys

    binary = shutil.which("word2vec") or str(Path(sys.executable).parent / "word2vec")
    if not Path(binary).exists():
        raise PeerMissing("the word2vec C tool is not installed: pip install -e '.[bench]' (package 'word2vec')")
    vectors_bin = out + ".bin"
    command = [binary, "-train", corpus, "-output", vectors_bin, "-size", str(params["vector_size"]),
               "-window", str(params["window"]), "-sample", str(params["sample"]), "-hs", "0",
               "-negative", str(params["negative"]), "-threads", str(threads), "-iter", str(params["epochs"]),
               "-min-count", str(params["min_count"]), "-alpha", str(params["alpha"]), "-cbow", "1",
               "-binary", "1"]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    from gensim.models import KeyedVectors

    kv = KeyedVectors.load_word2vec_format(vectors_bin, binary=True)
    _save(kv.index_to_key, kv.vectors, out)
    return {"wall": wall, "train": wall, "note": "CBOW, negative sampling"}


def fasttext_peer(corpus: str, params: dict, threads: int, out: str, seed: int) -> dict:
    """fastText without character n-grams (maxn=0): plain CBOW word2vec."""
    try:
        import fasttext
    except ImportError:
        raise PeerMissing("fastText is not installed: pip install -e '.[bench]' (package 'fasttext-numpy2-wheel')") from None
    import numpy as np

    started = time.perf_counter()
    model = fasttext.train_unsupervised(corpus, model="cbow", dim=params["vector_size"], ws=params["window"],
                                        epoch=params["epochs"], minCount=params["min_count"],
                                        neg=params["negative"], t=params["sample"], lr=params["alpha"],
                                        thread=threads, minn=0, maxn=0, verbose=0)
    wall = time.perf_counter() - started
    words = model.words
    _save(words, np.stack([model.get_word_vector(w) for w in words]), out)
    return {"wall": wall, "train": wall, "note": "CBOW, negative sampling, maxn=0"}


def spark_peer(corpus: str, params: dict, threads: int, out: str, seed: int) -> dict:
    """Spark MLlib Word2Vec in local mode, one partition per thread."""
    try:
        from pyspark.ml.feature import Word2Vec
        from pyspark.sql import SparkSession
        from pyspark.sql import functions as F
    except ImportError:
        raise PeerMissing("pyspark is not installed: pip install -e '.[bench]' (package 'pyspark'; needs Java 17)") from None
    if not shutil.which("java"):
        raise PeerMissing("Spark needs Java 17 on the PATH (apt-get install openjdk-17-jre-headless)")
    import numpy as np

    spark = (SparkSession.builder.master(f"local[{threads}]").appName("w2v-bench")
             .config("spark.driver.memory", "4g").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        started = time.perf_counter()
        lines = spark.read.text(corpus).select(F.split(F.trim(F.col("value")), r"\s+").alias("tokens"))
        model = Word2Vec(vectorSize=params["vector_size"], windowSize=params["window"],
                         minCount=params["min_count"], maxIter=params["epochs"], numPartitions=threads,
                         stepSize=params["alpha"], seed=seed, inputCol="tokens").fit(lines)
        wall = time.perf_counter() - started
        rows = model.getVectors().collect()
    finally:
        spark.stop()
    _save([r["word"] for r in rows], np.stack([r["vector"].toArray() for r in rows]), out)
    return {"wall": wall, "train": wall, "note": f"skip-gram + hierarchical softmax (Spark's only mode), "
                                                 f"{threads} partitions averaged per iteration"}


RUNNERS = {"word2vec-c": word2vec_c, "fasttext": fasttext_peer, "spark": spark_peer}
