"""README.md: a model card the Hugging Face Hub's own parser reads, with no host paths, and the warnings."""

import hashlib
import json

import numpy as np
import pytest

from w2v.export import republish, update_artifact, write_artifact
from w2v.model_card import README_MD, parse_front_matter, render
from w2v.manifest import Manifest

from .test_manifest import OLD

RUN = {"name": 'news "baseline": v2', "tags": ["news", "v2"], "ray_job_id": "02000000",
       "ray_submission_id": "raysubmit_x", "git_commit": "0123456789abcdef0123", "git_dirty": False, "host": "h"}
MANIFEST = {
    **OLD, "run": RUN, "parameters": {**OLD["parameters"], "license": "cc-by-4.0", "language": ["en", "de"],
                                      "lowercase": True},
    "corpus": {**OLD["corpus"], "words": 2_000_000, "shards": [
        {"uri": "/home/alice/secret-project/corpus/part-1.txt#bytes=0-100"},
        {"uri": "/home/alice/secret-project/corpus/part-1.txt#bytes=100-200"},
        {"uri": "s3://bucket/news/part-2.txt.gz"}]},
    "evaluation": {"file": "eval.json", "seconds": 1.0,
                   "analogies": {"questions-words.txt": {"3CosAdd": 0.41234, "3CosMul": 0.45, "oov_ratio": 12.5}},
                   "pairs": {"wordsim353.tsv": {"spearman": 0.61, "oov_ratio": 3.0},
                             "simlex999.txt": {"spearman": None, "oov_ratio": 100.0}}},
}


def test_the_hubs_parser_reads_the_metadata_and_the_evaluation():
    from huggingface_hub import ModelCard

    card = ModelCard(render(Manifest.from_json(MANIFEST)))  # the Hub library's own parser and validation
    data = card.data
    assert data.library_name == "gensim" and data.license == "cc-by-4.0"
    assert {"word2vec", "gensim", "news", "v2"} <= set(data.tags)
    assert data.model_name == 'news "baseline": v2'
    results = {(r.dataset_name, r.metric_name): r.metric_value for r in data.eval_results}
    assert results == {("questions-words.txt", "3CosAdd accuracy"): 0.4123,
                       ("questions-words.txt", "3CosMul accuracy"): 0.45,
                       ("wordsim353.tsv", "Spearman rho"): 0.61}  # simlex999: no score, so no result
    assert {r.metric_type for r in data.eval_results} == {"accuracy", "spearmanr"}
    assert all(r.task_type == "feature-extraction" for r in data.eval_results)
    assert data.metrics == ["accuracy", "spearmanr"]


def test_the_card_names_files_not_host_paths():
    text = render(Manifest.from_json(MANIFEST))
    assert "/home/alice" not in text and "secret-project" not in text
    assert "`part-1.txt`, `s3://bucket/news/part-2.txt.gz`" in text
    assert "2,000,000 words" in text and "lowercased" in text


def test_the_summary_says_how_to_load_it_and_what_made_it():
    text = render(Manifest.from_json(MANIFEST))
    for snippet in ('KeyedVectors.load_word2vec_format("DIR/vectors.bin", binary=True)',
                    'np.load("DIR/vectors.npy", allow_pickle=False)', "w2v.keras_embedding(kv)",
                    "git commit `0123456789ab`", "Ray job raysubmit_x", "| analogies `questions-words.txt` | "
                    "3CosAdd 41.2%, 3CosMul 45.0% | 12.5% |"):
        assert snippet in text


def test_warnings_for_out_of_vocabulary_tests_a_small_corpus_and_a_missing_evaluation():
    text = render(Manifest.from_json(MANIFEST))
    assert "Most evaluation words were out of the vocabulary (simlex999.txt: 100.0% skipped)" in text
    assert "small corpus" not in text
    small = render(Manifest.from_json({**MANIFEST, "evaluation": None, "corpus": {**MANIFEST["corpus"], "words": 9}}))
    assert "not evaluated" in small and "small corpus (9 words)" in small and "Most evaluation words" not in small
    failed = render(Manifest.from_json({**MANIFEST, "evaluation": {"error": "TF went away"}}))
    assert "The evaluation failed (TF went away)" in failed and "model-index" not in failed


