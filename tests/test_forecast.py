"""The forecast (`w2v/forecast.py`): the law's shape, `--actors auto`'s choice, and the warning's advice.

The law's coefficients are measured (`jobs.law`); these tests hold what any fit must keep: more actors
or more staleness never forecast better, more words per vocabulary row never worse, one actor is one
process, and the advice names only what reaches the target by the same law.
"""

import argparse
import dataclasses
import json

import pytest

from w2v import forecast, sync
from w2v.config import TrainConfig
from w2v.errors import ConfigError
from w2v.forecast import LAW, TARGET_RATIO, Law, choose_actors, extrapolated, predicted_ratio, shortfall
from w2v.plan import ActorPlan, Plan

ROWS = 30_000


def test_one_actor_is_one_process():
    assert predicted_ratio(1, 0.0, 10.0) == 1.0
    assert forecast.forecast(5_000_000, ROWS, 1).ratio == 1.0


def test_more_actors_or_staleness_never_forecast_better_and_more_words_per_row_never_worse():
    for words_per_row in (50, 200, 1_000, 20_000):
        ratios = [predicted_ratio(k, 0.0025, words_per_row) for k in (2, 4, 8, 16)]
        assert ratios == sorted(ratios, reverse=True)
        assert predicted_ratio(4, 0.01, words_per_row) <= predicted_ratio(4, 0.0025, words_per_row)
    by_rows = [predicted_ratio(8, 0.0025, r) for r in (50, 200, 1_000, 20_000)]
    assert by_rows == sorted(by_rows) and by_rows[0] < by_rows[-1]


def test_the_forecast_uses_the_jobs_own_pacing():
    f = forecast.forecast(5_000_000, ROWS, 4)
    assert f.sync_words == sync.default_sync_words(5_000_000, 4)
    assert f.stale_share == pytest.approx(sync.DEFAULT_STALE_SHARE, rel=1e-3)
    coarse = forecast.forecast(5_000_000, ROWS, 4, sync_words=50_000)  # --sync-words: 3% stale
    assert coarse.stale_share == pytest.approx(0.03) and coarse.ratio < f.ratio


def test_auto_takes_the_most_actors_that_reach_the_target():
    law = Law(a=0.02, b=1.0, c=0.0, d=0.0, fitted_on="test")  # loss 0.02 per extra actor: K=2 0.98, K=3 0.96
    chosen, every = choose_actors(10_000_000, ROWS, nodes=6, law=law)
    assert chosen == 2 and [f.actors for f in every] == [1, 2, 3, 4, 5, 6]
    assert choose_actors(10_000_000, ROWS, nodes=1, law=law)[0] == 1
    nothing_reaches = Law(a=0.5, b=0.0, c=0.0, d=0.0, fitted_on="test")
    assert choose_actors(10_000_000, ROWS, nodes=6, law=nothing_reaches)[0] == 1  # one node always reaches it
    everything = Law(a=0.0, b=0.0, c=0.0, d=0.0, fitted_on="test")
    assert choose_actors(10_000_000, ROWS, nodes=6, law=everything)[0] == 6  # never more than the nodes


def test_a_corpus_with_more_words_per_row_gets_at_least_as_many_actors():
    """With the fitted law: the same vocabulary over more words never gets fewer actors."""
    chosen = [choose_actors(words, 50_000, nodes=16)[0] for words in (10**6, 10**7, 10**8, 10**9, 10**10)]
    assert chosen == sorted(chosen) and chosen[0] < chosen[-1]


def test_the_warning_names_what_reaches_the_target():
    law = Law(a=0.02, b=1.0, c=1.0, d=0.0, fitted_on="test")
    every = [forecast.forecast(10_000_000, ROWS, k, law=law) for k in range(1, 5)]
    chosen = every[3]  # K=4: 0.94
    line = shortfall(chosen, every, one_node="2 h 10 min", law=law)
    assert line.startswith("forecast: 4 actors get about 0.94 x one node's analogy score (below 0.97)")
    assert "--actors 2 (0.98)" in line  # the most actors that reach it
    assert "(one node: about 2 h 10 min of training)" in line
    share = forecast.finest_share(4, chosen.words_per_row, law=law)  # 0.03 / (0.02 x 3) of 0.25%
    assert share == pytest.approx(0.00125)
    assert f"--sync-words {round(share * 10_000_000 / 3):,}" in line
    assert predicted_ratio(4, share, chosen.words_per_row, law) == pytest.approx(TARGET_RATIO)
    assert shortfall(every[1], every, law=law) is None  # K=2 reaches it: nothing to say
    assert "\n" not in line


