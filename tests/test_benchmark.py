"""The benchmark's table reports every run, ratios and ranges included, and a peer that could not run as missing;
neighbour agreement is 1 for the same vectors and falls as neighbours change."""

import numpy as np
from gensim.models import KeyedVectors

from jobs.benchmark import agreement, deal_corpus, exchange_cpu_growth, median_row, projection, shuffled, table, variant


def row(name, words_per_s, **extra):
    return {"name": name, "words": 1_000_000, "train": 1_000_000 / words_per_s, "wall": 10.0, "analogy": 0.05,
            "wordsim353": 0.4, "simlex999": 0.2, "peak_rss": 200 * 2**20, **extra}


def test_table_gives_ratios_to_gensim_and_w2v_and_lists_missing_peers():
    rows = [row("gensim corpus_file", 1_000_000, model_bytes=50 * 2**20), {"name": "spark", "missing": "no java"},
            row("w2v K=1", 500_000, actors=1),
            row("w2v K=2", 250_000, sync_share=0.1, slice_bytes=8e6, actors=2, words_per_exchange=12_500,
                stale_words=12_500, stale_share=0.0125, analogy_ratio=0.9, analogy_ratio_range=(0.8, 0.95),
                epoch_words=1_000_000, words_per_core_second=500_000, exchange_cpu_per_mb=0.01, exchange_cpu=0.08)]
    lines = table(rows, rows[0]).splitlines()
    assert len(lines) == 2 + len(rows)
    assert "| spark | missing |" in lines[3]
    head = [c.strip() for c in lines[0].split("|")]
    gensim_cells = [c.strip() for c in lines[2].split("|")]
    assert gensim_cells[head.index("x gensim"):head.index("x w2v") + 1] == ["1.00", "2.00"]  # the first w2v row
    k2_cells = [c.strip() for c in lines[5].split("|")]
    assert k2_cells[head.index("x gensim"):head.index("x w2v") + 1] == ["0.25", "0.50"]
    assert k2_cells[head.index("words/actor/exchange")] == "12,500"
    assert k2_cells[head.index("analogy x gensim")] == "0.90 (0.80-0.95)"
    assert k2_cells[head.index("stale share")] == "1.25%"
    # Real 16-core nodes on a 1B-word epoch at the row's 1.25% stale: 4 nodes exchange every 4.17M words (0.52 s
    # per chunk, 0.08 s of exchange work beside it: 1%); 16 nodes every 833,333 words (0.10 s, 0.08 s of work:
    # 4.6%, no wait); 64 nodes every 198,413 words (25 ms per chunk, 0.11 s per exchange: waits, 22%); at 16 nodes
    # the chunk (1.67 s / cores) lasts 0.85 x the exchange's 0.098 s or more up to 20 cores
    projected = projection(rows).splitlines()
    assert len(projected) == 4 + 3  # this machine's cores and 16 on this corpus, 16 on 1B words
    assert projected[0].endswith("w2v: 0.00 ms per node")  # one K: not extrapolated
    assert projected[6] == ("| w2v K=2 | 500,000 | 80.0 / - (80.0) | 0.00 | 0.000 | 0.00 | 10.0 | 8.0 | 1,000,000,000 "
                            "| 16 | 99% | 95% | 22% | 20 |")
    # The same costs on the collective's ring (fewer round trips, 2(K-1)/K of the slice per link) project higher.
    ring = projection([{**rows[-1], "name": "w2v K=2, collective"}]).splitlines()[-1]
    assert ring.startswith("| w2v K=2, collective | 500,000 | 80.0 / - (80.0) |") and ring != projected[6]
    # With the collective's split: the round's own 8 ms is on the exchange's path, the rest of the 80 ms is the
    # chunk loop (1 ms a chunk) and background (0.2 cores), each projected as what it is.
    split = {**rows[-1], "name": "w2v K=2, collective", "round_cpu": 0.008, "loop_cpu": 0.001, "background_cores": 0.2}
    cells = [c.strip() for c in projection([split]).splitlines()[-1].split("|")]
    assert cells[3:6] == ["80.0 / 8.0 (8.0)", "1.00", "0.200"]
    def at_64(cells: list[str]) -> int:
        return int(cells[-3].rstrip("%"))

    assert at_64(cells) > at_64([c.strip() for c in ring.split("|")])  # 64 nodes: the round's own work waits less


