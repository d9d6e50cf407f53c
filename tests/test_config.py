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


def test_unknown_key_is_named_with_the_closest_valid_key():
    with pytest.raises(ConfigError, match=r"^unknown key 'vectorsize' in config; did you mean 'vector_size'\?$"):
        make(vectorsize=10)
    with pytest.raises(ConfigError, match=r"^unknown key 'zzz' in config; valid keys: .*min_count.*window"):
        make(zzz=1)


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
        ({"on_bad_shard": "maybe"}, "on_bad_shard"),
        ({"tokenizer": "nltk"}, "tokenizer='nltk': must be one of"),
        ({"deaccent": True}, "deaccent=True: needs tokenizer: simple"),
        ({"checkpoint_interval": -1}, "checkpoint_interval"),
        ({"max_restarts": -1}, "max_restarts"),
        ({"wait_for_nodes": -5}, "wait_for_nodes=-5"),
        ({"wait_for_nodes": 60}, "wait_for_nodes=60.0: needs actors"),
        ({"epochs": "5"}, "'epochs' must be an integer"),
        ({"sg": 1}, "'sg' must be true or false"),
        ({"corpus": []}, "corpus"),
        ({"max_vocab_size": 10}, "max_vocab_size=10"),
        ({"shard_bytes": 100}, "shard_bytes=100"),
        ({"s3_endpoint_url": "127.0.0.1:9000"}, "s3_endpoint_url.*http://"),
        ({"wire": "float16"}, "wire='float16': must be one of bfloat16, float32"),
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
    bad.write_text("corpus: [a]\nout: o\nmin_cont: 3\nwindoww: 3\n")
    with pytest.raises(ConfigError, match=r"^unknown keys in .*bad\.yaml: 'min_cont' \(did you mean 'min_count'\?\), "
                                          r"'windoww' \(did you mean 'window'\?\)$"):
        TrainConfig.from_yaml(bad)


def test_to_json_leaves_out_the_address():
    data = make(address="ray://user:token@head:10001").to_json()
    assert "address" not in data and data["corpus"] == ["c.txt"]


def test_yaml_key_given_twice_is_named(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text("corpus: [a]\nout: o\nwindow: 3\nwindow: 8\n")
    with pytest.raises(ConfigError, match=r"twice\.yaml: key 'window' is given twice \(line 4\)"):
        TrainConfig.from_yaml(path)


@pytest.mark.parametrize("key", ["[window, 3]", "{a: 1}"])
def test_yaml_key_that_is_a_list_or_a_mapping_is_named_not_a_traceback(tmp_path, key):
    path = tmp_path / "odd.yaml"
    path.write_text(f"corpus: [a]\nout: o\n{key}: 5\n")
    with pytest.raises(ConfigError, match=r"odd\.yaml: the key on line 3 is a (list|mapping), not a name$"):
        TrainConfig.from_yaml(path)


def test_a_seed_beyond_32_bits_is_refused_at_the_door():
    assert make(seed=2**32 - 1).seed == 4294967295
    with pytest.raises(ConfigError, match=r"^seed=4294967296: must be between 0 and 4294967295"):
        make(seed=2**32)


@pytest.mark.parametrize("text, value", [("1e-4", 1e-4), ("1.0e-4", 1e-4), ("1E-3", 1e-3), ("0.001", 1e-3),
                                         ("2.5e-1", 0.25), (".5e-1", 0.05), ("0", 0.0)])
def test_yaml_reads_numbers_by_yaml_1_2s_rules(tmp_path, text, value):
    """`sample: 1e-3` is a number, as in YAML 1.2 and JSON (PyYAML's YAML 1.1 reads it as a string)."""
    path = tmp_path / "job.yaml"
    path.write_text(f"corpus: [a]\nout: o\nsample: {text}\nalpha: 5e-2\n")
    config = TrainConfig.from_yaml(path)
    assert (config.sample, config.alpha) == (value, 0.05)
    path.write_text("corpus: [a]\nout: o\nepochs: 1e1\n")  # 1e1 is a float: not an integer
    with pytest.raises(ConfigError, match=r"'epochs' must be an integer, got 10\.0"):
        TrainConfig.from_yaml(path)


def test_a_manifests_parameters_block_is_a_config_file(tmp_path):
    """What pipeline.py writes as the manifest's `parameters` (JSON, which YAML 1.2 reads) builds the same config."""
    from w2v import export

    config = make(sample=1e-5, min_alpha=1e-7, max_final_vocab=5000, sg=True, actors=2, wait_for_nodes=30,
                  s3_region="eu-west-1", corpus=["a.txt", "s3://b/p/"])
    path = tmp_path / "parameters.json"
    path.write_bytes(export.json_bytes(config.to_json()))
    assert "1e-05" in path.read_text()  # the spelling YAML 1.1 reads as a string
    assert TrainConfig.from_yaml(path) == config


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"window": "5"}, "'window' must be an integer, got '5'"),
        ({"alpha": "fast"}, "'alpha' must be a number, got 'fast'"),
        ({"hs": "yes"}, "'hs' must be true or false"),
        ({"corpus": [1, 2]}, "'corpus' must be a path or a list of paths"),
        ({"vector_size": -3}, "vector_size=-3"),
        ({"negative": -1}, "negative=-1"),
        ({"negative": 0, "hs": True}, None),  # hierarchical softmax alone is fine
    ],
)
def test_more_wrong_types_and_values(overrides, message):
    if message is None:
        assert make(**overrides).hs
        return
    with pytest.raises(ConfigError, match=message):
        make(**overrides)