def test_pacing_finer_than_the_floor_is_not_advised():
    law = Law(a=0.5, b=1.0, c=1.0, d=0.0, fitted_on="test")
    every = [forecast.forecast(1_000_000, ROWS, k, law=law) for k in range(1, 9)]
    line = shortfall(every[7], every, law=law)
    assert "--sync-words" not in line and line.endswith("--actors 1")


def test_parameters_other_than_the_laws_make_it_an_extrapolation():
    config = TrainConfig(corpus=("c",), out="o")
    assert extrapolated(config) == ""
    assert extrapolated(dataclasses.replace(config, sg=True, vector_size=300)) == (
        "measured with other parameters than sg=True, vector_size=300: an extrapolation")
    assert extrapolated(dataclasses.replace(config, alpha=0.05)) == (
        "measured with other parameters than alpha=0.05: an extrapolation")


def test_the_plan_prints_and_records_the_forecast():
    f = forecast.forecast(6_400_000, 52_372, 4)
    plan = Plan(shards=4, bytes=2**20, actors=(ActorPlan("a" * 32, 2, 1, 2**20),), corpus_words=6_400_000,
                distinct_words=90_000, vocab_size=52_372, effective_min_count=5, vector_size=100, epochs=5,
                actor_memory=1, driver_memory=1, words_per_s_per_thread=0, train_seconds=0, forecast=f)
    line = plan.lines()[-1]
    assert line.startswith(f"quality (forecast): 4 actors: predicted analogy score {f.ratio:.2f} x one node's")
    assert "122 words per vocabulary row" in line
    assert plan.to_json()["forecast"]["predicted_analogy_ratio"] == round(f.ratio, 3)
    skip_gram = dataclasses.replace(plan, forecast_note="measured with other parameters than sg=True: an extrapolation")
    assert skip_gram.lines()[-1].endswith("; measured with other parameters than sg=True: an extrapolation")
    alone = dataclasses.replace(skip_gram, forecast=forecast.forecast(6_400_000, 52_372, 1))
    assert alone.lines()[-1] == "quality (forecast): 1 actor: one node's quality (nothing is exchanged)"
    assert alone.to_json()["forecast"]["extrapolated"] is None


def test_actors_auto_on_the_command_line_and_in_yaml(tmp_path):
    from w2v.cli import _actors

    assert _actors("auto") is None and _actors("3") == 3
    with pytest.raises(argparse.ArgumentTypeError, match="whole number or auto"):
        _actors("many")
    path = tmp_path / "job.yaml"
    path.write_text("corpus: c\nout: o\nactors: auto\n")
    assert TrainConfig.from_yaml(path).actors is None
    path.write_text("corpus: c\nout: o\nactors: lots\n")
    with pytest.raises(ConfigError, match="'actors' must be an integer"):
        TrainConfig.from_yaml(path)


def test_the_shipped_law_is_the_fit_of_the_saved_points_and_its_spread_their_cross_check():
    """jobs/law_points.json holds the replayed runs the law was fitted on (medians over seeds, per corpus, K and
    pacing): refitting them gives the shipped coefficients, and the spread the plan prints is the larger error
    of the two cross-checks (fitted on one kind of text, checked on the other)."""
    from jobs import law

    combine, points = law.read_points()
    # the replay's name for the job's default: saturation, as adaptive's floor, at the job's rho
    assert TrainConfig(corpus=("c",), out="o").sync_combine == "saturation"
    assert combine == f"adaptive+saturation{sync.SATURATION_RHO:g}"
    assert {q.family for q in points} == {"docs", "reference"} and len(points) >= 10
    fitted = law.fit(points)
    for name in ("a", "b", "c", "d"):
        assert getattr(fitted, name) == pytest.approx(getattr(LAW, name), rel=0.02, abs=1e-3), name
    worst = max(error for _, _, _, error in law.cross_checks(points))
    assert worst == pytest.approx(forecast.FORECAST_SPREAD, abs=0.005)


