"""The one training configuration, validated at the door.

The CLI, YAML job configs and the Python API all build the same frozen `TrainConfig`, so a bad
value is rejected once, before any cluster work starts, with a message naming the key. Names and
defaults are gensim 4's (`vector_size`, `epochs`, ...); `gensim_kwargs` is the only place that turns
the config into gensim arguments.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from .display import credentials_refused, has_userinfo, shown
from .errors import ConfigError
from .collective import TRANSPORTS, WIRES
from .sync import COMBINES, DEFAULT_STALE_SHARE, MIN_SYNC_WORDS

# A job config is a few hundred bytes; a long corpus list a few hundred KB. The bounds stop a hostile
# file early: a 426-byte YAML whose aliases expand to 9**9 values once took 5.5 GB and 57 s.
MAX_CONFIG_BYTES = 1 << 20  # bytes of a YAML job config
MAX_CONFIG_VALUES = 100_000  # YAML values (scalars and containers, aliases expanded) in one config
# What a compressed corpus file or zip member may expand to, times its compressed size (`--max-expansion`):
# real text compresses 3-4x (gzip, bzip2, xz on gensim's corpora; text8.zip 3.2x), one line repeated ~340x
# with gzip, zeros 1,000x (gzip) to 370,000x (bzip2). 100 leaves real text 25x of room and stops a bomb early.
MAX_EXPANSION = 100.0
MAX_SEED = 2**32 - 1  # numpy's RandomState (gensim's seeded vectors) takes 32-bit seeds: more fails after counting

# gensim cuts sentences longer than this silently (MAX_WORDS_IN_BATCH); we split them instead.
MAX_SENTENCE_WORDS = 10_000

UNICODE_ERROR_POLICIES = ("strict", "replace", "ignore", "skip")  # skip: drop lines with bad bytes
TOKENIZERS = ("whitespace", "simple")  # whitespace: gensim LineSentence; simple: gensim simple_preprocess
BAD_SHARD_POLICIES = ("fail", "skip")  # a corrupt or truncated archive: stop naming it, or leave it out
BAD_LINE_POLICIES = ("fail", "skip")  # a JSON line that is not JSON or lacks the text field: stop naming it, or drop it
TEXT_FIELD = re.compile(r"[^.\s]+(\.[^.\s]+)*")  # a field name, dotted into nested objects: text, meta.body
TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,49}")  # a --tags entry: a Hub tag and an MLflow tag key alike
LICENSE = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}")  # the Hub's license ids: apache-2.0, cc-by-sa-4.0, openrail++
LANGUAGE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?|multilingual")  # the Hub's: ISO 639 codes (en, fra), pt-BR
PHRASE_SCORINGS = ("default", "npmi")  # gensim Phrases' scorings (phrases.SCORINGS)

# Parameters that shape the vectors: `--resume` refuses a checkpoint written with other values.
RESUME_KEYS = ("vector_size", "window", "min_count", "max_final_vocab", "epochs", "sg", "hs", "negative", "sample",
               "alpha", "min_alpha", "seed", "lowercase", "tokenizer", "deaccent", "unicode_errors",
               "on_bad_shard", "text_field", "on_bad_line", "phrases", "phrase_min_count", "phrase_threshold", "phrase_scoring", "phrase_passes",
               "phrase_connector_words", "init_from")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training job needs; saved as JSON inside the artifact's manifest."""

    corpus: tuple[str, ...]  # paths, directories, globs or s3:// URIs (prefixes, globs within a prefix)
    out: str  # artifact directory or s3:// prefix
    # --- gensim Word2Vec parameters (gensim 4 names and defaults) ---
    vector_size: int = 100
    window: int = 5
    min_count: int = 5
    max_final_vocab: int | None = None
    max_vocab_size: int | None = None  # gensim's counting bound: most distinct words any count table holds
    epochs: int = 5
    sg: bool = False  # skip-gram; CBOW when False
    hs: bool = False  # hierarchical softmax
    negative: int = 5
    sample: float = 1e-3
    alpha: float = 0.025
    min_alpha: float = 0.0001
    seed: int = 1
    # --- continuing from an artifact (w2v/lineage.py) ---
    init_from: str | None = None  # parent artifact (written with save_training_state): its rows start this job
    init_from_sha256: str | None = None  # refuse a parent whose manifest.json has another sha256 (printed at publish)
    # --- corpus reading ---
    lowercase: bool = False
    tokenizer: str = "whitespace"  # whitespace: split lines on whitespace; simple: gensim's simple_preprocess rules
    deaccent: bool = False  # simple tokenizer only: strip accents (simple_preprocess's deacc)
    unicode_errors: str = "strict"  # strict: fail naming the file; replace/ignore: decode anyway; skip: drop the line
    on_bad_shard: str = "fail"  # a corrupt/truncated archive: fail naming it, or skip it (counted in the manifest)
    text_field: str | None = None  # JSON Lines field (dotted: meta.text) or Parquet column with the text; None: plain text
    on_bad_line: str = "fail"  # a JSON line not JSON or without text_field, a null Parquet text: fail naming it, or skip
    max_expansion: float = MAX_EXPANSION  # a compressed file or zip member: at most this x its bytes; 0 = no limit
    shard_bytes: int | None = None  # split uncompressed files into byte ranges of at most this; None: automatic
    # --- phrases (gensim Phrases' names and defaults, with phrase_ in front) ---
    phrases: bool = False  # join frequent word pairs into one token (new_york) before counting and training
    phrase_min_count: int = 5  # gensim Phrases' min_count: a candidate is scored with this subtracted
    phrase_threshold: float = 10.0  # a candidate above this score is a phrase (npmi: in [-1, 1])
    phrase_scoring: str = "default"  # default (Mikolov et al.) | npmi
    phrase_passes: int = 1  # counting passes; 2 joins phrases again (trigrams, as word2phrase run twice)
    phrase_connector_words: bool = False  # gensim's ENGLISH_CONNECTOR_WORDS may sit inside a phrase (bank_of_america)
    # --- S3 (None: the standard AWS environment and config files decide) ---
    s3_endpoint_url: str | None = None  # S3-compatible endpoint (MinIO, a local test server)
    s3_region: str | None = None
    s3_profile: str | None = None  # a profile of ~/.aws/config; never credentials themselves
    # --- cluster ---
    actors: int | None = None  # None ("auto"): the most alive nodes whose forecast reaches forecast.TARGET_RATIO
    wait_for_nodes: float = 0.0  # seconds to wait (asking the autoscaler) for `actors` trainer nodes; 0 = none
    workers: int | None = None  # gensim threads per actor; None: the node's CPUs
    address: str | None = None  # None: $RAY_ADDRESS if set, else an embedded local Ray
    sync_words: int = 0  # words each actor trains between two exchanges (with 2+ actors); 0 = from the corpus size
    sync_combine: str = "saturation"  # how deltas combine: "saturation", "adaptive" or "sum" (sync.COMBINES)
    sync_tiers: int = 7  # frequency tiers: hot rows every exchange, the coldest every 2**(tiers-1)-th; 1 = all rows
    spool_dir: str | None = None  # where actors spool their shards for corpus_file mode; None: system temp
    transport: str = "auto"  # the exchange: "collective" (gloo among the actors), "object-store", "auto" (torch?)
    wire: str = "bfloat16"  # the numbers the collective's ring carries: "bfloat16" (half the bytes) or "float32"
    # --- faults ---
    checkpoint_interval: float = 60.0  # seconds between checkpoints of the global weights; 0 = none
    checkpoint_dir: str | None = None  # None: "<out>.checkpoint" beside the artifact
    resume: bool = False  # continue from the last checkpoint (same parameters and corpus, or refused)
    max_restarts: int = 3  # times Ray restarts a dead trainer actor; a lost node's shards go to a replacement
    exchange_timeout: float = 120.0  # seconds a collective waits for the slowest actor (the bound on finding a hang)
    # --- output ---
    overwrite: bool = False
    eval: bool = True
    eval_cpus: float = 1.0
    eval_gpus: float = 0.0
    eval_seed: int = 0
    text_vectors: bool = False  # also write vectors.txt (word2vec text format: large)
    kv_pickle: bool = False  # also write vectors.kv (gensim's pickle: runs code when loaded, trusted consumers only)
    phrases_pickle: bool = False  # also write phrases-N.pkl (gensim FrozenPhrases per pass: a pickle, same caution)
    projector_top: int = 10_000  # TensorBoard projector files for this many most frequent words; 0 = none
    save_training_state: bool = False  # also write syn1neg.npy and dropped_counts.tsv: a job can --init-from it
    # --- run identity and tracking ---
    name: str | None = None  # the run's name: in the manifest, the model card and the MLflow run
    tags: tuple[str, ...] = ()  # the run's tags: in the manifest, the model card's `tags` and the MLflow run
    license: str | None = None  # the model card's license: a Hugging Face Hub id (apache-2.0, cc-by-4.0, other)
    language: tuple[str, ...] = ()  # the corpus's languages for the model card: ISO 639 codes (en, de), as the Hub
    mlflow_uri: str | None = None  # log the job as one MLflow run at this tracking URI (needs w2v[mlflow])

    def __post_init__(self) -> None:
        _validate(self)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "config") -> "TrainConfig":
        """Build from a plain mapping (YAML, parsed CLI flags), rejecting unknown keys and wrong types.

        An unknown key is named with the closest valid one, so a typo costs one read, not a search
        through the key list.

        >>> TrainConfig.from_mapping({"corpus": ["a.txt"], "out": "o", "epochs": 2}).epochs
        2
        """
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = [str(key)[:80] for key in values if key not in names]  # bounded: echoed below
        if unknown:
            raise ConfigError(_unknown_keys_message(unknown, names, source))
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            kwargs[key] = _coerce(key, value, hints[key], source)
        for required in ("corpus", "out"):
            if required not in kwargs:
                raise ConfigError(f"{source}: '{required}' is required")
        return cls(**kwargs)

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> "TrainConfig":
        """Read a YAML job config; `overrides` (e.g. CLI flags) win over the file's keys."""
        import yaml

        path = Path(path)
        loader = _unique_key_loader()
        try:
            loaded = yaml.load(_read_bounded(path), Loader=loader) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except (_DuplicateKey, _TooManyValues) as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path} must hold a mapping of keys, not {type(loaded).__name__}")
        return cls.from_mapping({**loaded, **(overrides or {})}, source=str(path))

    # ------------------------------------------------------------------ use
    def gensim_kwargs(self, workers: int) -> dict[str, Any]:
        """Arguments for `gensim.models.Word2Vec(...)` in a trainer actor.

        The vocabulary is built by w2v (global counts, `min_count` and `max_final_vocab` already
        applied, deterministic order), so gensim gets min_count=1 and sorted_vocab=0: it must keep
        our row order exactly.
        """
        return dict(
            vector_size=self.vector_size,
            window=self.window,
            min_count=1,
            sg=int(self.sg),
            hs=int(self.hs),
            negative=self.negative,
            sample=self.sample,
            alpha=self.alpha,
            min_alpha=self.min_alpha,
            seed=self.seed,
            workers=workers,
            epochs=self.epochs,
            sorted_vocab=0,
            max_final_vocab=None,
        )

    @property
    def checkpoint_location(self) -> str:
        """Where checkpoints go: `checkpoint_dir`, or beside the artifact so `out` stays a clean artifact."""
        return self.checkpoint_dir or self.out.rstrip("/") + ".checkpoint"
    def s3_settings(self):
        """How every process of the job reaches S3 (credentials stay with boto3's own chain)."""
        from .storage import S3Settings

        return S3Settings(endpoint_url=self.s3_endpoint_url, region=self.s3_region, profile=self.s3_profile)

    def to_json(self) -> dict[str, Any]:
        """The parameters as saved in the manifest (no address: it may hold a token or host)."""
        data = dataclasses.asdict(self)
        data.pop("address")
        data["corpus"] = list(self.corpus)
        data["tags"] = list(self.tags)
        data["language"] = list(self.language)
        return data


