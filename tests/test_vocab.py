"""Vocabulary: a direct count, deterministic order, gensim's min_count / max_final_vocab rules."""

import random
from collections import Counter

import pytest

from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath

from w2v.corpus import ReadOptions, list_shards
from w2v.vocab import Pruner, Vocabulary, batch_shards, count_shard, merge_counts, merge_into


def test_count_shard_equals_a_direct_count():
    path = datapath("lee_background.cor")
    direct = Counter(word for sentence in LineSentence(path) for word in sentence)
    counted = count_shard(list_shards([path])[0], ReadOptions())
    assert counted.counts == direct
    assert counted.words == sum(direct.values())
    assert counted.distinct == len(direct)


def test_order_is_count_descending_then_word():
    vocab = Vocabulary.from_counts({"b": 3, "a": 3, "z": 9, "c": 1, "d": 2}, min_count=2)
    assert vocab.words == ("z", "a", "b", "d")
    assert vocab.counts == (9, 3, 3, 2)
    assert (vocab.raw_words, vocab.raw_distinct, vocab.retained_words) == (18, 5, 17)


def test_same_words_as_gensim_with_min_count_and_max_final_vocab():
    path = datapath("lee_background.cor")
    counts = merge_counts([count_shard(list_shards([path])[0], ReadOptions()).counts])
    for min_count, max_final_vocab in [(5, None), (2, 1000), (1, 50)]:
        model = Word2Vec(min_count=min_count, max_final_vocab=max_final_vocab)
        model.build_vocab(LineSentence(path))
        ours = Vocabulary.from_counts(counts, min_count, max_final_vocab)
        assert set(ours.words) == set(model.wv.index_to_key)
        assert ours.effective_min_count == model.effective_min_count
        assert all(model.wv.get_vecattr(w, "count") == c for w, c in zip(ours.words, ours.counts))


def test_merging_shard_counts():
    assert merge_counts([{"a": 1}, {"a": 2, "b": 1}, {}]) == {"a": 3, "b": 1}


def test_vocabulary_does_not_depend_on_shard_order():
    parts = [{"x": 3, "y": 2, "z": 3}, {"y": 1, "w": 5, "x": 1}]
    one = Vocabulary.from_counts(merge_counts(parts), min_count=1)
    other = Vocabulary.from_counts(merge_counts(reversed(parts)), min_count=1)
    assert one == other and one.words == ("w", "x", "y", "z")


# ---------------------------------------------------------------------- bounded counting


def test_bounded_count_of_a_shard_equals_gensims_max_vocab_size_scan():
    path = datapath("lee_background.cor")
    for bound in (1000, 3000):
        model = Word2Vec(max_vocab_size=bound)
        model.scan_vocab(corpus_iterable=LineSentence(path))
        counted = count_shard(list_shards([path])[0], ReadOptions(), max_vocab_size=bound)
        assert counted.counts == dict(model.raw_vocab)
        assert counted.pruned_words > 0 and counted.pruned_tokens >= counted.pruned_words
        assert counted.words == sum(len(s) for s in LineSentence(path))  # tokens read: exact, pruned or not


def test_merging_never_holds_more_than_the_bound():
    rng = random.Random(0)
    parts = [{f"w{rng.randrange(20_000)}": rng.randrange(1, 4) for _ in range(3000)} for _ in range(6)]
    sizes = []

    class Watched(dict):  # records the table's size after every insertion
        def __setitem__(self, key, value):
            super().__setitem__(key, value)
            sizes.append(len(self))

    total, pruner = Watched(), Pruner(2500)
    for part in parts:
        merge_into(total, part, pruner)
    assert max(sizes) <= 2501 and len(total) <= 2500
    assert pruner.pruned_words > 0
    exact = merge_counts(parts)
    assert all(total[w] <= exact[w] for w in total)  # pruning only ever loses occurrences
    assert sum(total.values()) + pruner.pruned_tokens == sum(exact.values())