def test_median_row_keeps_the_range_of_every_metric():
    merged = median_row([{"analogy": 0.1, "name": "x"}, {"analogy": 0.3, "name": "x"}, {"analogy": 0.2, "name": "x"}])
    assert merged == {"analogy": 0.2, "analogy_range": (0.1, 0.3)}


def test_neighbour_agreement_is_one_for_the_same_vectors_and_falls_as_they_change():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    vectors = rng.standard_normal((300, 16)).astype(np.float32)
    a, b, c = KeyedVectors(16), KeyedVectors(16), KeyedVectors(16)
    a.add_vectors(words, vectors)
    b.add_vectors(words, vectors + 0.3 * rng.standard_normal(vectors.shape).astype(np.float32))
    c.add_vectors(words, rng.standard_normal(vectors.shape).astype(np.float32))
    same, close, unrelated = agreement(a, a, top=200), agreement(a, b, top=200), agreement(a, c, top=200)
    assert same == 1.0 and unrelated < 0.15 < close < 1.0


def test_the_order_floor_corpus_has_every_line_once_in_another_order(tmp_path):
    joined = tmp_path / "joined.txt"
    lines = [f"line {i} " + "w " * (i % 7) + "\n" for i in range(1000)]
    joined.write_text("".join(lines))
    out = shuffled(joined)
    again = out.read_text().splitlines(keepends=True)
    assert sorted(again) == sorted(lines) and again != lines
    out.unlink()
    assert shuffled(joined).read_text().splitlines(keepends=True) == again  # seeded: the same order every run


def test_exchange_cpu_is_carried_to_more_nodes_along_its_measured_growth_with_k():
    rows = [{"actors": 1}, {"actors": 2, "exchange_cpu": 0.020}, {"actors": 4, "exchange_cpu": 0.030},
            {"actors": 8, "exchange_cpu": 0.050}]
    assert exchange_cpu_growth(rows) == 0.005  # 5 ms more per node
    assert exchange_cpu_growth(rows[:2]) == 0.0  # one K: nothing to extrapolate from
    assert exchange_cpu_growth([{"actors": 2, "exchange_cpu": 0.03}, {"actors": 4, "exchange_cpu": 0.02}]) == 0.0
    one_tier = variant("w2v K=8 (1 workers/node) sum, 0.25% stale, 1 tiers")
    assert one_tier == variant("w2v K=2 (1 workers/node) sum, 0.25% stale, 1 tiers") == "w2v sum, 0.25% stale, 1 tiers"
    assert one_tier != variant("w2v K=2 (1 workers/node) sum, 0.25% stale, 7 tiers")


def test_gensim_reads_the_dealt_lines_in_the_order_the_actors_read_them(tmp_path):
    # Two sources, one after the other: dealing mixes them line by line into the parts, and gensim's
    # file is those parts one after the other, not the sources' order (README "Benchmark").
    sources = []
    for name in ("manual", "dictionary"):
        path = tmp_path / f"{name}.txt"
        path.write_text("".join(f"{name} line {i}\n" for i in range(40)))
        sources.append(path)
    work = tmp_path / "work"
    work.mkdir()
    parts, joined, words = deal_corpus(sources, work)
    dealt = [line for part in sorted(parts.glob("part-*.txt")) for line in part.read_text().splitlines()]
    assert joined.read_text().splitlines() == dealt and words == 80 * 3
    first = joined.read_text().splitlines()[:10]
    assert {line.split()[0] for line in first} == {"manual", "dictionary"}  # the sources' order would be all manual
