"""The driver-actor protocol (`w2v/exchange.py`): the bytes an exchange counts, and one real object-store round
between two trainer actors on a Ray cluster (all or nothing per slice when one of them is gone)."""

import dataclasses

import numpy as np
import pytest

from w2v import TrainConfig, sync
from w2v.exchange import (ActorStatus, ExchangeTally, Moved, actor_gone, exchange_round, gather, get_or,
                          ring_bytes)


def test_the_tally_adds_each_rounds_bytes_and_seconds():
    tally = ExchangeTally()
    first = Moved(total=2800, busiest_link=700, slice=400)  # sync.round_bytes(4, 400)
    tally.add(first, 0.5)
    tally.add(Moved(total=1400, busiest_link=350, slice=200), 0.25)
    assert (tally.exchanges, tally.seconds) == (2, 0.75)
    assert tally.moved == Moved(total=4200, busiest_link=1050, slice=600)
    assert first == Moved(total=2800, busiest_link=700, slice=400)  # added in, not aliased
    counted = sync.round_bytes(4, 400)
    assert Moved(counted.total, counted.busiest_link, counted.slice) == first  # as exchange_round counts


def test_a_ring_moves_2_k_minus_1_over_k_of_the_slice_per_member_and_nothing_alone():
    assert ring_bytes(2, 1000) == Moved(total=2000, busiest_link=1000, slice=1000)
    assert ring_bytes(8, 800) == Moved(total=8 * 1400, busiest_link=1400, slice=800)
    assert ring_bytes(1, 1000) == Moved(total=0, busiest_link=0, slice=1000)


def test_an_actor_status_is_a_frozen_record_whose_defaults_mean_nothing_seen_yet():
    status = ActorStatus()
    assert (status.rounds_done, status.done, status.error, status.peer) == (0, False, None, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.done = True  # type: ignore[misc]
    import ray

    assert set(actor_gone()) == {ray.exceptions.RayActorError, ray.exceptions.ActorUnschedulableError}


@pytest.fixture
def two_trainers(ray_cluster, tmp_path):
    """Two real trainer actors, each spooled on its own file of a small corpus (one chunk), both started from
    actor 0's seeded weights with the exchange on. (actors, those first weights, rows)"""
    import ray

    from w2v.corpus import list_shards
    from w2v.corpus import ReadOptions
    from w2v.trainer import TrainerActor
    from w2v.vocab import Vocabulary, count_shard, merge_counts

    from .corpora import write_planted_corpus

    write_planted_corpus(tmp_path / "corpus", files=2, sentences_per_file=400, compress=("",))
    config = TrainConfig(corpus=(str(tmp_path / "corpus"),), out=str(tmp_path / "art"), actors=2, vector_size=8,
                         epochs=1, min_count=1, eval=False, seed=5)
    shards = list_shards(config.corpus)
    counted = [count_shard(s, ReadOptions.of(config)) for s in shards]
    vocab = Vocabulary.from_counts(merge_counts(c.counts for c in counted), config.min_count)
    trainer = ray.remote(TrainerActor)
    actors = [trainer.options(num_cpus=0).remote(config, 1) for _ in shards]
    ray.get([a.spool.remote(vocab, [shard], 1, c.words) for a, shard, c in zip(actors, shards, counted)])
    first = sync.copy_weights(ray.get(actors[0].weights.remote()))
    first_ref = ray.put(first)
    ray.get([a.start.remote(first_ref, True, 0) for a in actors])
    yield actors, first, len(vocab)
    for actor in actors:
        ray.kill(actor)


@pytest.mark.slow
def test_one_round_leaves_every_actor_holding_the_global_weights(two_trainers):
    """Each actor hands over its change of round 0 in slices; the driver's copy gets the combined pieces, and
    each actor adds the others' part to its own: every actor ends where the global weights are."""
    import ray

    actors, first, rows = two_trainers
    row_bytes = sum(a.shape[1] * 4 for a in first.values())
    slices = sync.row_slices(rows, row_bytes, max_bytes=rows * row_bytes // 3 + 1)  # a few slices, not one
    assert len(slices) >= 3
    global_weights = sync.copy_weights(first)
    moved, lost = exchange_round(actors, slices, [0, 0], global_weights)
    assert lost == set()
    assert moved.slice == rows * row_bytes  # every row once, every matrix
    assert moved.total == sum(sync.round_bytes(2, (s.stop - s.start) * row_bytes).total for s in slices)
    assert not all(np.array_equal(global_weights[n], first[n]) for n in first)  # the trained changes landed
    for actor in actors:
        held = ray.get(actor.weights.remote())
        for name in first:
            np.testing.assert_allclose(held[name], global_weights[name], rtol=0, atol=1e-5)


@pytest.mark.slow
def test_a_round_an_actor_is_gone_from_reaches_no_one_and_the_other_keeps_its_change(two_trainers):
    import ray

    actors, first, rows = two_trainers
    ray.kill(actors[1], no_restart=True)
    global_weights = sync.copy_weights(first)
    moved, lost = exchange_round(actors, [slice(0, rows)], [0, 0], global_weights)
    assert lost == {1} and moved == Moved()
    assert all(np.array_equal(global_weights[n], first[n]) for n in first)  # all or nothing: nothing
    # The survivor took its change back for the next exchange: it hands over all of it again.
    again = ray.get(actors[0].take.options(num_returns=2).remote(0, rows, 1, 0))
    live = ray.get(actors[0].weights.remote())
    assert again[0] is True
    for name in first:
        np.testing.assert_allclose(again[1][name], live[name] - first[name], rtol=0, atol=1e-6)
    # One read for all, each failure on its own: the gone actor's result is None (or the default).
    alive, gone = actors[0].weights.remote(), actors[1].weights.remote()
    assert gather([alive, gone])[1] is None and get_or(gone, "default") == "default"
