"""Corpus listing and streaming: gensim LineSentence semantics, nothing cut, bounded memory, clear errors."""

import gzip
import os
import random
import tracemalloc
from collections import Counter
from pathlib import Path

import pytest
import smart_open
from gensim.models.word2vec import LineSentence
from gensim.test.utils import datapath

from w2v import ConfigError, CorpusError, TrainConfig
from w2v import corpus as corpus_module
from w2v.spool import spool_chunks
from w2v.storage import demo_text
from w2v.corpus import ReadOptions, Shard, ShardSentences, assign_shards, iter_sentences, list_shards, split_shards


def sentences_of(path, **options):
    return list(iter_sentences(list_shards([str(path)])[0], ReadOptions(**options)))


def test_sentences_equal_gensim_linesentence_on_real_text():
    path = datapath("lee_background.cor")
    assert sentences_of(path) == list(LineSentence(path))


def test_sample_corpus_is_the_real_text_shipped_with_gensim():
    shards = list_shards(["sample:"])
    assert [s.uri for s in shards] == ["sample://wiki", "sample://lee"]
    assert list_shards(["sample:lee.cor"])[0].uri.endswith("lee.cor")
    with pytest.raises(CorpusError, match="no test file 'nope.txt'"):
        list_shards(["sample:nope.txt"])


def test_sample_corpus_is_gensim_wikicorpus_text_unstemmed_and_the_lee_corpus():
    from gensim.corpora.wikicorpus import WikiCorpus, tokenize

    wiki, lee = list_shards(["sample:"])
    expected = list(WikiCorpus(datapath(demo_text.TEXTS["wiki"]), dictionary={}, processes=1).get_texts())
    limit = ReadOptions().max_sentence_words  # a longer article is several sentences
    assert list(iter_sentences(wiki)) == [t[i : i + limit] for t in expected for i in range(0, len(t), limit)]
    assert wiki.size == sum(len(" ".join(t).encode()) + 1 for t in expected)
    lee_lines = open(datapath("lee_background.cor"), encoding="utf-8").read().splitlines()
    assert list(iter_sentences(lee)) == [t for t in (tokenize(line, 2, 15, True) for line in lee_lines) if t]
    words = Counter(w for s in ShardSentences([wiki, lee]) for w in s)
    assert words["september"] > 100 and words["century"] > 100 and "septemb" not in words
    assert split_shards([wiki, lee], 4) == [wiki, lee]  # generated text is never entered in the middle


def test_simple_tokenizer_is_gensim_simple_preprocess_when_counting_and_spooling(tmp_path, monkeypatch):
    from gensim.utils import simple_preprocess

    from w2v.vocab import count_shard

    monkeypatch.setattr(corpus_module, "BLOCK_CHARS", 11)  # words and lines cross block boundaries
    lines = ["Hello, World! It's 2024: the Café-au-lait (naïve) RÉSUMÉ.", "", "  ---  ", "x",
             "Antidisestablishmentarianism is long; e-mail O'Brien\tat 9am.\r", "ÜBER über Straße"]
    path = tmp_path / "punct.txt"
    path.write_text("\n".join(lines), encoding="utf-8", newline="")
    for deacc in (False, True):
        options = ReadOptions(tokenizer="simple", deaccent=deacc)
        expected = [t for t in (simple_preprocess(line, deacc=deacc) for line in lines) if t]
        shard = list_shards([str(path)])[0]
        assert list(iter_sentences(shard, options)) == expected
        spooled = spool_chunks([shard], options, str(tmp_path), chunks=1, workers=1, expected_words=0)
        assert [line.split() for line in open(spooled.chunks[0][0][0], encoding="utf-8")] == expected
        counted = count_shard(shard, options)
        assert dict(counted.counts) == Counter(w for t in expected for w in t)
    assert sentences_of(path)[0][:2] == ["Hello,", "World!"]  # whitespace stays the default


def test_long_lines_become_several_sentences_never_cut(tmp_path):
    words = [f"w{i}" for i in range(25_000)]
    path = tmp_path / "long.txt"
    path.write_text(" ".join(words) + "\nshort line\n")
    got = sentences_of(path)
    assert [len(s) for s in got] == [10_000, 10_000, 5_000, 2]
    assert sum(got[:3], []) == words


def test_block_boundaries_never_split_a_word(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module, "BLOCK_CHARS", 7)
    text = "hello world foo\r\nbar  baz qux quux\n\n\tlast line, no newline"
    path = tmp_path / "c.txt"
    path.write_text(text, newline="")
    expected = [line.split() for line in text.split("\n") if line.split()]
    assert sentences_of(path) == expected