def test_the_license_languages_and_corpus_reach_the_hub_metadata_and_pass_its_offline_checks():
    from huggingface_hub import ModelCard, ModelCardData

    card = ModelCard(render(Manifest.from_json(MANIFEST)))
    data = card.data
    assert data.license == "cc-by-4.0" and data.language == ["en", "de"]
    assert data.datasets == ["part-1.txt", "s3://bucket/news/part-2.txt.gz"]  # no host path here either
    again = ModelCardData(**data.to_dict())  # the Hub library rebuilds the same metadata from what it read
    assert again.to_dict() == data.to_dict() and again.eval_results == data.eval_results


def test_a_corpus_of_many_files_lists_the_first_ones_as_datasets():
    shards = [{"uri": f"s3://b/part-{i:03d}.txt"} for i in range(30)]
    data = parse_front_matter(render(Manifest.from_json({**MANIFEST, "corpus": {**MANIFEST["corpus"],
                                                                                 "shards": shards}})))
    assert data["datasets"] == [f"s3://b/part-{i:03d}.txt" for i in range(20)]


def test_without_a_license_language_or_evaluation_the_front_matter_has_none():
    manifest = {**MANIFEST, "parameters": OLD["parameters"], "evaluation": None, "run": None}
    data = parse_front_matter(render(Manifest.from_json(manifest)))
    assert data == {"library_name": "gensim", "datasets": ["part-1.txt", "s3://bucket/news/part-2.txt.gz"],
                    "tags": ["word2vec", "word-embeddings", "gensim", "w2v"]}


WORDS, COUNTS = ["the", "of", "a"], [5, 4, 3]


def _evaluation(oov):
    return {"runtime": {"seconds": 1.0, "tensorflow": "x"}, "pairs": [], "neighbors": {},
            "analogies": [{"file": "q.txt", "methods": ["3CosAdd"], "total": {"3CosAdd": {"accuracy": 0.5}},
                           "oov_ratio": oov}]}


def test_the_card_is_published_checksummed_and_follows_a_new_evaluation(tmp_path):
    vectors = np.ones((3, 4), dtype=np.float32)
    out = tmp_path / "art"
    body = {k: v for k, v in MANIFEST.items() if k not in ("files", "format_version")}
    written = write_artifact(str(out), WORDS, COUNTS, vectors, body, None, False)
    card = (out / README_MD).read_bytes()
    assert written["files"][README_MD]["sha256"] == hashlib.sha256(card).hexdigest()
    assert json.loads((out / "manifest.json").read_text())["files"][README_MD]["bytes"] == len(card)
    from w2v.manifest import summary

    update_artifact(str(out), {"eval.json": json.dumps(_evaluation(80.0)).encode()},
                    {"evaluation": {"file": "eval.json", **summary(_evaluation(80.0))}})
    card = (out / README_MD).read_text()
    assert "Most evaluation words were out of the vocabulary (q.txt: 80.0% skipped)" in card
    copy = tmp_path / "copy"
    republished = republish(str(out), str(copy))
    assert (copy / README_MD).read_text() == card  # rebuilt from the same manifest
    assert republished["files"][README_MD]["sha256"] == hashlib.sha256(card.encode()).hexdigest()


@pytest.mark.parametrize("name", ["a: b", "#x", "- y", "'q'", 'back\\slash', "ünï"])
def test_any_printable_name_survives_the_front_matter(name):
    data = parse_front_matter(render(Manifest.from_json({**MANIFEST, "run": {**RUN, "name": name}})))
    assert data["model-index"][0]["name"] == name
