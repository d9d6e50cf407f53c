"""report.md, its pictures and `w2v info`'s summary, from a manifest and an evaluation."""

import numpy as np

from w2v.report import CURVES_PNG, PCA_PNG, REPORT_MD, describe, pca_2d, render

PNG = b"\x89PNG\r\n\x1a\n"

MANIFEST = {
    "created": "2026-01-01T00:00:00+00:00", "format_version": 1, "vector_size": 4,
    "parameters": {"sg": False, "window": 5, "negative": 5, "epochs": 2, "alpha": 0.025, "sample": 1e-3, "seed": 1},
    "vocabulary": {"size": 400, "distinct_words": 900, "effective_min_count": 5},
    "corpus": {"words": 12345, "bytes": 67890, "shards": [{"uri": "/data/a.txt"}]},
    "training": {"words": 24690, "seconds": 2.0, "words_per_s": 12345, "actors": [{}, {}],
                 "epochs": [{"epoch": 1, "words_per_s": 12000, "epoch_loss": 5.0},
                            {"epoch": 2, "words_per_s": 13000, "epoch_loss": 3.0}]},
    "timings": {"list": 0.1, "train": 2.0},
    "evaluation": {"file": "eval.json", "analogies": {"questions-words.txt": {"3CosAdd": 0.25, "3CosMul": 0.3,
                                                                            "oov_ratio": 10.0}},
                   "pairs": {"wordsim353.tsv": {"spearman": 0.5, "oov_ratio": 2.0}}},
    "versions": {"w2v": "0.1.0"},
    "files": {"vectors.npy": {"bytes": 10, "sha256": "x"}},
}
EVALUATION = {
    "neighbors": {"w1": [{"word": "w2", "cosine": 0.9}]},
    "analogies": [{"file": "questions-words.txt", "restrict_vocab": 400, "methods": ["3CosAdd", "3CosMul"],
                   "oov_ratio": 10.0, "seconds": 1.25,
                   "sections": [{"section": "capital", "questions": 10, "evaluated": 9, "oov": 1,
                                 "3CosAdd": {"correct": 3, "accuracy": 0.3333}, "3CosMul": {"correct": 0, "accuracy": 0.0}}],
                   "total": {"section": "total", "questions": 10, "evaluated": 9, "oov": 1,
                             "3CosAdd": {"correct": 3, "accuracy": 0.3333}, "3CosMul": {"correct": 0, "accuracy": 0.0}}}],
    "pairs": [{"file": "simlex999.txt", "pairs": 999, "evaluated": 0, "oov_ratio": 100.0, "spearman": None,
               "pearson": None}],
    "runtime": {"seconds": 3.0, "tensorflow": "2.x", "devices": ["/device:CPU:0"], "host": "h"},
}


def test_report_has_the_tables_and_both_pictures():
    vectors = np.random.default_rng(0).standard_normal((400, 4)).astype(np.float32)
    files = render(MANIFEST, EVALUATION, [f"w{i}" for i in range(400)], vectors)
    assert files[PCA_PNG].startswith(PNG) and files[CURVES_PNG].startswith(PNG)
    md = files[REPORT_MD].decode()
    assert "| capital | 10 | 9 | 33.3% | 0.0% |" in md and "| **total** | 10 | 9 | 33.3% | 0.0% |" in md
    assert "in **1.25 s**" in md and "| simlex999.txt | 999 | 0 | 100.0% | n/a | n/a |" in md
    assert f"![The most frequent words, PCA]({PCA_PNG})" in md and f"({CURVES_PNG})" in md
    assert "- **w1**: w2 (0.90)" in md and "12,345 words" in md
    assert md.count("- evaluation:") == 1  # this evaluation's, not the manifest's summary of an older one
    no_epochs = render({**MANIFEST, "training": {}}, EVALUATION, ["a", "b", "c"], vectors[:3])
    assert CURVES_PNG not in no_epochs and b"no per-epoch training numbers" in no_epochs[REPORT_MD]


def test_pca_finds_the_direction_of_largest_spread():
    rng = np.random.default_rng(1)
    vectors = np.c_[10 * rng.standard_normal(200), rng.standard_normal((200, 3)) * 0.1].astype(np.float32) + 50
    xy = pca_2d(vectors)
    assert xy.shape == (200, 2) and abs(xy.mean()) < 1e-5
    assert xy[:, 0].var() > 10 * xy[:, 1].var()


def test_describe_is_a_readable_summary():
    text = "\n".join(describe(MANIFEST))
    assert "vocabulary: 400 words x 4 dims" in text and "on 2 actor(s)" in text
    assert "questions-words.txt 3CosAdd 25.0%, 3CosMul 30.0% (10.0% OOV)" in text
    assert "wordsim353.tsv Spearman 0.5 (2.0% OOV)" in text
    assert "files (1, 10 bytes): vectors.npy" in text
    assert "evaluation: FAILED: boom" in "\n".join(describe({**MANIFEST, "evaluation": {"error": "boom"}}))


def test_words_and_names_with_control_characters_are_escaped_in_the_report_and_summary():
    from w2v.report import format_neighbors, markdown

    neighbors = {"w1": [{"word": "esc\x1b[31mred", "cosine": 0.9}], "bell\x07": [{"word": "w2", "cosine": 0.5}]}
    manifest = {**MANIFEST, "corpus": {**MANIFEST["corpus"], "shards": [{"uri": "/data/\x1b]0;title\x07.txt"}]}}
    texts = ["\n".join(format_neighbors(neighbors)), markdown(manifest, {**EVALUATION, "neighbors": neighbors}),
             "\n".join(describe(manifest))]
    for text in texts:
        assert "\x1b" not in text and "\x07" not in text
    assert "esc\\x1b[31mred (0.90)" in texts[0] and "esc\\x1b[31mred" in texts[1]