def test_lowercase_option(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("The Cat SAT\n")
    assert sentences_of(path, lowercase=True) == [["the", "cat", "sat"]]
    assert sentences_of(path) == [["The", "Cat", "SAT"]]


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst"])
def test_compressed_files_read_like_plain_ones(tmp_path, suffix):
    source = datapath("lee_background.cor")
    target = tmp_path / f"lee.cor{suffix}"
    with open(source, "rb") as src, smart_open.open(str(target), "wb") as dst:
        dst.write(src.read())
    assert sentences_of(target) == sentences_of(source)


def test_a_huge_line_streams_in_bounded_memory(tmp_path, monkeypatch):
    """16 MB on one line, no newline: peak Python memory stays a small multiple of the block."""
    monkeypatch.setattr(corpus_module, "BLOCK_CHARS", 1 << 16)
    path = tmp_path / "one-line.txt"
    with open(path, "w") as f:
        for i in range(16 * 2**20 // 64):
            f.write("abcdefg " * 8)
    tracemalloc.start()
    words = sum(len(s) for s in iter_sentences(list_shards([str(path)])[0]))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert words == 16 * 2**20 // 8
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MiB for a 16 MiB line"


def test_listing_directories_globs_and_files(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("one\n")
    (tmp_path / "a" / "y.txt.gz").write_bytes(gzip.compress(b"two\n"))
    (tmp_path / "a" / ".hidden").write_text("skip me\n")
    (tmp_path / "b.txt").write_text("three\n")
    by_dir = [s.uri for s in list_shards([str(tmp_path / "a")])]
    assert [u.rsplit("/", 1)[1] for u in by_dir] == ["x.txt", "y.txt.gz"]
    by_glob = [s.uri for s in list_shards([str(tmp_path / "**" / "*.txt")])]
    assert [u.rsplit("/", 1)[1] for u in by_glob] == ["x.txt", "b.txt"]
    assert len(list_shards([str(tmp_path / "b.txt")])) == 1


def test_missing_paths_duplicates_and_empty_corpora_are_named(tmp_path):
    with pytest.raises(CorpusError, match="nope.txt: no such file"):
        list_shards([str(tmp_path / "nope.txt")])
    with pytest.raises(CorpusError, match=r"\*.zzz: the pattern matches no file"):
        list_shards([str(tmp_path / "*.zzz")])
    (tmp_path / "a.txt").write_text("x\n")
    with pytest.raises(CorpusError, match="a.txt is given twice"):
        list_shards([str(tmp_path / "a.txt"), str(tmp_path)])
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "zero.txt").write_text("")
    with pytest.raises(CorpusError, match="every file is empty"):
        list_shards([str(empty)])


def test_non_utf8_bytes_name_the_file_or_are_replaced(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café au lait\n".encode("latin-1"))
    with pytest.raises(CorpusError, match="latin1.txt is not valid UTF-8.*--unicode-errors replace"):
        sentences_of(path)
    assert sentences_of(path, unicode_errors="replace") == [["caf\ufffd", "au", "lait"]]


def test_shard_assignment_balances_bytes_largest_first():
    shards = [Shard(f"s{i}", size, 0) for i, size in enumerate([100, 90, 40, 30, 30, 10])]
    assignment = assign_shards(shards, 2)
    loads = [sum(s.size for s in p) for p in assignment]
    assert max(loads) <= 1.1 * sum(loads) / 2  # largest-first greedy: within 10% of an even split
    assert sorted(s.uri for p in assignment for s in p) == sorted(s.uri for s in shards)


def test_shard_sentences_is_reiterable(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("a b\nc\n")
    stream = ShardSentences(list_shards([str(path)]))
    assert list(stream) == list(stream) == [["a", "b"], ["c"]]


def read_with_stats(path, **options):
    from w2v.corpus import ReadStats

    stats = ReadStats()
    sentences = list(iter_sentences(list_shards([str(path)])[0], ReadOptions(**options), stats))
    return sentences, stats


def test_crlf_line_ends_read_like_lf(tmp_path):
    text = "the cat sat\non the mat\n\nend\n"
    lf, crlf = tmp_path / "lf.txt", tmp_path / "crlf.txt"
    lf.write_bytes(text.encode())
    crlf.write_bytes(text.replace("\n", "\r\n").encode())
    assert sentences_of(crlf) == sentences_of(lf) == [["the", "cat", "sat"], ["on", "the", "mat"], ["end"]]


def test_non_utf8_policies_are_applied_per_line_and_counted(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"good line\ncaf\xe9 au lait\nstill good\n\xff\xfe binary\xff\n")
    with pytest.raises(CorpusError, match=r"mixed.txt is not valid UTF-8 \(byte 0xe9 on line 2\)"):
        read_with_stats(path)
    got, stats = read_with_stats(path, unicode_errors="replace")
    assert got == [["good", "line"], ["caf\ufffd", "au", "lait"], ["still", "good"], ["\ufffd\ufffd", "binary\ufffd"]]
    assert (stats.lines, stats.bad_lines) == (4, 2)
    got, stats = read_with_stats(path, unicode_errors="ignore")
    assert got == [["good", "line"], ["caf", "au", "lait"], ["still", "good"], ["binary"]]
    assert stats.bad_lines == 2
    got, stats = read_with_stats(path, unicode_errors="skip")
    assert got == [["good", "line"], ["still", "good"]]
    assert (stats.lines, stats.bad_lines) == (4, 2)


def test_skip_drops_a_bad_line_that_spans_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus_module, "BLOCK_CHARS", 8)
    path = tmp_path / "c.txt"
    path.write_bytes(b"first line ok\nthis line is long and \xff bad in its middle\nlast one\nno newline \xff")
    got, stats = read_with_stats(path, unicode_errors="skip")
    assert got == [["first", "line", "ok"], ["last", "one"]]
    assert (stats.lines, stats.bad_lines) == (4, 2)


def _reference(data: bytes, policy: str, limit: int = 10_000) -> tuple[list[list[str]], int]:
    """Whole-file reference: split on b"\\n", decode each line alone, apply the policy."""
    import re

    sentences, bad = [], 0
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    for raw in lines:
        line = raw.decode("utf-8", "surrogateescape")
        if re.search("[\udc80-\udcff]", line):
            bad += 1
            if policy == "skip":
                continue
            line = re.sub("[\udc80-\udcff]", "\ufffd" if policy == "replace" else "", line)
        tokens = line.split()
        sentences.extend(tokens[i : i + limit] for i in range(0, len(tokens), limit))
    return sentences, bad


@pytest.mark.parametrize("seed", range(12))
def test_fuzzed_dirty_text_streams_like_the_whole_file_reference(tmp_path, monkeypatch, seed):
    """Random dirty text (bad bytes, CRLF, NUL, tabs, unicode spaces, blank and long lines) read in tiny
    blocks gives exactly the sentences and bad-line count of a whole-file reference, for every policy."""
    import random

    rng = random.Random(seed)
    monkeypatch.setattr(corpus_module, "BLOCK_CHARS", rng.choice([5, 7, 16, 64]))
    pieces = [b"word", b"caf\xc3\xa9", b"\xe2\x82\xac", b"\xff", b"\xc3", b"\x00", b" ", b"  ", b"\t", b"\r\n",
              b"\n", b"\n\n", b"\xe3\x80\x80", b"na\xefve", b"x" * 30]
    data = b"".join(rng.choice(pieces) for _ in range(rng.randrange(50, 400)))
    path = tmp_path / f"fuzz{seed}.txt"
    path.write_bytes(data)
    for policy in ("replace", "ignore", "skip"):
        got, stats = read_with_stats(path, unicode_errors=policy, max_sentence_words=7)
        expected, bad = _reference(data, policy, limit=7)
        assert got == expected, policy
        assert stats.bad_lines == bad, policy
    if _reference(data, "replace")[1]:
        with pytest.raises(CorpusError, match=f"fuzz{seed}.txt is not valid UTF-8"):
            read_with_stats(path)
    else:
        assert read_with_stats(path)[0] == _reference(data, "strict", limit=10_000)[0]


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_a_corrupt_archive_fails_by_default_and_is_skipped_on_request(tmp_path, suffix):
    from w2v.errors import BadShardError
    from w2v.vocab import count_shard

    good = tmp_path / f"good.txt{suffix}"
    with smart_open.open(str(good), "wb") as f:
        f.write(b"some words here\n" * 5000)
    bad = tmp_path / f"bad.txt{suffix}"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # truncated
    shard = list_shards([str(bad)])[0]
    with pytest.raises(BadShardError, match=f"bad.txt{suffix} is a corrupt .*--on-bad-shard skip"):
        count_shard(shard, ReadOptions())
    skipped = count_shard(shard, ReadOptions(on_bad_shard="skip"))
    assert (skipped.words, skipped.sentences) == (0, 0) and "corrupt or truncated" in skipped.skipped
    assert count_shard(list_shards([str(good)])[0], ReadOptions(on_bad_shard="skip")).words == 15_000


def test_zero_byte_files_are_skipped_beside_real_ones(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "empty.txt.gz").write_bytes(b"")
    (tmp_path / "real.txt").write_text("a b\n")
    assert [s.uri.rsplit("/", 1)[1] for s in list_shards([str(tmp_path)])] == ["real.txt"]
# ---------------------------------------------------------------------- byte ranges and balance


def write_varied_lines(path, lines: int = 4000, seed: int = 5) -> bytes:
    """Lines of every shape a boundary can fall into: empty, one word, CRLF, non-ASCII, 12,000 words."""
    rng = random.Random(seed)
    out = []
    for i in range(lines):
        kind = rng.random()
        if kind < 0.1:
            out.append("")
        elif kind < 0.15:
            out.append(" ".join(f"über{rng.randrange(99)}" for _ in range(rng.randrange(1, 5))) + "\r")
        elif i == lines // 2:
            out.append(" ".join(f"long{j}" for j in range(12_000)))
        else:
            out.append(" ".join(f"w{rng.randrange(5000)}" for _ in range(rng.randrange(1, 40))))
    data = ("\n".join(out) + "\nlast line without newline").encode("utf-8")
    path.write_bytes(data)
    return data


def sentences_of_shards(shards) -> list[list[str]]:
    return [sentence for shard in shards for sentence in iter_sentences(shard)]


def test_byte_ranges_of_a_big_local_file_read_every_line_once(tmp_path):
    path = tmp_path / "big.txt"
    write_varied_lines(path)
    whole = list_shards([str(path)])
    pieces = split_shards(whole, actors=3, piece_bytes=10_000)
    assert len(pieces) > 30 and all(p.end is not None for p in pieces)
    assert [(p.start, p.end) for p in pieces][0][0] == 0 and pieces[-1].end == whole[0].size
    expected = sentences_of_shards(whole)
    got = sentences_of_shards(pieces)
    assert Counter(map(tuple, got)) == Counter(map(tuple, expected))  # every line, each once
    assert got == expected  # and in file order, since the ranges are in order


def test_byte_ranges_of_a_big_s3_object_read_every_line_once(s3_bucket, tmp_path):
    from w2v import storage

    path = tmp_path / "big.txt"
    data = write_varied_lines(path, seed=11)
    storage.s3_client().put_object(Bucket=s3_bucket, Key="big/one.txt", Body=data)
    whole = list_shards([f"s3://{s3_bucket}/big/one.txt"])
    pieces = split_shards(whole, actors=2, piece_bytes=25_000)
    assert len(pieces) >= 8
    expected = sentences_of_shards(list_shards([str(path)]))
    assert Counter(map(tuple, sentences_of_shards(pieces))) == Counter(map(tuple, expected))


def test_every_cut_of_a_small_file_gives_each_line_once(tmp_path, monkeypatch):
    """Exhaustive: a boundary at every byte (inside words, on newlines, inside \\r\\n, in UTF-8 characters)."""
    monkeypatch.setattr(corpus_module, "RANGE_READ_BYTES", 5)  # boundaries inside reads too
    path = tmp_path / "small.txt"
    path.write_bytes("ab c\n\nd e f\r\nüü g\n h\n\nlast".encode("utf-8"))
    size = path.stat().st_size
    expected = sentences_of_shards(list_shards([str(path)]))
    for cut in range(1, size):
        halves = [Shard(str(path), cut, 0, 0, cut), Shard(str(path), size - cut, 0, cut, size)]
        assert sentences_of_shards(halves) == expected, f"cut at byte {cut}"
    thirds = split_shards(list_shards([str(path)]), 3, piece_bytes=4096)  # smaller than the piece: whole
    assert thirds[0].end is None


def test_an_unbalanced_corpus_is_balanced_within_ten_percent(tmp_path):
    write_varied_lines(tmp_path / "huge.txt", lines=20_000)  # ~1.3 MB plain: splittable
    rng = random.Random(3)
    packed = " ".join(f"{rng.getrandbits(64):x}" for _ in range(8_000)).encode()
    (tmp_path / "packed.txt.gz").write_bytes(gzip.compress(packed, 1))  # compressed: whole, ~70 KB
    for i in range(5):
        (tmp_path / f"small-{i}.txt").write_text("a few words here\n" * 200)
    shards = list_shards([str(tmp_path)])
    for actors in (2, 3, 4):
        unsplit = assign_shards(shards, actors)
        loads = [sum(s.size for s in p) for p in unsplit]
        assert max(loads) > 1.5 * sum(loads) / actors  # whole files are far from balanced
        assignment = assign_shards(split_shards(shards, actors), actors)
        loads = [sum(s.size for s in p) for p in assignment]
        assert max(loads) <= 1.10 * sum(loads) / actors, (actors, loads)
        assert sum(loads) == sum(s.size for s in shards)
        assert all(s.end is None for p in assignment for s in p if s.uri.endswith(".gz"))
        shards_in = sum(len(p) for p in assignment)
        assert corpus_module.assignment_summary(assignment).startswith(f"assignment: {shards_in} shard(s)")


def test_byte_ranges_feed_k_actors_within_about_six_percent_on_real_sized_corpora():
    """README: "one 20 GB file still feeds K actors equally (within about 6%)". Pieces are at most
    total/(16 K) bytes, so largest-first keeps the busiest actor within 1/16 (6.25%) of an even split
    whenever the corpus holds at least 16 K x MIN_PIECE_BYTES (1 MiB per actor); smaller corpora are
    the ten-percent test's. Sizes only: nothing is read."""
    bound = 1 / corpus_module.PIECES_PER_ACTOR
    assert bound == 0.0625
    gb = 10**9
    rng = random.Random(7)
    corpora = {"one 20 GB file": [20 * gb], "20 GB beside small files": [20 * gb] + [3 * 10**6] * 50,
               "two big and one odd": [9 * gb, 7 * gb, 1_234_567]}
    for trial in range(12):  # crawl-like: a few to a few hundred files, sizes spread over three decades
        corpora[f"lognormal {trial}"] = [int(rng.lognormvariate(19, 1.7)) + 1 for _ in range(rng.choice((2, 5, 30, 300)))]
    worst = 0.0
    for name, sizes in corpora.items():
        shards = [Shard(f"/corpus/part-{i:05d}.txt", size, 0.0) for i, size in enumerate(sizes)]
        for actors in (2, 3, 4, 8, 16, 64):
            if sum(sizes) < actors * corpus_module.PIECES_PER_ACTOR * corpus_module.MIN_PIECE_BYTES:
                continue
            assignment = assign_shards(split_shards(shards, actors), actors)
            loads = [sum(s.size for s in p) for p in assignment]
            assert sum(loads) == sum(sizes)
            share = max(loads) / (sum(loads) / actors) - 1
            assert share <= bound + 1e-9, (name, actors, share)
            worst = max(worst, share)
    print(f"busiest actor at most {100 * worst:.2f}% above an even split")
    assert worst > 0.03  # the bound is met by the assignment, not by corpora that balance anyway


def test_every_cut_of_a_long_line_reads_each_word_once(tmp_path, monkeypatch):
    """Exhaustive: lines longer than LONG_LINE_BYTES are cut at whitespace, short ones at newlines, at every
    pair of boundaries (inside words, on spaces, tabs, newlines, UTF-8 characters): the words of K ranges
    are the file's words, once each, in order."""
    monkeypatch.setattr(corpus_module, "LONG_LINE_BYTES", 6)
    monkeypatch.setattr(corpus_module, "SCAN_BYTES", 4)  # boundaries found across scan reads too
    path = tmp_path / "long.txt"
    path.write_bytes("one two  three\tfour üü five six seven\nab\ncd ef\n\nlong line again with words".encode())
    size = path.stat().st_size
    expected = [w for s in sentences_of_shards(list_shards([str(path)])) for w in s]
    assert len(expected) == 16
    for a in range(1, size):
        for b in range(a, size):
            cuts = [0, a, b, size]
            ranges = [Shard(str(path), e - s, 0, s, e, file_size=size) for s, e in zip(cuts, cuts[1:])]
            words = [w for s in sentences_of_shards(ranges) for w in s]
            assert words == expected, f"cuts at bytes {a}, {b}"


def test_a_text8_like_line_splits_over_k_ranges_with_the_words_of_the_whole(tmp_path):
    """One 3 MB line of varied words (text8's shape) in 4 ranges: each range reads about a quarter of the
    words, and together exactly the whole file's multiset of words."""
    rng = random.Random(8)
    vocabulary = [f"w{rng.getrandbits(20):x}" for _ in range(5000)]
    path = tmp_path / "text8"
    path.write_text(" " + " ".join(rng.choice(vocabulary) for _ in range(400_000)))  # text8 starts with a space
    whole = list_shards([str(path)])
    expected = Counter(w for s in sentences_of_shards(whole) for w in s)
    pieces = split_shards(whole, 4)
    assert len(pieces) >= 4 and all(p.end is not None for p in pieces)
    counts = [Counter(w for s in iter_sentences(p) for w in s) for p in pieces]
    assert sum(counts, Counter()) == expected
    per_range = [sum(c.values()) for c in counts]
    assert sum(per_range) == 400_000
    assert max(per_range) < 1.01 * 400_000 / len(pieces), per_range


def test_a_huge_line_split_into_byte_ranges_streams_in_bounded_memory(tmp_path, monkeypatch):
    """16 MB on one line in 4 ranges: each range reads its quarter of the line's words, all bounded."""
    monkeypatch.setattr(corpus_module, "BLOCK_CHARS", 1 << 16)
    monkeypatch.setattr(corpus_module, "RANGE_READ_BYTES", 1 << 16)
    path = tmp_path / "one-line.txt"
    with open(path, "w") as f:
        for _ in range(16 * 2**20 // 64):
            f.write("abcdefg " * 8)
    pieces = split_shards(list_shards([str(path)]), 4, piece_bytes=4 * 2**20)
    assert len(pieces) == 4
    tracemalloc.start()
    words = [sum(len(s) for s in iter_sentences(p)) for p in pieces]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert words == [16 * 2**20 // 8 // 4] * 4  # cut at the whitespace after each offset: 8-byte words, 4 MiB ranges
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MiB for a 16 MiB line in byte ranges"


def test_read_rate_measures_the_tokenizer():
    rate = corpus_module.read_rate(list_shards(["sample:lee_background.cor"]))
    assert rate["words"] == sum(len(s) for s in LineSentence(datapath("lee_background.cor")))
    assert rate["bytes"] == os.path.getsize(datapath("lee_background.cor"))
    assert rate["mb_per_s"] > 0 and rate["words_per_s"] > 0


def test_a_new_spool_dir_removes_those_of_dead_processes_on_this_host_only(tmp_path):
    import subprocess
    import sys

    from w2v.spool import new_spool_dir, stale_spool_dirs

    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(ended.stdout)
    live = Path(new_spool_dir(str(tmp_path)))  # this process's: named w2v-spool-HOST-PID-XXXX
    dead = live.with_name(live.name.replace(f"-{os.getpid()}-", f"-{dead_pid}-"))  # as a crashed actor left it
    dead.mkdir()
    (dead / "corpus.txt").write_text("a b c\n")
    other_host = tmp_path / f"w2v-spool-otherhost-{dead_pid}-x"  # a shared --spool-dir: not ours to judge
    other_host.mkdir()
    assert stale_spool_dirs(str(tmp_path)) == [str(dead)]
    mine = Path(new_spool_dir(str(tmp_path)))
    assert not dead.exists() and live.exists() and other_host.exists() and mine.exists()
    assert stale_spool_dirs(str(tmp_path)) == []


def test_the_spool_key_with_phrases_is_the_same_in_every_process():
    """A restarted trainer is a new process with another hash seed: sets and dicts iterate in another order
    there, and the key must not follow them."""
    import subprocess
    import sys

    script = ("from w2v.phrases import Phrasing; from w2v.spool import spool_key; from w2v.corpus import ReadOptions, Shard; "
              "ph = Phrasing(layers=({'new_york': (5, 20.0), 'of_the': (9, 11.0), 'a_b': (7, 12.0)},), connectors=True); "
              "print(spool_key([Shard('a', 1, 1.0)], ReadOptions(phrases=ph), 3, 1, 10))")
    keys = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(keys) == 1 and len(keys.pop().strip()) == 64


def test_a_finished_spool_of_a_dead_process_with_the_same_key_is_taken_over_and_any_other_is_not(tmp_path):
    """A trainer restarted on its node reuses the spool its dead predecessor finished; one of other shards, an
    unfinished one or one missing a file is spooled again (and removed as a dead process's)."""
    import shutil
    import subprocess
    import sys

    from w2v.spool import (SPOOL_RECORD, adopt_spool, new_spool_dir, spool_chunks, spool_key, stale_spool_dirs,
                           write_spool_record)

    corpus = tmp_path / "c.txt"
    corpus.write_text("".join(f"w{i % 50} w{i % 7} w{i % 3} end\n" for i in range(2000)))
    shards, options = list_shards([str(corpus)]), ReadOptions()
    key = spool_key(shards, options, chunks=5, workers=2, expected_words=8000)
    root = tmp_path / "spool"
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(ended.stdout)

    def spooled_by_a_dead_process(finished: bool = True) -> tuple[Path, object]:
        live = Path(new_spool_dir(str(root)))
        stats = spool_chunks(shards, options, str(live), 5, 2, 8000)
        if finished:
            write_spool_record(stats, key)
        dead = live.with_name(live.name.replace(f"-{os.getpid()}-", f"-{dead_pid}-"))
        live.rename(dead)
        return dead, stats

    dead, stats = spooled_by_a_dead_process()
    texts = {p.name: p.read_text() for p in dead.glob("chunk-*")}
    assert adopt_spool(str(root), spool_key(shards, options, 4, 2, 8000)) is None  # other chunks: not this spool
    adopted = adopt_spool(str(root), key)
    assert adopted is not None and not dead.exists() and stale_spool_dirs(str(root)) == []  # ours now
    assert adopted.chunk_words == stats.chunk_words and adopted.words == stats.words == 8000
    files = [Path(path) for chunk in adopted.chunks for path, _ in chunk]
    assert {f.parent for f in files} == {Path(adopted.path)} and {f.name: f.read_text() for f in files} == texts
    shutil.rmtree(adopted.path)

    unfinished, _ = spooled_by_a_dead_process(finished=False)
    assert adopt_spool(str(root), key) is None and unfinished.exists()  # new_spool_dir removes it, as before
    shutil.rmtree(unfinished)
    damaged, stats = spooled_by_a_dead_process()
    os.remove(damaged / Path(stats.chunks[2][1][0]).name)
    assert (damaged / SPOOL_RECORD).exists()  # finished, but a chunk file is gone
    assert adopt_spool(str(root), key) is None and not damaged.exists()


@pytest.mark.parametrize("kind", ["dangling", "loop"])
def test_a_broken_symlink_in_a_corpus_directory_is_one_line_naming_it(tmp_path, kind, capsys):
    from w2v.cli import main

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "real.txt").write_text("a b\n")
    link = corpus / "link.txt"
    link.symlink_to(tmp_path / "gone.txt" if kind == "dangling" else link)
    with pytest.raises(CorpusError, match=f"corpus path {link}: a symbolic link .*(does not exist|loop)"):
        list_shards([str(corpus)])
    assert main(["train", str(corpus), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(link) in err and "Traceback" not in err


@pytest.mark.parametrize("kind, says", [("fifo", "a named pipe \\(FIFO\\), not a regular file"),
                                        ("loop", "a symbolic link that cannot be followed .*loop"),
                                        ("dangling", "a symbolic link to .*gone.txt, which does not exist"),
                                        ("device", "a character device, not a regular file")])
def test_a_corpus_path_that_is_no_regular_file_says_what_it_is(tmp_path, kind, says, capsys):
    from w2v.cli import main

    path = tmp_path / "corpus.txt"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        path = Path("/dev/zero")  # endless: read whole, it would never end
    else:
        path.symlink_to(path if kind == "loop" else tmp_path / "gone.txt")
    with pytest.raises(CorpusError, match=f"^corpus path {path}: {says}"):
        list_shards([str(path)])
    assert main(["train", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "no such file" not in err


@pytest.mark.parametrize("shape", ["plain", "gzip", "byte ranges"])
def test_a_file_appended_to_after_planning_is_read_only_up_to_its_listed_size(tmp_path, shape):
    import gzip

    from w2v.spool import spool_chunks
    from w2v.vocab import count_shard

    path = tmp_path / ("grow.txt.gz" if shape == "gzip" else "grow.txt")
    text = b"alpha beta gamma\n" * 100_000 + b"last line"  # 1.7 MB, more than one read block; no final newline
    path.write_bytes(gzip.compress(text) if shape == "gzip" else text)
    shards = list_shards([str(path)])  # the assignment: sizes as listed
    if shape == "byte ranges":
        shards = split_shards(shards, 2, piece_bytes=400_000)
    appended = b" continued\n" + b"late words\n" * 1000
    sentences = iter_sentences(shards[0])
    first = next(sentences)  # reading has begun when the writer appends
    with open(path, "ab") as f:
        f.write(gzip.compress(appended) if shape == "gzip" else appended)  # gzip: a second member, valid
    read = len(first) + sum(len(s) for s in sentences) + sum(len(s) for sh in shards[1:] for s in iter_sentences(sh))
    counted = sum(count_shard(s, ReadOptions()).words for s in shards)
    spooled = spool_chunks(shards, ReadOptions(), str(tmp_path), chunks=1, workers=1, expected_words=0).words
    assert read == counted == spooled == 300_002


def test_spool_chunks_cut_an_actors_words_into_near_equal_chunks_one_file_per_worker(tmp_path):
    """Word pacing's unit: every chunk ends within one line of its share, and every line is spooled once."""
    from w2v.spool import chunk_bounds, spool_chunks

    rng = random.Random(3)
    lines = [" ".join(f"w{rng.randrange(50)}" for _ in range(rng.randrange(1, 30))) for _ in range(2_000)]
    (tmp_path / "c.txt").write_text("\n".join(lines) + "\n")
    words = sum(len(line.split()) for line in lines)
    out = tmp_path / "spool"
    out.mkdir()
    stats = spool_chunks(list_shards([str(tmp_path / "c.txt")]), ReadOptions(), str(out), 7, 3, words)
    assert len(stats.chunks) == 7 and all(len(chunk) == 3 for chunk in stats.chunks)
    assert stats.words == words == sum(stats.chunk_words)
    ends = [sum(stats.chunk_words[: c + 1]) for c in range(7)]
    assert all(0 <= end - bound < 30 for end, bound in zip(ends, chunk_bounds(words, 7)))  # within one line
    spooled = [line for chunk in stats.chunks for path, _ in chunk for line in open(path).read().splitlines()]
    assert sorted(spooled) == sorted(lines)
    for chunk in stats.chunks:  # each worker's file holds about a third of its chunk
        sizes = [n for _, n in chunk]
        assert max(sizes) - min(sizes) < 30


@pytest.mark.parametrize("seed", range(6))
def test_long_lines_tokenized_in_pieces_give_the_tokens_of_the_whole_line(tmp_path, monkeypatch, seed):
    """Pieces of a few characters cut at whitespace (unicode spaces too) change no token, with either tokenizer."""
    from gensim.utils import simple_preprocess

    rng = random.Random(seed)
    monkeypatch.setattr(corpus_module, "BLOCK_CHARS", rng.choice([64, 256]))
    monkeypatch.setattr(corpus_module, "TOKENIZE_CHARS", rng.choice([3, 8, 16]))
    pieces = ["word", "Café", "naïve", "x" * 40, "e-mail", "O'Brien", "9am", " ", "  ", "\t", "\u3000", "\u00a0",
              "\u2003", "\n", "\r\n"]
    text = "".join(rng.choice(pieces) for _ in range(rng.randrange(200, 800)))
    path = tmp_path / f"pieces{seed}.txt"
    path.write_text(text, encoding="utf-8")
    limit = 7
    for tokenizer, split in (("whitespace", str.split),
                             ("simple", lambda line: simple_preprocess(line, min_len=2, max_len=15))):
        expected = []
        for line in text.split("\n"):
            tokens = split(line)
            expected.extend(tokens[i : i + limit] for i in range(0, len(tokens), limit))
        assert sentences_of(path, tokenizer=tokenizer, max_sentence_words=limit) == expected, tokenizer


def _one_line_corpus(path: Path, tokens: int) -> Counter:
    """A text8-like file: `tokens` words on ONE line, no newline; returns the counts."""
    rng = random.Random(8)
    vocabulary = [f"w{i}" for i in range(5000)] + ["the", "of", "and", "one", "zero"] * 400
    counts: Counter = Counter()
    with open(path, "w") as f:
        for _ in range(tokens // 10_000):
            words = rng.choices(vocabulary, k=10_000)
            counts.update(words)
            f.write(" ".join(words) + " ")
    return counts


@pytest.mark.parametrize("container", ["plain", "zip"])
def test_a_two_million_word_single_line_streams_in_bounded_memory_with_default_blocks(tmp_path, container):
    """text8's shape (one line, no newline) at 2M words (10.6 MB), default block and piece sizes: the sentences are
    gensim's 10,000-word cuts, and no list of the line's words is built (measured: 6.3 MiB peak plain, 9.7 MiB
    from a zip member; 18.2 MiB plain when the whole 1 MiB block was tokenized at once)."""
    import zipfile

    path = tmp_path / "text8"
    counts = _one_line_corpus(path, 2_000_000)
    if container == "zip":
        with zipfile.ZipFile(tmp_path / "text8.zip", "w", zipfile.ZIP_DEFLATED) as z:
            z.write(path, "text8")
        path.unlink()
        path = tmp_path / "text8.zip"
    [shard] = list_shards([str(path)])
    tracemalloc.start()
    lengths, seen = [], Counter()
    for sentence in iter_sentences(shard):
        lengths.append(len(sentence))
        seen.update(sentence)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert lengths == [10_000] * 200 and seen == counts
    assert peak < (10 if container == "plain" else 13) * 2**20, f"peak {peak / 2**20:.1f} MiB"


ZEROS = 48 << 20  # bytes of zeros: 47 KB as .gz, ~50 KB as .zip, far over 100x + 16 MiB


@pytest.mark.parametrize("suffix", [".gz", ".zip"])
def test_a_zip_bomb_fails_while_it_streams_naming_the_file_and_the_limit(tmp_path, suffix):
    import zipfile

    path = tmp_path / f"zeros.txt{suffix}"
    if suffix == ".gz":
        path.write_bytes(gzip.compress(bytes(ZEROS), 1))
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("zeros.txt", bytes(ZEROS))
    [shard] = list_shards([str(path)])
    with pytest.raises(CorpusError, match=f"^corpus file {shard.name} expands to more than [0-9,]+ bytes from "
                                          f"{shard.size:,} compressed \\(over 100x: a zip bomb\\?\\); if it is real "
                                          f"text, raise --max-expansion \\(0 = no limit\\)$"):
        list(iter_sentences(shard))
    text = tmp_path / "text.txt.gz"  # real text is 3-4x: far from the limit, even at 10x
    text.write_bytes(gzip.compress(open(datapath("lee_background.cor"), "rb").read()))
    assert sentences_of(text, max_expansion=10) == list(LineSentence(datapath("lee_background.cor")))
    with pytest.raises(ConfigError, match="max_expansion=-1: must be >= 0"):
        TrainConfig(corpus=("c",), out="o", max_expansion=-1)


def test_a_run_without_separators_is_never_held_beyond_the_sentence_limit(tmp_path):
    """No limit on expansion: 48 MiB of zeros (no whitespace, no newline) are read in bounded memory, cut into
    1 MiB "words" and sentences of at most MAX_SENTENCE_CHARS characters (once: one sentence of 48 words)."""
    from w2v.corpus import MAX_SENTENCE_CHARS

    path = tmp_path / "zeros.txt.gz"
    path.write_bytes(gzip.compress(bytes(ZEROS), 1))
    tracemalloc.start()
    lengths = [sum(map(len, s)) for s in iter_sentences(list_shards([str(path)])[0], ReadOptions(max_expansion=0))]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sum(lengths) == ZEROS and max(lengths) <= MAX_SENTENCE_CHARS + (1 << 20)
    assert peak < 32 << 20, f"{peak:,} bytes at the peak"
