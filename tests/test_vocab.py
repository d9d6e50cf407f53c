"""Vocabulary: a direct count, deterministic order, gensim's min_count / max_final_vocab rules."""

from collections import Counter

from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath

from w2v.corpus import ReadOptions, list_shards
from w2v.vocab import Vocabulary, count_shard, merge_counts


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