def test_pca_labels_never_overlap_axes_give_the_variance_and_evaluated_words_stand_out():
    from w2v.report import pca_figure

    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((300, 8)).astype(np.float32)
    words = [f"word{i}" for i in range(300)]
    fig = pca_figure(vectors, words, highlight=["word7", "word250"])
    ax = fig.axes[0]
    assert "% of the variance)" in ax.get_xlabel() and "% of the variance)" in ax.get_ylabel()
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.texts if t.get_text().startswith("word")]
    assert 20 < len(labels) < 300  # crowded: only the labels that fit are drawn
    boxes = [t.get_window_extent(renderer) for t in labels]
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    bold = {t.get_text() for t in labels if t.get_fontweight() == "bold"}
    assert bold == {"word7", "word250"}  # highlighted and always labelled, even a rare one
    assert "word0" in {t.get_text() for t in labels}  # the most frequent word is labelled first


def test_training_curves_show_plain_speeds_the_learning_rate_the_sync_share_and_a_rough_loss_note():
    from w2v.report import curves_figure

    epochs = [{"epoch": e, "words_per_s": 1_000_000 + 1_000 * e, "loss": 5e5 * e} for e in (1, 2, 3)]
    fig = curves_figure(epochs, {"alpha": 0.025, "min_alpha": 0.0001, "epochs": 3}, sync_share=0.045)
    speed, loss, rate, share = fig.axes
    fig.canvas.draw()
    assert speed.yaxis.get_offset_text().get_text() == ""  # no "1e6" offset: plain numbers
    assert "1,000,000" in [t.get_text() for t in speed.get_yticklabels()]
    assert "rough" in loss.get_xlabel()
    x, y = rate.lines[0].get_data()
    assert list(x) == [0, 1, 2, 3] and y[0] == 0.025 and abs(y[-1] - 0.0001) < 1e-12
    assert "4.5%" in share.lines[0].get_label()
    assert len(curves_figure(epochs).axes) == 2  # no parameters, no sync share: words/s and loss only


def test_the_loss_drawn_is_each_epochs_from_new_and_older_manifests():
    from w2v.report import curves_figure

    new = [{"epoch": e, "words_per_s": 1000, "epoch_loss": loss} for e, loss in ((1, 9.0), (2, 6.0), (3, 5.0))]
    old = [{"epoch": e, "words_per_s": 1000, "loss": running} for e, running in ((1, 9.0), (2, 15.0), (3, 20.0))]
    for epochs in (new, old):
        assert list(curves_figure(epochs).axes[1].lines[0].get_ydata()) == [9.0, 6.0, 5.0]


def test_the_sync_share_is_drawn_per_epoch_and_an_older_manifests_as_one_level():
    from w2v.report import curves_figure

    shares = [0.05, None, 0.2, 0.1]  # epoch 2 has none of its own (its start was unknown after a restart)
    epochs = [{"epoch": e, "words_per_s": 1000, "loss": 10.0 * e, **({} if v is None else {"sync_share": v})}
              for e, v in enumerate(shares, 1)]
    speed, loss, share = curves_figure(epochs, sync_share=0.12).axes
    per_epoch, whole_run = share.lines
    x, y = per_epoch.get_data()
    assert list(x) == [1, 2, 3, 4] and [None if np.isnan(v) else v for v in y] == shares  # a gap at epoch 2
    assert "per epoch" in per_epoch.get_label() and "(whole run): 12.0%" in whole_run.get_label()
    assert share.get_ylim()[1] >= 0.2  # the highest epoch fits
    old = [{k: v for k, v in e.items() if k != "sync_share"} for e in epochs]  # a manifest from before
    [level] = curves_figure(old, sync_share=0.12).axes[2].lines
    assert "(whole run): 12.0%" in level.get_label() and set(level.get_ydata()) == {0.12}


def test_eval_summary_says_where_it_ran_and_gives_one_line_per_file():
    from w2v.report import evaluation_lines

    in_task = {**EVALUATION, "runtime": {**EVALUATION["runtime"], "resources": {"CPU": 1.0, "GPU": 1.0}}}
    assert evaluation_lines(in_task) == [
        "evaluated in a Ray task on h (/device:CPU:0; 1 CPU, 1 GPU) in 3.0 s",
        "analogies questions-words.txt: 3CosAdd 33.3%, 3CosMul 0.0% on 9 of 10 questions (10.0% OOV), 1.25 s",
        "pairs simlex999.txt: Spearman None, Pearson None, 0 of 999 pairs (100.0% OOV)"]
    assert evaluation_lines(EVALUATION)[0] == "evaluated in this process on h (/device:CPU:0) in 3.0 s"


def test_the_training_line_gives_the_exchanges_when_the_manifest_has_them():
    from w2v.report import summary_lines

    training = {**MANIFEST["training"], "exchanges": 12, "words_per_exchange": 5000, "stale_words": 5000,
                "stale_share": 0.0025, "sync_combine": "adaptive", "sync_share": 0.31}
    assert summary_lines({**MANIFEST, "training": training})["training"] == (
        "training: 24,690 words in 2.0 s (12,345 words/s) on 2 actor(s), 12 exchange(s) (5,000 words per actor "
        "between two, 5,000 stale: 0.25% of an epoch; adaptive combining), sync 31% of actor time")
    assert describe(MANIFEST) == list(summary_lines(MANIFEST).values())