def _unknown_keys_message(unknown: list[str], names: list[str], source: str) -> str:
    """One message for the unknown keys, each with the closest valid key when one is close.

    >>> _unknown_keys_message(["min_cont"], ["min_count", "window"], "job.yaml")
    "unknown key 'min_cont' in job.yaml; did you mean 'min_count'?"
    >>> _unknown_keys_message(["windw", "zzz"], ["min_count", "window"], "job.yaml")
    "unknown keys in job.yaml: 'windw' (did you mean 'window'?), 'zzz'; valid keys: min_count, window"
    """
    close = {key: difflib.get_close_matches(str(key), names, n=1) for key in unknown}
    if len(unknown) == 1 and close[unknown[0]]:
        return f"unknown key '{unknown[0]}' in {source}; did you mean '{close[unknown[0]][0]}'?"
    named = ", ".join(f"'{key}'" + (f" (did you mean '{close[key][0]}'?)" if close[key] else "") for key in unknown)
    listing = "" if all(close.values()) else f"; valid keys: {', '.join(sorted(names))}"
    return (f"unknown key {named} in {source}" if len(unknown) == 1 else f"unknown keys in {source}: {named}") + listing


# YAML 1.2's float rule (core schema) less its plain integers: an exponent needs no dot or sign, so
# `sample: 1e-3` is a number. PyYAML implements YAML 1.1, which reads 1e-3 as the string '1e-3'.
_YAML12_FLOAT = re.compile(r"^[-+]?(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[0-9]+\.[0-9]*(?:[eE][-+]?[0-9]+)?"
                           r"|[0-9]+[eE][-+]?[0-9]+)$")


