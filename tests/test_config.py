"""TrainConfig: gensim's defaults, one clear error per bad key or value, YAML with flag overrides."""

import pytest
from gensim.models import Word2Vec

from w2v import ConfigError, TrainConfig


def make(**overrides):
    return TrainConfig.from_mapping({"corpus": ["c.txt"], "out": "o", **overrides})


def test_defaults_are_gensims():
    config, reference = make(), Word2Vec()
    for name in ("vector_size", "window", "min_count", "epochs", "negative", "sample", "alpha", "min_alpha", "seed"):
        assert getattr(config, name) == getattr(reference, name), name
    assert int(config.sg) == reference.sg and int(config.hs) == reference.hs


def test_gensim_kwargs_build_a_model():
    model = Word2Vec(**make(sg=True, vector_size=16).gensim_kwargs(workers=2))
    assert (model.sg, model.vector_size, model.workers, model.min_count) == (1, 16, 2, 1)


def test_unknown_key_is_named():
    with pytest.raises(ConfigError, match="unknown key.*vectorsize"):
        make(vectorsize=10)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"window": 0}, "window=0"),
        ({"vector_size": 0}, "vector_size=0"),
        ({"vector_size": 10**6}, "vector_size"),
        ({"negative": 0, "hs": False}, "negative=0 and hs=false"),
        ({"min_alpha": 0.5}, "min_alpha"),
        ({"epochs": -1}, "epochs=-1"),
        ({"min_count": 0}, "min_count=0"),
        ({"sample": 1.5}, "sample"),
        ({"actors": 0}, "actors=0"),
        ({"unicode_errors": "maybe"}, "unicode_errors"),
        ({"epochs": "5"}, "'epochs' must be an integer"),
        ({"sg": 1}, "'sg' must be true or false"),
        ({"corpus": []}, "corpus"),
        ({"max_vocab_size": 10}, "max_vocab_size=10"),
        ({"shard_bytes": 100}, "shard_bytes=100"),
        ({"s3_endpoint_url": "127.0.0.1:9000"}, "s3_endpoint_url.*http://"),
    ],
)
def test_impossible_values_are_rejected_with_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make(**overrides)


def test_corpus_and_out_are_required():
    with pytest.raises(ConfigError, match="'out' is required"):
        TrainConfig.from_mapping({"corpus": ["c.txt"]})


def test_yaml_with_overrides(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("corpus: [a.txt, b.txt.gz]\nout: artifacts/x\nepochs: 3\nvector_size: 50\n")
    config = TrainConfig.from_yaml(path, overrides={"epochs": 7})
    assert config.corpus == ("a.txt", "b.txt.gz")
    assert (config.epochs, config.vector_size) == (7, 50)


def test_yaml_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        TrainConfig.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("corpus: [a]\nout: o\nwindoww: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: unknown key.*windoww"):
        TrainConfig.from_yaml(bad)


def test_to_json_leaves_out_the_address():
    data = make(address="ray://user:token@head:10001").to_json()
    assert "address" not in data and data["corpus"] == ["c.txt"]


def test_s3_and_big_corpus_flags_reach_the_config():
    from w2v.cli import build_parser, config_from_args
    from w2v.storage import S3Settings

    args = build_parser().parse_args(["train", "s3://bkt/corpus/", "--out", "s3://bkt/art", "--max-vocab-size",
                                      "2000000", "--shard-bytes", "65536", "--s3-endpoint-url", "http://127.0.0.1:9000",
                                      "--s3-region", "eu-west-1", "--s3-profile", "minio"])
    config = config_from_args(args)
    assert (config.max_vocab_size, config.shard_bytes) == (2_000_000, 65536)
    assert config.s3_settings() == S3Settings("http://127.0.0.1:9000", "eu-west-1", "minio")
