"""The trainer actor (`w2v/trainer.py`): what runs on each node, tested in this process, without Ray."""

import pytest

import w2v
from w2v import TrainConfig
from w2v.corpus import ReadOptions
from w2v.trainer import epoch_schedule, gensim_fast_version, parse_fault_hook


def test_gensims_compiled_routines_are_in_use():
    """The chunk trainer calls gensim's compiled corpus_file routines: without them training is ~100x slower."""
    assert gensim_fast_version() >= 0


def test_read_options_carry_the_configs_reading_rules():
    config = TrainConfig(corpus=("c",), out="o", lowercase=True, tokenizer="simple", deaccent=True,
                         unicode_errors="replace", on_bad_shard="skip",
                         s3_endpoint_url="http://127.0.0.1:9000")
    options = ReadOptions.of(config)
    assert (options.lowercase, options.tokenizer, options.deaccent) == (True, "simple", True)
    assert (options.unicode_errors, options.on_bad_shard) == ("replace", "skip")
    assert options.s3 == config.s3_settings() and options.s3.endpoint_url == "http://127.0.0.1:9000"


def test_restart_schedule_continues_the_global_linear_decay():
    """Restarting at epoch e continues alpha where e/E of the job would have it: monotone, never back to alpha."""
    alpha, min_alpha, epochs = 0.025, 0.0001, 10
    starts = [epoch_schedule(alpha, min_alpha, epochs, e)[1] for e in range(epochs + 1)]
    assert starts[0] == alpha and abs(starts[-1] - min_alpha) < 1e-12
    assert all(a > b for a, b in zip(starts, starts[1:]))
    assert [epoch_schedule(alpha, min_alpha, epochs, e)[0] for e in (0, 4, 10, 12)] == [10, 6, 0, 0]


def test_fault_hook_is_validated():
    assert parse_fault_hook("0:3") == {0: (3, "epoch")}
    with pytest.raises(w2v.ConfigError, match="W2V_TEST_ACTOR_EXIT='x': expected ACTOR:EPOCH"):
        parse_fault_hook("x")


def test_a_trainer_counts_its_training_and_its_other_work_in_cpu_seconds(planted_corpus, tmp_path):
    """CPU time, not wall time (README "Scaling model"): what a real node's cores would spend, even when simulated
    nodes share this machine's cores. The gensim threads' time is training; the rest of the process is the
    exchange's; outside a raylet there is no raylet time to read."""
    from w2v.corpus import list_shards
    from w2v.trainer import TrainerActor
    from w2v.vocab import Vocabulary, count_shard, merge_counts

    root, _ = planted_corpus
    config = TrainConfig(corpus=(str(root),), out=str(tmp_path / "art"), vector_size=32, epochs=3, eval=False,
                         spool_dir=str(tmp_path / "spool"))
    shards = list_shards(config.corpus)
    counted = [count_shard(s, ReadOptions.of(config)) for s in shards]
    vocab = Vocabulary.from_counts(merge_counts(c.counts for c in counted), config.min_count)
    actor = TrainerActor(config, workers=2)
    actor.spool(vocab, shards, 4, sum(c.words for c in counted))
    actor.start(None, exchange=False)
    actor.thread.join()
    status = actor.status()
    actor.close()
    assert status.done and status.error is None and status.words_trained > 0
    assert status.train_cpu_seconds > 0 and status.raylet_cpu_seconds is None  # no raylet outside Ray
    assert status.exchange_cpu_seconds >= 0  # the rest of the process: its CPU less the threads', never negative
    assert status.exchanges == 0 and status.exchanged_bytes == 0  # alone: nothing exchanged