class _DuplicateKey(Exception):
    """A key given twice, or one that is not a name (a list or a mapping as a key)."""


class _TooManyValues(Exception):
    pass


def _read_bounded(path: Path) -> str:
    """The config file's text, refused past MAX_CONFIG_BYTES before it is parsed (or fully read)."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
    except (IsADirectoryError, PermissionError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        size = path.stat().st_size if path.is_file() else len(data)
        raise ConfigError(f"config file {path} is {size:,} bytes: more than the {MAX_CONFIG_BYTES:,} a job config "
                          f"may have")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config file {path} is not UTF-8 text (byte {exc.start})") from None


class _BoundedComposer:
    """Counts the values a YAML document composes into, aliases expanded, and stops at MAX_CONFIG_VALUES.

    An alias is counted as the whole value it repeats, walked with the budget that is left, so a
    billion-laughs document is refused after MAX_CONFIG_VALUES steps, before anything is built.
    """

    values = 0  # values composed so far in this document

    def compose_node(self, parent, index):
        import yaml

        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            self._count(_expanded_size(node, MAX_CONFIG_VALUES - self.values + 1), node)
            return node
        self._count(1, None)
        return super().compose_node(parent, index)

    def _count(self, n: int, node) -> None:
        self.values += n
        if self.values > MAX_CONFIG_VALUES:
            where = f" (line {node.start_mark.line + 1})" if node is not None else ""
            raise _TooManyValues(f"more than {MAX_CONFIG_VALUES:,} values once aliases are expanded{where}; "
                                 f"write the values out instead of repeating an alias")


def _expanded_size(node, budget: int) -> int:
    """Values under `node` with aliases expanded, counting no further than `budget` (cycles included)."""
    count, stack = 0, [node]
    while stack and count < budget:
        n = stack.pop()
        count += 1
        if isinstance(n.value, list):
            stack.extend(v for item in n.value for v in (item if isinstance(item, tuple) else (item,)))
    return count


def _unique_key_loader():
    """A YAML SafeLoader that refuses a key given twice (plain YAML keeps the last one silently) and
    reads floats by YAML 1.2's rule (`1e-3` is 0.001; JSON's numbers too, so a manifest's `parameters`
    block loads as a config)."""
    import yaml

    class Loader(_BoundedComposer, yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            seen: set = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if not isinstance(key, (str, int, float, bool, type(None))):  # `[a]: 1` is a list as a key
                    what = "a list" if isinstance(key, list) else "a mapping" if isinstance(key, dict) else "a value"
                    raise _DuplicateKey(f"the key on line {key_node.start_mark.line + 1} is {what}, not a name")
                if key in seen:
                    raise _DuplicateKey(f"key {shown(key)} is given twice (line {key_node.start_mark.line + 1})")
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    # Tried after YAML 1.1's int and float rules (resolvers are tried in order), so 5 stays an int.
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _YAML12_FLOAT, list("-+.0123456789"))
    return Loader


def _coerce(key: str, value: Any, hint: Any, source: str) -> Any:
    """Check `value` against the field's type; the only conversions are list->tuple and int->float."""
    origin = typing.get_origin(hint)
    optional = origin in (typing.Union, types.UnionType) and type(None) in typing.get_args(hint)
    if key == "actors" and value == "auto":  # as many as the forecast allows (the default)
        return None
    if optional:
        if value is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        origin = typing.get_origin(hint)
    if origin is tuple:  # corpus, tags: one string or a list of strings
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) for i in items):
            what = "a path or a list of paths" if key == "corpus" else "a string or a list of strings"
            raise ConfigError(f"{source}: '{key}' must be {what}, got {shown(value)}")
        return tuple(items)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: '{key}' must be true or false, got {shown(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{source}: '{key}' must be an integer, got {shown(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{source}: '{key}' must be a number, got {shown(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{source}: '{key}' must be a string, got {shown(value)}")
        return value
    return value


def _validate(c: TrainConfig) -> None:
    """Reject impossible or absurd values, one clear message per parameter."""

    def need(ok: bool, key: str, why: str) -> None:
        if not ok:
            raise ConfigError(f"{key}={shown(getattr(c, key))}: {why}")

    located = [u for u in (*c.corpus, c.out, c.checkpoint_dir, c.spool_dir, c.s3_endpoint_url, c.mlflow_uri,
                           c.init_from)
               if isinstance(u, str)]
    secret = next((u for u in located if has_userinfo(u)), None)
    if secret is not None:
        kind = {c.s3_endpoint_url: "s3", c.mlflow_uri: "mlflow"}.get(secret)  # else by its scheme
        raise ConfigError(credentials_refused(secret, kind))
    need(len(c.corpus) > 0 and all(c.corpus), "corpus", "give at least one corpus path")
    need(bool(c.out), "out", "give an output directory")
    need(1 <= c.vector_size <= 10_000, "vector_size", "must be between 1 and 10000")
    need(1 <= c.window <= 1_000, "window", "must be between 1 and 1000")
    need(c.min_count >= 1, "min_count", "must be at least 1")
    need(c.max_final_vocab is None or c.max_final_vocab >= 1, "max_final_vocab", "must be at least 1")
    need(c.max_vocab_size is None or c.max_vocab_size >= 1_000, "max_vocab_size",
         "must be at least 1000 words (gensim prunes every word below a rising count once the table is full)")
    need(c.shard_bytes is None or c.shard_bytes >= 4096, "shard_bytes", "must be at least 4096 bytes")
    need(c.s3_endpoint_url is None or c.s3_endpoint_url.startswith(("http://", "https://")), "s3_endpoint_url",
         "must start with http:// or https://")
    need(1 <= c.epochs <= 10_000, "epochs", "must be between 1 and 10000")
    need(0 <= c.negative <= 1_000, "negative", "must be between 0 and 1000")
    if not c.hs and c.negative == 0:
        raise ConfigError("negative=0 and hs=false: one of negative sampling or hierarchical softmax is needed")
    need(0.0 <= c.sample < 1.0, "sample", "must be in [0, 1)")
    need(0.0 < c.alpha <= 1.0, "alpha", "must be in (0, 1]")
    need(0.0 <= c.min_alpha <= c.alpha, "min_alpha", f"must be in [0, alpha={c.alpha}]")
    need(0 <= c.seed <= MAX_SEED, "seed", f"must be between 0 and {MAX_SEED} (2**32 - 1: gensim seeds numpy with it)")
    need(c.tokenizer in TOKENIZERS, "tokenizer", f"must be one of {TOKENIZERS}")
    need(not c.deaccent or c.tokenizer == "simple", "deaccent", "needs tokenizer: simple")
    need(c.unicode_errors in UNICODE_ERROR_POLICIES, "unicode_errors", f"must be one of {UNICODE_ERROR_POLICIES}")
    need(c.on_bad_shard in BAD_SHARD_POLICIES, "on_bad_shard", f"must be one of {BAD_SHARD_POLICIES}")
    need(c.text_field is None or (len(c.text_field) <= 200 and TEXT_FIELD.fullmatch(c.text_field) is not None),
         "text_field", "must be a field or column name, dotted for nested JSON objects (meta.text), or left out")
    need(c.on_bad_line in BAD_LINE_POLICIES, "on_bad_line", f"must be one of {BAD_LINE_POLICIES}")
    need(c.max_expansion >= 0, "max_expansion", "must be >= 0 (0 = no limit)")
    _validate_phrases(c, need)
    need(0.0 <= c.checkpoint_interval <= 7 * 86400.0, "checkpoint_interval", "must be between 0 and 604800 seconds")
    need(c.checkpoint_dir is None or bool(c.checkpoint_dir), "checkpoint_dir", "give a directory or leave it out")
    need(0 <= c.max_restarts <= 1_000, "max_restarts", "must be between 0 and 1000")
    need(c.actors is None or c.actors >= 1, "actors", "must be at least 1")
    need(0.0 <= c.wait_for_nodes <= 86400.0, "wait_for_nodes", "must be between 0 and 86400 seconds")
    need(not c.wait_for_nodes or c.actors is not None, "wait_for_nodes",
         "needs actors: how many trainer nodes to wait for")
    need(c.workers is None or 1 <= c.workers <= 1_024, "workers", "must be between 1 and 1024")
    need(c.sync_words == 0 or c.sync_words >= MIN_SYNC_WORDS, "sync_words",
         f"must be 0 (automatic: stale words {DEFAULT_STALE_SHARE:.2%} of an epoch) or at least {MIN_SYNC_WORDS:,}")
    need(1 <= c.sync_tiers <= 12, "sync_tiers", "must be between 1 and 12")
    need(c.sync_combine in COMBINES, "sync_combine", f"must be one of {', '.join(COMBINES)}")
    need(c.transport in TRANSPORTS, "transport", f"must be one of {', '.join(TRANSPORTS)}")
    need(c.wire in WIRES, "wire", f"must be one of {', '.join(WIRES)}")
    need(1.0 <= c.exchange_timeout <= 86_400, "exchange_timeout", "must be between 1 and 86400 seconds")
    need(c.eval_cpus > 0, "eval_cpus", "must be > 0")
    need(c.eval_gpus >= 0, "eval_gpus", "must be >= 0")
    # Hierarchical softmax's output rows are the nodes of a Huffman tree of the vocabulary: a grown vocabulary
    # builds another tree, so the parent's rows would mean nothing. Negative sampling's rows are words.
    need(not (c.save_training_state or c.init_from) or not c.hs, "hs",
         "continuing from an artifact needs negative sampling (hs: false): hierarchical softmax's tree changes "
         "with the vocabulary")
    need(c.init_from is None or (bool(c.init_from) and c.init_from.rstrip("/") != c.out.rstrip("/")), "init_from",
         "give a parent artifact other than --out")
    need(c.init_from_sha256 is None or (c.init_from is not None and re.fullmatch(r"[0-9a-fA-F]{64}", c.init_from_sha256)
                                         is not None), "init_from_sha256",
         "must be the 64 hex digits of a manifest's sha256, with init_from")
    need(c.projector_top >= 0, "projector_top", "must be >= 0 (0 = no projector files)")
    need(c.name is None or (0 < len(c.name) <= 100 and c.name.isprintable()), "name",
         "must be 1 to 100 printable characters")
    bad_tag = next((t for t in c.tags if not TAG.fullmatch(t)), None)
    if bad_tag is not None:
        raise ConfigError(f"tags: {shown(bad_tag)} is not a tag: 1 to 50 letters, digits and _ . : / - "
                          f"(starting with a letter or digit)")
    need(len(c.tags) <= 50 and len(set(c.tags)) == len(c.tags), "tags", "at most 50 tags, each given once")
    need(c.license is None or bool(LICENSE.fullmatch(c.license)), "license",
         "must be a license id as the Hugging Face Hub writes them: lowercase, e.g. apache-2.0, mit, cc-by-4.0, other")
    bad_language = next((code for code in c.language if not LANGUAGE.fullmatch(code)), None)
    if bad_language is not None:
        raise ConfigError(f"language: {shown(bad_language)} is not a language code as the Hugging Face Hub writes "
                          f"them: ISO 639, lowercase, e.g. en, de, fra (or pt-BR, multilingual)")
    need(c.mlflow_uri is None or bool(c.mlflow_uri.strip()), "mlflow_uri", "give a tracking URI or leave it out")


def _validate_phrases(c: TrainConfig, need) -> None:
    """The phrase settings: gensim's own limits, and none of them set without `phrases`."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for key in ("phrase_min_count", "phrase_threshold", "phrase_scoring", "phrase_passes", "phrase_connector_words",
                "phrases_pickle"):
        need(c.phrases or getattr(c, key) == defaults[key], key, "needs phrases: true (--phrases)")
    need(c.phrase_min_count >= 1, "phrase_min_count", "must be at least 1")
    need(c.phrase_scoring in PHRASE_SCORINGS, "phrase_scoring", f"must be one of {PHRASE_SCORINGS}")
    if c.phrase_scoring == "default":
        need(c.phrase_threshold > 0, "phrase_threshold", "must be > 0 with phrase_scoring default (gensim's rule)")
    else:
        need(-1.0 <= c.phrase_threshold <= 1.0, "phrase_threshold",
             "must be in [-1, 1] with phrase_scoring npmi (gensim's rule; the default 10 is for default scoring)")
    need(1 <= c.phrase_passes <= 4, "phrase_passes", "must be between 1 and 4 (2 gives trigrams)")
