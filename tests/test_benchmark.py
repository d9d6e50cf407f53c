"""The benchmark's table reports every run, ratios included, and a peer that could not run as missing."""

from jobs.benchmark import projection, table


def row(name, words_per_s, **extra):
    return {"name": name, "words": 1_000_000, "train": 1_000_000 / words_per_s, "wall": 10.0, "analogy": 0.05,
            "wordsim353": 0.4, "simlex999": 0.2, "peak_rss": 200 * 2**20, **extra}


def test_table_gives_ratios_to_gensim_and_w2v_and_lists_missing_peers():
    rows = [row("gensim corpus_file", 1_000_000, model_bytes=50 * 2**20), {"name": "spark", "missing": "no java"},
            row("w2v K=1", 500_000), row("w2v K=2", 250_000, sync_share=0.1, slice_bytes=8e6, interval=0.1,
                                             words_per_exchange=12_345, stale_words=12_345)]
    lines = table(rows, rows[0]).splitlines()
    assert len(lines) == 2 + len(rows)
    assert "| spark | missing |" in lines[3]
    gensim_cells = [c.strip() for c in lines[2].split("|")]
    assert gensim_cells[6:8] == ["1.00", "2.00"]  # x gensim, x w2v (the first w2v row)
    k2_cells = [c.strip() for c in lines[5].split("|")]
    assert k2_cells[6:8] == ["0.25", "0.50"]
    assert k2_cells[lines[0].split("|").index(" words/actor/exchange ")] == "12,345"
    projected = projection(rows).splitlines()
    assert len(projected) == 3 and projected[2].startswith("| w2v K=2 | 8.0 | 10.0% | 90% (90%)")