@pytest.mark.slow
def test_the_merge_tree_on_ray_equals_one_count_and_respects_the_bound(ray_cluster, tmp_path):
    from w2v.corpus import split_shards
    from w2v.vocab import build_vocabulary

    path = datapath("lee_background.cor")
    shards = split_shards(list_shards([path]), 2, piece_bytes=40_000)  # 9 byte ranges: a tree of depth 2
    assert len(shards) >= 9
    direct = Counter(word for sentence in LineSentence(path) for word in sentence)
    vocab, summaries = build_vocabulary(shards, ReadOptions(), min_count=1, max_final_vocab=None)
    assert vocab.word_freq() == dict(sorted(direct.items(), key=lambda wc: (-wc[1], wc[0])))
    assert vocab.pruned_words == 0 and sum(s.words for s in summaries) == sum(direct.values())
    bounded, _ = build_vocabulary(shards, ReadOptions(), min_count=1, max_final_vocab=None, max_vocab_size=1000)
    assert len(bounded) <= 1000 and bounded.pruned_words > 0
    assert bounded.raw_words == sum(direct.values())
    top = [w for w, _ in direct.most_common(50)]
    assert [w for w in bounded.words[:50]] == top[:50] or set(bounded.words[:40]) <= set(top)


def test_batches_are_consecutive_reach_the_target_and_leave_big_shards_alone():
    rng = random.Random(4)
    sizes = [rng.choice([0, 1, 7, 40, 99, 100, 250]) for _ in range(500)]
    batches = batch_shards(sizes, target=100)
    assert [i for b in batches for i in b] == list(range(len(sizes)))  # every shard once, in order
    for b in batches:
        total = sum(sizes[i] for i in b)
        if any(sizes[i] >= 100 for i in b):
            assert len(b) == 1  # a shard at or above the target is counted alone
        elif b is not batches[-1] and sizes[b.stop] < 100:
            assert total >= 100 and total - sizes[b[-1]] < 100  # closed as soon as it reached the target
    assert len(batches) < len(sizes)
    assert batch_shards([]) == [] and batch_shards([5]) == [range(0, 1)]
    assert batch_shards([100, 100], target=100) == [range(0, 1), range(1, 2)]


@pytest.mark.slow
def test_a_whitespace_only_corpus_names_its_files(ray_cluster, tmp_path):
    from w2v.errors import CorpusError
    from w2v.vocab import build_vocabulary

    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(" \n\t\n   \n")
    with pytest.raises(CorpusError, match=f"^corpus {tmp_path / 'a.txt'}, {tmp_path / 'b.txt'}: holds no words, only "
                                          "whitespace$"):
        build_vocabulary(list_shards([str(tmp_path)]), ReadOptions(), min_count=1, max_final_vocab=None)


@pytest.mark.slow
def test_many_tiny_files_count_exactly_as_a_direct_count_in_fewer_tasks(ray_cluster, tmp_path):
    """300 files of a few words, one of them a truncated .gz: per-shard summaries as `count_shard` gives them."""
    import gzip

    from w2v.errors import BadShardError
    from w2v.vocab import _count_tasks, build_vocabulary

    rng = random.Random(5)
    root = tmp_path / "tiny"
    root.mkdir()
    for i in range(300):
        lines = [" ".join(f"w{rng.randrange(60)}" for _ in range(rng.randrange(1, 12))) for _ in range(rng.randrange(4))]
        (root / f"{i:03d}.txt").write_text("\n".join(lines))
    (root / "150.txt.gz").write_bytes(gzip.compress(b"w1 w2 w3\n" * 50)[:30])  # truncated: a bad shard
    shards = list_shards([str(root)])
    skip = ReadOptions(on_bad_shard="skip")
    direct = [count_shard(s, skip, max_vocab_size=20) for s in shards]
    total = merge_counts(d.counts for d in direct)

    vocab, summaries = build_vocabulary(shards, skip, min_count=3, max_final_vocab=None)
    assert vocab.word_freq() == dict(sorted(((w, c) for w, c in total.items() if c >= 3),
                                            key=lambda wc: (-wc[1], wc[0])))
    exact = [count_shard(s, skip) for s in shards]
    for shard, got, want in zip(shards, summaries, exact):
        assert got.uri == shard.name
        assert (got.words, got.sentences, got.bad_lines, got.skipped, got.distinct) == \
            (want.words, want.sentences, want.bad_lines, want.skipped, want.distinct), shard.name
        assert got.kept == sum(c for w, c in want.counts.items() if w in set(vocab.words)), shard.name
    assert sum(s.skipped is not None for s in summaries) == 1

    counting = _count_tasks(shards, skip, max_vocab_size=20)  # pruned per shard, exactly as alone
    assert len(counting.tables) < len(shards)  # fewer counting tasks than files
    assert [(s.pruned_words, s.pruned_tokens) for s in counting.summaries] == \
        [(d.pruned_words, d.pruned_tokens) for d in direct]
    with pytest.raises(BadShardError, match="150.txt.gz"):
        build_vocabulary(shards, ReadOptions(), min_count=1, max_final_vocab=None)
