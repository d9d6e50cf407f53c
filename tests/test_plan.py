"""The plan: memory estimates from the real gensim matrices, a real calibration, readable lines."""

import numpy as np
import pytest
from gensim.models import Word2Vec

from w2v import TrainConfig
from w2v.corpus import ReadOptions, Shard
from w2v.plan import ActorPlan, Plan, calibrate, estimate_memory, estimate_train_seconds, matrix_bytes

from .corpora import write_planted_corpus


@pytest.mark.parametrize("hs, negative", [(False, 5), (True, 0), (True, 3)])
def test_matrix_bytes_are_gensims(hs, negative):
    model = Word2Vec(vector_size=24, min_count=1, hs=int(hs), negative=negative, workers=1)
    model.build_vocab_from_freq({f"w{i}": 100 - i for i in range(50)})
    arrays = [model.wv.vectors] + [getattr(model, n) for n in ("syn1neg", "syn1") if hasattr(model, n)]
    assert matrix_bytes(50, 24, hs, negative) == sum(a.nbytes for a in arrays)


def test_exchange_doubles_the_actor_matrices():
    config = TrainConfig(corpus=("c",), out="o", vector_size=50)
    alone, driver_alone = estimate_memory(config, 10_000, 40_000, actors=1)
    shared, driver_shared = estimate_memory(config, 10_000, 40_000, actors=4)
    matrices = matrix_bytes(10_000, 50, False, 5)
    assert shared - alone == matrices and driver_shared - driver_alone == matrices


def test_time_estimate_scales_with_threads_and_epochs():  # arithmetic on given rates: nothing is timed
    assert estimate_train_seconds(10**6, 10, 10**5, 10) == estimate_train_seconds(10**6, 5, 10**5, 5) == 10.0
    assert estimate_train_seconds(10**6, 10, 0.0, 10) == 0.0


def test_calibration_trains_gensim_on_a_sample(tmp_path):
    write_planted_corpus(tmp_path, files=2, sentences_per_file=1000, compress=("", ".gz"))
    shards = [Shard(str(p), p.stat().st_size, 0) for p in sorted(tmp_path.iterdir())]
    config = TrainConfig(corpus=("c",), out="o", vector_size=16)
    rate = calibrate(config, shards, ReadOptions(), words=20_000)
    assert rate > 0  # words/s measured; how fast is a timing, which tests do not assert
    assert calibrate(config, shards[:1], ReadOptions(max_sentence_words=5), words=10) == 0.0  # too few to time
    gone = [Shard(str(tmp_path / "deleted.txt"), 10, 0)]  # only on other nodes: no estimate, no failure
    assert calibrate(config, gone, ReadOptions()) == 0.0


def test_plan_lines_name_every_number():
    plan = Plan(shards=3, bytes=3 * 2**20, actors=(ActorPlan("a" * 32, 4, 2, 2 * 2**20), ActorPlan("b" * 32, 4, 1, 2**20)),
                corpus_words=1_234_567, distinct_words=90_000, vocab_size=20_000, effective_min_count=5,
                vector_size=100, epochs=5, actor_memory=40 * 2**20, driver_memory=30 * 2**20,
                words_per_s_per_thread=400_000.0, train_seconds=3.9)
    text = "\n".join(plan.lines())
    for expected in ("3 shard(s), 3.0 MiB on 2 actor(s), 8 gensim thread(s)", "actor 0 on node aaaaaaaa: 2 shard(s), 2.0 MiB",
                     "20,000 words x 100 dims", "1,234,567 words per epoch", "40.0 MiB per actor, 30.0 MiB on the driver (each includes 155.0 MiB",
                     "4 s of training for 5 epoch(s)", "400,000 words/s per thread"):
        assert expected in text, expected
    assert np.isclose(plan.to_json()["train_seconds"], 3.9)