def test_the_law_divides_by_the_same_seeds_run_alone_and_needs_no_gensim_run(tmp_path):
    """A replay scored without gensim (`jobs.replay --no-gensim`, what extra seeds of the law's points need)
    has no ratio to gensim: its point's ratio to K=1 is measured all the same, the gensim column is what the
    runs that had one say."""
    from jobs import law

    corpus = tmp_path / "docs-small" / "corpus.txt"
    corpus.parent.mkdir()
    corpus.write_text("the cat sat on the mat\n" * 50)
    lines = [  # (K, seed, analogy, analogy over gensim's or None)
        (1, 1, 0.10, 0.9), (1, 2, 0.12, None), (4, 1, 0.09, 0.8), (4, 2, 0.06, None), (4, 3, 0.11, None)]
    runs = tmp_path / "runs.jsonl"
    runs.write_text("".join(json.dumps({"corpus": str(corpus), "actors": k, "seed": s, "combine": "rule",
                                        "stale_share": 0.0 if k == 1 else 0.0025, "analogy": a,
                                        "analogy_ratio": g}) + "\n" for k, s, a, g in lines))
    (point,) = law.load([runs], "rule")
    # seed 3 has no K=1 run: it takes the median of the corpus's K=1 runs (0.11)
    assert point.ratio == pytest.approx(0.9) and point.low == pytest.approx(0.5) and point.high == pytest.approx(1.0)
    assert point.seeds == 3 and point.family == "docs" and point.actors == 4
    assert point.gensim == pytest.approx(0.8) and point.alone == pytest.approx(0.9)
    unscored = dataclasses.replace(point, gensim=None, alone=None)  # no run of it had gensim beside it
    assert law.table([unscored], LAW, "t")[0].splitlines()[4].endswith("| – | – |")


def test_the_speed_projection_is_one_node_alone_and_grows_with_the_words_between_exchanges():
    """README "What a job will get": a small corpus's chunks train in less time than an exchange takes,
    so more nodes wait; a big corpus's chunks hide the exchange and K nodes approach K x one."""
    rows = sync.mean_slice_bytes(58_089, 800)
    assert forecast.projected_speed(1, 16, 1_000, rows, 500_000).speedup == 1.0
    small = forecast.projected_speed(4, 16, sync.default_sync_words(5_000_000, 4), rows, 500_000)
    big = forecast.projected_speed(4, 16, sync.default_sync_words(1_000_000_000, 4), rows, 500_000)
    assert small.speedup < 1.0 < 3.5 < big.speedup <= 4.0
    assert small.chunk_seconds < small.exchange_seconds and big.chunk_seconds > big.exchange_seconds
    by_words = [forecast.projected_speed(8, 16, w, rows, 500_000).speedup for w in (2_000, 20_000, 200_000, 2_000_000)]
    assert by_words == sorted(by_words)
    assert forecast.projected_speed(8, 16, 20_000, rows, 500_000, value_bytes=4).speedup <= by_words[1]  # float32


def test_auto_takes_the_fastest_k_that_reaches_the_target_and_one_node_when_more_would_be_slower():
    everything = Law(a=0.0, b=0.0, c=0.0, d=0.0, fitted_on="test")
    speedups = {1: 1.0, 2: 1.6, 3: 2.4, 4: 2.1, 5: 0.9, 6: 0.5}
    speed = lambda f: forecast.Speed(f.actors, speedups[f.actors], 0.01, 0.01)  # noqa: E731
    assert choose_actors(10_000_000, ROWS, nodes=6, law=everything, speed=speed)[0] == 3
    slow = lambda f: forecast.Speed(f.actors, 1.0 if f.actors == 1 else 0.4, 0.001, 0.004)  # noqa: E731
    assert choose_actors(10_000_000, ROWS, nodes=6, law=everything, speed=slow)[0] == 1
    two_reach = Law(a=0.02, b=1.0, c=0.0, d=0.0, fitted_on="test")  # K=2 0.98, K=3 0.96: K=3 is fast but worse
    assert choose_actors(10_000_000, ROWS, nodes=6, law=two_reach, speed=speed)[0] == 2
    assert choose_actors(10_000_000, ROWS, nodes=6, law=everything)[0] == 6  # no projection: the most


def test_an_explicit_k_projected_slower_than_one_node_gets_one_line():
    slow = forecast.Speed(4, 0.44, 0.00041, 0.0037)
    line = forecast.slower(slow, one_node="3 s")
    assert line == ("speed (projection): 4 actors train at about 0.44 x one node's speed on this corpus: a chunk "
                    "trains in 0.41 ms and each exchange takes 3.70 ms, so the nodes mostly wait; --actors 1 would be "
                    "faster (about 3 s of training)")
    assert forecast.slower(forecast.Speed(4, 3.1, 0.2, 0.01)) is None
    assert forecast.slower(forecast.Speed(1, 1.0, 0.2, 0.0)) is None