def test_checkpoints_go_beside_the_artifact_unless_placed():
    assert make(out="art/run1/").checkpoint_location == "art/run1.checkpoint"
    assert make(checkpoint_dir="/ckpt").checkpoint_location == "/ckpt"


def test_s3_and_big_corpus_flags_reach_the_config():
    from w2v.cli import build_parser, config_from_args
    from w2v.storage import S3Settings

    args = build_parser().parse_args(["train", "s3://bkt/corpus/", "--out", "s3://bkt/art", "--max-vocab-size",
                                      "2000000", "--shard-bytes", "65536", "--s3-endpoint-url", "http://127.0.0.1:9000",
                                      "--s3-region", "eu-west-1", "--s3-profile", "minio"])
    config = config_from_args(args)
    assert (config.max_vocab_size, config.shard_bytes) == (2_000_000, 65536)
    assert config.s3_settings() == S3Settings("http://127.0.0.1:9000", "eu-west-1", "minio")


def billion_laughs(levels: int = 9) -> str:
    """A YAML whose aliases under `window:` expand to 9**levels strings (about 400 bytes)."""
    items = ["&l0 [" + ",".join(['"lol"'] * 9) + "]"]
    items += [f"&l{n} [" + ",".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "corpus: [c.txt]\nout: o\nwindow: [" + ", ".join(items) + "]\n"


def test_a_billion_laughs_yaml_is_refused_in_bounded_memory_with_a_short_message(tmp_path):
    import tracemalloc

    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    tracemalloc.start()
    try:
        with pytest.raises(ConfigError, match=r"bomb\.yaml: .*alias") as raised:
            TrainConfig.from_yaml(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(str(raised.value)) < 400 and peak < 64 * 2**20


def test_a_config_file_over_the_size_bound_is_refused_naming_it(tmp_path):
    from w2v.config import MAX_CONFIG_BYTES

    path = tmp_path / "huge.yaml"
    path.write_text("corpus: [" + ", ".join(["a.txt"] * (MAX_CONFIG_BYTES // 7 + 1)) + "]\nout: o\n")
    with pytest.raises(ConfigError, match=r"huge\.yaml is .* bytes: more than .* a job config"):
        TrainConfig.from_yaml(path)


def test_a_value_echoed_in_an_error_is_cut_short():
    with pytest.raises(ConfigError, match=r"'window' must be an integer, got \[\[0, 0, .*\.\.\.\]") as raised:
        make(window=[[0] * 1_000] * 100)
    assert len(str(raised.value)) < 400
    with pytest.raises(ConfigError) as raised:
        make(corpus=["a.txt", 7, "x" * 10_000])
    assert len(str(raised.value)) < 400


def test_submit_validates_a_bomb_locally_and_fails_in_one_short_line(tmp_path, capsys):
    from w2v.cli import main

    (tmp_path / "bomb.yaml").write_text(billion_laughs())
    assert main(["submit", "--working-dir", str(tmp_path), "--", "--config", "bomb.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bomb.yaml" in err and len(err) < 400


@pytest.mark.parametrize("key", ["out", "checkpoint_dir", "spool_dir", "s3_endpoint_url", "mlflow_uri"])
@pytest.mark.parametrize("secret", ["hunter2", "hun/ter+2", "hun@ter/2"])
def test_credentials_in_any_location_are_refused_at_the_door_and_never_echoed(key, secret):
    value = f"https://user:{secret}@minio:9000" if key in ("s3_endpoint_url", "mlflow_uri") else \
        f"s3://AKIA:{secret}@bucket/x"
    with pytest.raises(ConfigError, match=r"://\*\*\*@.*credentials in a URI are refused") as raised:
        make(**{key: value})
    assert "hun" not in str(raised.value) and "ter" not in str(raised.value)
    assert ("MLFLOW_TRACKING_PASSWORD" if key == "mlflow_uri" else "AWS") in str(raised.value)


def test_run_identity_keys_from_yaml_and_flags(tmp_path):
    from w2v.cli import build_parser, config_from_args

    job = tmp_path / "job.yaml"
    job.write_text("corpus: [c.txt]\nout: o\nname: news baseline\ntags: [news, v2]\nlicense: cc-by-4.0\n")
    config = TrainConfig.from_yaml(job)
    assert (config.name, config.tags, config.license) == ("news baseline", ("news", "v2"), "cc-by-4.0")
    assert config.to_json()["tags"] == ["news", "v2"]  # JSON, and a config file again
    argv = ["train", "c.txt", "--out", "o", "--tags", "a, b/c", "--name", "x", "--mlflow-uri", "sqlite:///m.db",
            "--language", "en,pt-BR"]
    flags = config_from_args(build_parser().parse_args(argv))
    assert (flags.tags, flags.name, flags.mlflow_uri) == (("a", "b/c"), "x", "sqlite:///m.db")
    assert flags.language == ("en", "pt-BR") and flags.to_json()["language"] == ["en", "pt-BR"]
    assert TrainConfig.from_yaml(job, overrides={"tags": ("only",)}).tags == ("only",)
    assert make(tags="one").tags == ("one",)


@pytest.mark.parametrize("overrides, message", [
    ({"tags": 5}, r"^config: 'tags' must be a string or a list of strings, got 5$"),
    ({"tags": ["ok", "two words"]}, r"^tags: 'two words' is not a tag"),
    ({"tags": [""]}, r"^tags: '' is not a tag"),
    ({"tags": ["a", "a"]}, r"^tags=\('a', 'a'\): at most 50 tags, each given once$"),
    ({"name": ""}, r"^name='': must be 1 to 100 printable characters$"),
    ({"name": "a\nb"}, r"^name='a\\nb': must be 1 to 100 printable characters$"),
    ({"license": "Apache 2.0"}, r"^license='Apache 2.0': must be a license id as the Hugging Face Hub writes them"),
    ({"language": ["en", "English"]}, r"^language: 'English' is not a language code as the Hugging Face Hub"),
    ({"mlflow_uri": " "}, r"^mlflow_uri=' ': give a tracking URI or leave it out$"),
    ({"mlflow_uri": "http://user:pw@mlflow:5000"}, r"^http://\*\*\*@mlflow:5000: "),
])
def test_run_identity_values_are_validated_naming_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        make(**overrides)