def test_the_plan_prints_and_records_the_speed_projection():
    f = forecast.forecast(5_200_000, 28_196, 4)
    speed = forecast.projected_speed(4, 16, f.sync_words, sync.mean_slice_bytes(28_196, 800), 600_000)
    plan = Plan(shards=4, bytes=2**20, actors=(ActorPlan("a" * 32, 16, 1, 2**20),) * 4, corpus_words=5_200_000,
                distinct_words=90_000, vocab_size=28_196, effective_min_count=5, vector_size=100, epochs=5,
                actor_memory=1, driver_memory=1, words_per_s_per_thread=600_000, train_seconds=7.0, forecast=f,
                speed=speed)
    lines = plan.lines()
    assert lines[-1] == f"speed (projection): {speed.line()}"
    assert lines[-1].startswith(f"speed (projection): 4 actors: about {speed.speedup:.2f} x one node's training speed")
    assert "x 16 thread(s) per node, at the projected speed below" in next(x for x in lines if x.startswith("time"))
    assert plan.to_json()["speed"]["projected_speedup"] == round(speed.speedup, 3)
    alone = dataclasses.replace(plan, speed=forecast.projected_speed(1, 16, 1_000_000, 0, 600_000))
    assert not any(x.startswith("speed") for x in alone.lines())
    assert "perfect scaling assumed" in next(x for x in alone.lines() if x.startswith("time"))


def test_a_tie_in_speed_goes_to_fewer_actors():
    everything = Law(a=0.0, b=0.0, c=0.0, d=0.0, fitted_on="test")
    level = lambda f: forecast.Speed(f.actors, {1: 1.0, 2: 0.995, 3: 1.004, 4: 1.02}[f.actors], 0.01, 0.01)  # noqa: E731
    assert choose_actors(10_000_000, ROWS, nodes=3, law=everything, speed=level)[0] == 1  # within 0.01 of K=3's
    assert choose_actors(10_000_000, ROWS, nodes=4, law=everything, speed=level)[0] == 4  # 0.02 faster: a real gain


def test_the_finer_pacing_advice_says_what_it_would_cost_in_speed():
    law = Law(a=0.02, b=1.0, c=1.0, d=0.0, fitted_on="test")
    every = [forecast.forecast(10_000_000, ROWS, k, law=law) for k in range(1, 5)]
    rows = sync.mean_slice_bytes(ROWS, 800)
    speed = lambda f: forecast.projected_speed(f.actors, 16, f.sync_words, rows, 500_000)  # noqa: E731
    line = shortfall(every[3], every, law=law, speed=speed)
    words = round(forecast.finest_share(4, every[3].words_per_row, law=law) * 10_000_000 / 3)
    finer = forecast.projected_speed(4, 16, words, rows, 500_000).speedup
    assert f"--sync-words {words:,} (0.13% of an epoch stale; more exchanges, about {finer:.2f} x one node's speed)" in line
    assert finer < speed(every[3]).speedup  # finer pacing: more exchanges, slower


def test_the_jobs_speed_model_compares_every_k_with_one_actor_on_the_first_node():
    """Unequal nodes: K nodes train at the pace of the one with the fewest threads, against one actor on the
    first node (what K=1 would use); none is projected for one node, without a rate or through the object store."""
    from w2v.pipeline import _speed_model

    config = TrainConfig(corpus=("c",), out="o")
    placed = [{"node_id": "a", "workers": 32}, {"node_id": "b", "workers": 8}]
    speed = _speed_model(config, 30_000, placed, 500_000.0)
    if speed is None:  # the collective cannot run here: nothing is projected
        pytest.skip("torch is not installed")
    pair = forecast.forecast(50_000_000, 30_000, 2)
    alone = forecast.projected_speed(2, 8, pair.sync_words, sync.mean_slice_bytes(30_000, 800), 500_000.0)
    assert speed(pair).speedup == pytest.approx(alone.speedup * 8 / 32) and speed(pair).speedup < 1.0
    assert speed(forecast.forecast(50_000_000, 30_000, 1)).speedup == 1.0
    assert _speed_model(config, 30_000, placed[:1], 500_000.0) is None
    assert _speed_model(config, 30_000, placed, 0.0) is None
    assert _speed_model(dataclasses.replace(config, transport="object-store"), 30_000, placed, 500_000.0) is None
