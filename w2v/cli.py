"""`w2v` command line: train on a Ray cluster (or an embedded one), query an artifact.

    w2v train sample: --out demo-artifact            # embedded Ray, the corpus shipped with gensim
    w2v train s3-or-local-paths... --out DIR --config jobs/sample.yaml --epochs 10
    w2v train --config jobs/sample.yaml --out demo-artifact --dry-run   # the plan only, nothing trained
    w2v train --config jobs/sample.yaml --out demo-artifact --epochs 20 --print-config   # file + flags, as YAML
    w2v submit --address http://HEAD:8265 -- --config jobs/text8.yaml   # a job on a cluster, followed
    w2v neighbors demo-artifact the city war
    w2v eval demo-artifact                          # analogies, word pairs, report.md + pictures
    w2v similarity demo-artifact januari februari ; w2v analogy demo-artifact man king woman
    w2v info demo-artifact ; w2v verify demo-artifact

The CLI is the only place (with `jobs/`) that configures logging and starts Ray. Every W2VError
becomes one line on stderr and its family's exit code (`errors.EXIT_CODES`): 2 for bad arguments
or input, 3 for a cluster that cannot be reached or lacks what the job asks for, 4 for a failed
training, 5 for a failed evaluation.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import time
from datetime import datetime, timezone
from typing import Any, Sequence

from . import cluster, procfs
from .collective import TRANSPORTS, WIRES
from .display import printable, redact
from .errors import EXIT_CODES, ConfigError, EvaluationFailedError, StoppedAtOnce, W2VError
from .extras import check, require

logger = logging.getLogger("w2v")

# Flags of `w2v train` that steer the command, not the training: never TrainConfig keys.
COMMAND_FLAGS = ("config", "quiet", "log_format", "command", "func", "dry_run", "print_config",
                 "whole_process")


def _actors(value: str) -> int | None:
    """--actors: a whole number, or auto (None: the forecast chooses, `forecast.choose_actors`)."""
    if value == "auto":
        return None
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number or auto, got {value!r}") from None


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """`w2v train` and `python -m jobs.train` share these flags; absent flags keep YAML/default values.

    Help texts never restate a default: `HelpFormatter` appends TrainConfig's (`choices_help` marks it where a
    choice is itself named "default").
    """
    s = argparse.SUPPRESS
    parser.add_argument("corpus", nargs="*", default=s,
                        help="corpus files, directories (recursive), globs, s3://bucket/prefix (globs within a "
                             "prefix; s3a:// and s3n:// too) or http(s):// URLs; .gz/.bz2/.xz/.zst by extension, "
                             ".zip member by member; 'sample:' is the real text shipped with gensim")
    parser.add_argument("--out", default=s, metavar="DIR",
                        help="required (here or as out: in --config): artifact directory or s3://bucket/prefix "
                             "(refused if it holds files, see --overwrite)")
    parser.add_argument("--config", default=None, help="YAML job config with the same keys; flags override it")
    # model (gensim 4 names and defaults)
    g = parser.add_argument_group("model (gensim 4 names and defaults)")
    g.add_argument("--vector-size", type=int, default=s, help="dimensions per word")
    g.add_argument("--window", type=int, default=s, help="max distance between context and target word")
    g.add_argument("--min-count", type=int, default=s, help="drop words seen fewer times in the corpus")
    g.add_argument("--max-final-vocab", type=int, default=s,
                   help="keep at most this many words, raising min-count like gensim (default: no limit)")
    g.add_argument("--max-vocab-size", type=int, default=s,
                   help="bound of every word-count table while counting: prune rare words like gensim's "
                        "max_vocab_size (default: no bound, exact counts)")
    g.add_argument("--epochs", type=int, default=s, help="passes over the corpus")
    g.add_argument("--sg", action=argparse.BooleanOptionalAction, default=s, help="skip-gram (default: CBOW)")
    g.add_argument("--hs", action=argparse.BooleanOptionalAction, default=s,
                   help="hierarchical softmax")
    g.add_argument("--negative", type=int, default=s, help="negative samples per word, 0 = none")
    g.add_argument("--sample", type=float, default=s, help="downsampling threshold for frequent words")
    g.add_argument("--alpha", type=float, default=s, help="initial learning rate")
    g.add_argument("--min-alpha", type=float, default=s, help="final learning rate")
    g.add_argument("--seed", type=int, default=s, help="random seed of the weights")
    # continuing from an artifact
    g = parser.add_argument_group("continuing from an artifact")
    g.add_argument("--init-from", default=s, metavar="ARTIFACT",
                   help="start from this artifact (written with --save-training-state, local or s3://): its words "
                        "keep their rows and trained weights, new words of this corpus are appended (default: a "
                        "fresh start)")
    g.add_argument("--init-from-sha256", default=s, metavar="HEX",
                   help="refuse an --init-from artifact whose manifest.json has another sha256 (printed at publish)")
    # corpus reading
    g = parser.add_argument_group("corpus reading")
    g.add_argument("--lowercase", action=argparse.BooleanOptionalAction, default=s, help="lowercase all text")
    g.add_argument("--tokenizer", choices=("whitespace", "simple"), default=s,
                   help="whitespace = split lines on whitespace, as gensim's LineSentence; simple = gensim's "
                        "simple_preprocess: lowercase words of 2-15 letters, punctuation and digits dropped")
    g.add_argument("--deaccent", action=argparse.BooleanOptionalAction, default=s,
                   help="with --tokenizer simple: strip accents (cafe for café)")
    g.add_argument("--unicode-errors", choices=("strict", "replace", "ignore", "skip"), default=s,
                   help="non-UTF-8 bytes: strict = fail naming the file and line, replace or ignore them, skip = "
                        "drop the line; lines with bad bytes are counted in the manifest")
    g.add_argument("--on-bad-shard", choices=("fail", "skip"), default=s,
                   help="a corrupt or truncated archive: fail naming it, or skip it (listed in the manifest)")
    g.add_argument("--text-field", default=s, metavar="NAME",
                   help="JSON Lines (.jsonl/.json/.ndjson, compressed too) or Parquet corpora: the field or column "
                        "holding the text, dotted for nested JSON objects (meta.text); refused for plain text (default: none, "
                        "plain text)")
    g.add_argument("--on-bad-line", choices=("fail", "skip"), default=s,
                   help="a JSON line that is not JSON or lacks --text-field, a null Parquet text: fail naming the "
                        "file and line, or skip it (counted in the manifest's bad_lines)")
    g.add_argument("--max-expansion", type=float, default=s, metavar="RATIO",
                   help="a compressed file or zip member may expand to at most RATIO times its compressed bytes "
                        "(+16 MiB); more fails naming it (a zip bomb); real text is 3-4x; 0 = no limit")
    g.add_argument("--shard-bytes", type=int, default=s,
                   help="split uncompressed files into byte ranges of at most this many bytes "
                        "(default: automatic, only when whole files do not balance over the actors)")
    # phrases
    g = parser.add_argument_group("phrases (gensim Phrases' rules and defaults)")
    g.add_argument("--phrases", action=argparse.BooleanOptionalAction, default=s,
                   help="join frequent word pairs into one token (new_york) before counting and training")
    g.add_argument("--phrase-min-count", type=int, default=s, help="gensim Phrases' min_count")
    g.add_argument("--phrase-threshold", type=float, default=s,
                   help="a pair scoring above this is a phrase (npmi: in [-1, 1])")
    g.add_argument("--phrase-scoring", choices=("default", "npmi"), default=s,
                   help=choices_help("phrase_scoring", default="Mikolov et al.'s score",
                                     npmi="normalized pointwise mutual information"))
    g.add_argument("--phrase-passes", type=int, default=s,
                   help="phrase-finding passes: 2 joins phrases again, giving trigrams")
    g.add_argument("--phrase-connector-words", action=argparse.BooleanOptionalAction, default=s,
                   help="gensim's English connector words (of, the, ...) may sit inside a phrase: bank_of_america")
    # S3
    g = parser.add_argument_group("S3 (default: the standard AWS environment, e.g. AWS_ENDPOINT_URL_S3, AWS_PROFILE)")
    g.add_argument("--s3-endpoint-url", default=s, help="S3-compatible endpoint, e.g. http://127.0.0.1:9000")
    g.add_argument("--s3-region", default=s, help="S3 region")
    g.add_argument("--s3-profile", default=s, help="profile of ~/.aws/config to use")
    # cluster
    g = parser.add_argument_group("cluster")
    g.add_argument("--actors", type=_actors, default=s, metavar="K|auto",
                   help="trainer actors, one per node (default auto: the most nodes whose forecast quality is at "
                        "least 0.97 x one node's, said in the plan; a number is obeyed, with a warning "
                        "when its forecast is lower)")
    g.add_argument("--wait-for-nodes", type=float, default=s, metavar="SECONDS",
                   help="wait up to this long for --actors trainer nodes, asking the autoscaler for them, "
                        "instead of failing at once when fewer are alive")
    g.add_argument("--workers", type=int, default=s, help="gensim threads per actor (default: the node's CPUs)")
    g.add_argument("--address", default=s,
                   help="Ray cluster address (default: $RAY_ADDRESS when set, else start Ray embedded)")
    g.add_argument("--sync-words", type=int, default=s, metavar="N",
                   help="words each actor trains between two weight exchanges with 2+ actors, whatever the node's "
                        "speed; 0 = automatic, so that the words the other actors train between two exchanges are "
                        "0.25%% of an epoch"),
    g.add_argument("--sync-combine", choices=("saturation", "adaptive", "sum"), default=s,
                   help="with 2+ actors, how the changes the actors made to the same word's vector since the last "
                        "exchange are merged: saturation = averaged only as far as the word's expected updates "
                        "since its last exchange (from the word counts) could have brought every actor to the same "
                        "place, else as adaptive; adaptive = averaged where the actors moved it the same way, added "
                        "up where their changes are independent; sum = always added up")
    g.add_argument("--sync-tiers", type=int, default=s, metavar="N",
                   help="with 2+ actors, how often rare words' vectors are exchanged: the most frequent half of the "
                        "vocabulary every exchange, each rarer half half as often, in N frequency tiers (the rarest "
                        "every 2**(N-1)-th exchange); 1 = every word every exchange")
    g.add_argument("--spool-dir", default=s,
                   help="local directory where each actor spools its shards for gensim's corpus_file mode "
                        "(default: the system temp dir); needs the node's share of the corpus, uncompressed")
    g.add_argument("--transport", choices=TRANSPORTS, default=s,
                   help="how the actors exchange their changes: collective = gloo allreduces among the actors "
                        "(needs torch's CPU build on every node), the driver out of the rounds; object-store = "
                        "through Ray's object store, the driver running each round (~10x the CPU per exchange); "
                        "auto = collective when torch is installed")
    g.add_argument("--wire", choices=WIRES, default=s,
                   help="the numbers the collective's ring carries: bfloat16 (default) moves half the bytes over "
                        "every link at the same CPU, each value and partial sum rounded to 8 bits of mantissa; "
                        "float32 sums exactly")
    # faults
    g = parser.add_argument_group("faults")
    g.add_argument("--checkpoint-interval", type=float, default=s,
                   help="seconds between checkpoints of the global weights; 0 = none")
    g.add_argument("--checkpoint-dir", default=s, help="where checkpoints go (default: <out>.checkpoint)")
    g.add_argument("--resume", action=argparse.BooleanOptionalAction, default=s,
                   help="continue from the last checkpoint; refused if the parameters or the corpus changed")
    g.add_argument("--max-restarts", type=int, default=s,
                   help="times Ray restarts a dead trainer actor before the job fails")
    g.add_argument("--exchange-timeout", type=float, default=s,
                   help="seconds a collective exchange waits for its slowest actor: a hung actor is found within "
                        "this, a dead one at once")
    # output
    g = parser.add_argument_group("output")
    g.add_argument("--overwrite", action=argparse.BooleanOptionalAction, default=s,
                   help="replace an artifact already at --out")
    g.add_argument("--eval", action=argparse.BooleanOptionalAction, default=s,
                   help="run the TensorFlow evaluation task; --no-eval skips it")
    add_eval_task_arguments(g, defaults=False)
    g.add_argument("--text-vectors", action=argparse.BooleanOptionalAction, default=s,
                   help="also write vectors.txt, the word2vec text format (large)")
    g.add_argument("--kv-pickle", action=argparse.BooleanOptionalAction, default=s,
                   help="also write vectors.kv, gensim's KeyedVectors.save: a pickle, which runs code when loaded, "
                        "so only for consumers who trust the artifact")
    g.add_argument("--phrases-pickle", action=argparse.BooleanOptionalAction, default=s,
                   help="with --phrases: also write phrases-N.pkl, gensim FrozenPhrases of each pass (a PICKLE: "
                        "load only if you trust the artifact)")
    # run identity and tracking
    g = parser.add_argument_group("run identity and tracking")
    g.add_argument("--name", default=s, help="a name for the run: in the manifest, the model card, the MLflow run")
    g.add_argument("--tags", type=comma_list, default=s, metavar="TAG,TAG",
                   help="tags of the run, comma-separated: in the manifest, the model card's tags, the MLflow run")
    g.add_argument("--license", default=s,
                   help="the model card's license, a Hugging Face Hub id such as apache-2.0, cc-by-4.0, mit or other "
                        "(default: none stated)")
    g.add_argument("--language", type=comma_list, default=s, metavar="CODE,CODE",
                   help="the corpus's languages for the model card, ISO 639 codes as the Hub writes them, e.g. en or "
                        "en,de (default: none stated)")
    g.add_argument("--mlflow-uri", default=s, metavar="URI",
                   help="log the job as one MLflow run at this tracking URI, e.g. sqlite:///mlflow.db or "
                        "http://HOST:5000 (needs pip install 'w2v[mlflow]')")
    g.add_argument("--save-training-state", action=argparse.BooleanOptionalAction, default=s,
                   help="also write syn1neg.npy (the output weights) and dropped_counts.tsv (the words below "
                        "min-count), so that a later job can --init-from this artifact")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the config, the output location and the corpus (one counting pass on the "
                             "cluster) and print the plan; train nothing, write nothing")
    parser.add_argument("--print-config", action="store_true",
                        help="print the effective configuration (the --config file with the flags over it) as "
                             "YAML that --config reads back, and exit; the corpus is not read, nothing is started "
                             "or written (the address is left out: it may hold a token)")
    add_logging_arguments(parser)


def choices_help(name: str, **meanings: str) -> str:
    """A choice flag's help: each choice and what it means, TrainConfig's default marked.

    >>> choices_help("on_bad_shard", fail="fail naming it", skip="skip it")
    'fail = fail naming it (default); skip = skip it'
    """
    from .config import TrainConfig

    chosen = getattr(TrainConfig, name)
    return "; ".join(f"{key} = {text}" + (" (default)" if key == chosen else "") for key, text in meanings.items())


def comma_list(text: str) -> tuple[str, ...]:
    """A flag's comma-separated values, spaces around them dropped.

    >>> comma_list("news, baseline")
    ('news', 'baseline')
    """
    return tuple(item.strip() for item in text.split(","))


def add_eval_task_arguments(group, defaults: bool) -> None:
    """The evaluation task's flags, named the same in `w2v train` and `w2v eval`, with TrainConfig's defaults.

    `train` leaves an absent flag out (so a --config file's value stands); `eval` has no file and
    takes the default itself. `eval` also keeps its old names (`--cpus`, `--gpus`, `--seed`).
    """
    from .config import TrainConfig

    old_names = {"eval_cpus": ("--cpus",), "eval_gpus": ("--gpus",), "eval_seed": ("--seed",)} if defaults else {}

    def flag(name: str, kind: type, help: str) -> None:
        value = getattr(TrainConfig, name)
        group.add_argument("--" + name.replace("_", "-"), *old_names.get(name, ()), dest=name, type=kind,
                           default=value if defaults else argparse.SUPPRESS, help=f"{help} (default {value:g})")

    flag("eval_cpus", float, "CPUs of the evaluation task")
    flag("eval_gpus", float, "GPUs of the evaluation task (TensorFlow's CUDA build on that node)")
    flag("eval_seed", int, "seed choosing the evaluation's sample of frequent words")
    flag("projector_top", int, "TensorBoard projector files for this many most frequent words; 0 = none")


def add_logging_arguments(parser: argparse.ArgumentParser) -> None:
    """-q and --log-format, the same on every command: `main` configures logging before any command runs."""
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="warnings and errors only (Ray's start-up lines too)")
    parser.add_argument("--log-format", choices=("text", "json"), default="text",
                        help="log lines as text, or one JSON object per line for log collectors")


def config_from_args(args: argparse.Namespace):
    """The TrainConfig from parsed flags over an optional YAML file."""
    from .config import TrainConfig

    given: dict[str, Any] = {k: v for k, v in vars(args).items() if k not in COMMAND_FLAGS}
    if not given.get("corpus", True):
        given.pop("corpus")  # no positional corpus: keep the YAML's
    if args.config:
        return TrainConfig.from_yaml(args.config, overrides=given)
    return TrainConfig.from_mapping(given, source="command line")


class JsonFormatter(logging.Formatter):
    """One JSON object per log line, for log collectors: time (ISO 8601, UTC), level, logger, message.

    >>> import json
    >>> record = logging.LogRecord("w2v.driver", logging.INFO, __file__, 1, "epoch %d/%d done", (2, 5), None)
    >>> json.loads(JsonFormatter().format(record))["message"]
    'epoch 2/5 done'
    """

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(quiet: bool = False, log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else
                         logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S"))
    redact_log_records()
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, handlers=[handler])
    logging.getLogger("gensim").setLevel(logging.WARNING)
    logging.getLogger("smart_open").setLevel(logging.WARNING)
    logging.getLogger("absl").setLevel(logging.WARNING)  # TensorFlow's INFO lines ("Sharding callback duration")


def redact_log_records() -> None:
    """From now on every log record this process makes has its message redacted (`display.redact`), whoever
    logs it (w2v, Ray, a library) and whichever handler shows it (this one, a test's, a collector's)."""
    make = logging.getLogRecordFactory()
    if getattr(make, "redacts", False):  # once per process, however often logging is configured
        return

    def record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        made = make(*args, **kwargs)
        try:
            made.msg, made.args = redact(made.getMessage()), None
        except Exception:  # noqa: BLE001 - a malformed call is logging's to report, as it would without this
            pass
        return made

    record.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(record)


def cmd_train(args: argparse.Namespace) -> int:
    entered = time.perf_counter()
    config = config_from_args(args)
    if args.print_config:
        import yaml

        print(yaml.safe_dump(config.to_json(), sort_keys=False), end="")
        return 0
    require("ray", "w2v train")  # before the corpus checks: without Ray, say so at once
    require("tqdm", "w2v train")
    if config.eval:  # the evaluation runs after the training: a missing extra is said now, not hours later
        check("matplotlib", "w2v train's evaluation", otherwise="--no-eval")  # the driver draws the pictures
        if not (config.address or os.environ.get("RAY_ADDRESS")):  # embedded Ray: the evaluation task runs here
            check("tensorflow", "w2v train's evaluation", otherwise="--no-eval")
    from . import export, pipeline, progress, report

    # The summary's stages add up to the command's wall time: from the process's start when `w2v train` is
    # what this process runs (the interpreter and w2v's imports: "start-up"), else from this call.
    timings: dict[str, float] = {}  # stage -> seconds; pipeline.run adds its own stages
    began = process_started() if args.whole_process else None
    watch = pipeline.Stopwatch(timings, since=began if began is not None else entered)
    if began is not None:
        watch.lap("start-up", until=entered)
    shards = pipeline.preflight(config)  # bad paths and occupied outputs fail before Ray starts
    watch.lap("preflight")  # imports, config, output and corpus checks
    owns_ray = cluster.init_ray(config.address, quiet=args.quiet, log_format=args.log_format)
    watch.lap("ray-start")
    if args.dry_run:
        plan = pipeline.dry_run(config, shards)
        print("\n".join(plan.lines()))
        print(f"dry run: the config is valid, {plan.shards} corpus file(s) were read, and {config.out} can take "
              "the artifact; nothing was trained or written")
        return 0
    with progress.shown(show_progress(args)):  # bars on a terminal; a log line meanwhile goes above them
        result = pipeline.run(config, shards, timings)
    if owns_ray:  # now, not at exit: Ray's shutdown (seconds for an embedded one) is a stage of the job's time
        import ray

        watch = pipeline.Stopwatch(timings)  # from the pipeline's end (its own stopwatches timed the stages before)
        ray.shutdown()
        watch.lap("ray-shutdown")
    m = result.manifest
    summary = report.summary_lines(m.to_json())
    print("\n" + "\n".join(summary[topic] for topic in ("vocabulary", "corpus", "training", "parent") if topic in summary))
    if result.plan.train_seconds:
        print(f"estimated before training: {result.plan.train_seconds:.1f} s of training")
    print("\n".join(format_timings(result.timings)))
    if result.evaluation:
        print(f"{summary['evaluation']}; report: {result.out.rstrip('/')}/{report.REPORT_MD}")
        print("nearest neighbours (cosine):")
        for line in report.format_neighbors(result.evaluation["neighbors"]):
            print("  " + line)
    print(f"artifact: {artifact_uri(result.out)}")
    print(f"manifest sha256: {export.manifest_sha256(result.out)} (pin it: w2v.load(uri, manifest_sha256=...))")
    failed = m.evaluation.error if m.evaluation else None
    if failed:
        print(f"w2v: error: the evaluation failed (the vectors are published): {failed}", file=sys.stderr)
        return EvaluationFailedError.exit_code
    return 0


def show_progress(args: argparse.Namespace) -> bool:
    """Whether `w2v train` shows progress bars (on a terminal): not with -q, nor in JSON logs.

    >>> show_progress(argparse.Namespace(quiet=False, log_format="text"))
    True
    >>> show_progress(argparse.Namespace(quiet=True, log_format="text")), \\
    ...     show_progress(argparse.Namespace(quiet=False, log_format="json"))
    (False, False)
    """
    return not args.quiet and args.log_format == "text"


def process_started() -> float | None:
    """When this process started, on `time.perf_counter`'s clock; None where /proc does not say (not Linux).

    /proc gives the start in seconds after boot, on CLOCK_BOOTTIME's clock (`procfs.started_after_boot`).
    """
    started = procfs.started_after_boot()
    if started is None or not hasattr(time, "CLOCK_BOOTTIME"):
        return None
    age = time.clock_gettime(time.CLOCK_BOOTTIME) - started
    return time.perf_counter() - max(age, 0.0)  # ticks are 10 ms: never after now


def format_timings(timings: dict[str, float]) -> list[str]:
    """Seconds per stage and their share of the total, one line each.

    >>> format_timings({"list": 1.0, "train": 3.0})
    ['timings:', '  list          1.0 s   25%', '  train         3.0 s   75%', '  total         4.0 s']
    """
    total = sum(timings.values())
    width = max([10, *map(len, timings)])  # "ray-shutdown" is longer than the others
    lines = ["timings:"]
    lines += [f"  {stage:<{width}} {seconds:6.1f} s  {100 * seconds / max(total, 1e-9):3.0f}%"
              for stage, seconds in timings.items()]
    lines.append(f"  {'total':<{width}} {total:6.1f} s")
    return lines


def artifact_uri(out: str) -> str:
    """Where the artifact is, absolute, and on which host: a job's log is read far from its working directory."""
    import socket

    from . import pipeline, storage

    location = pipeline.artifact_location(out)
    return location if storage.local_path(out) is None else f"{location} (on {socket.gethostname()})"


def cmd_submit(args: argparse.Namespace) -> int:
    from . import submit

    train_args = list(args.train_args)
    if train_args[:1] == ["--"]:
        train_args = train_args[1:]
    if not train_args:
        raise ConfigError("give the training arguments after --, e.g. w2v submit -- --config jobs/sample.yaml")
    # Validate the arguments here, with the files of the working directory, before uploading anything.
    parsed = _train_parser().parse_args(train_args)
    if parsed.config and not os.path.isabs(parsed.config):
        parsed.config = os.path.join(args.working_dir, parsed.config)
    config_from_args(parsed)
    bad = [item for item in args.env if "=" not in item]
    if bad:
        raise ConfigError(f"--env {bad[0]!r}: write KEY=VALUE")
    env = dict(item.split("=", 1) for item in args.env)
    for key in filter(submit.looks_secret, env):
        logger.warning("--env %s: Ray keeps --env values in clear text (runtime_env_agent.log, the job's record in "
                       "the dashboard); give the cluster's nodes their credentials instead (README: w2v submit)", key)
    address = submit.job_address(args.address)
    client, job_id = submit.submit(address, train_args, args.working_dir, python=args.python,
                                   submission_id=args.submission_id, env=env)
    shown_address = redact(address)  # a login in the address is the user's own: never printed
    print(f"submitted job {job_id} to {shown_address}")
    print(f"  follow:  ray job logs --address {shown_address} --follow {job_id}")
    print(f"  stop:    ray job stop --address {shown_address} {job_id}")
    if args.no_wait:
        return 0
    try:
        ended = submit.follow(client, job_id)
    except KeyboardInterrupt:
        print(f"\nstopped following; job {job_id} keeps running (stop it with the command above)", file=sys.stderr)
        return 130
    print(f"job {job_id}: {ended.status}")
    if ended.status == "SUCCEEDED":
        return 0
    # The last line is the job's error, as a local `w2v train` would end, not Ray's log-stream chatter.
    print(f"w2v: error: job {job_id} {ended.status}: {printable(ended.error or 'no error line in its log')}",
          file=sys.stderr)
    return submit.exit_code(client, job_id)


def _artifact(args: argparse.Namespace):
    """(words, vectors) of the artifact named on the command line, checksums verified."""
    from .export import load_arrays

    words, _, vectors = load_arrays(args.artifact)
    return words, vectors


def _query(args: argparse.Namespace, words: Sequence[str]):
    """(KeyedVectors, the query words' keys) of the artifact on the command line; notes go to stderr.

    The query commands answer through gensim (`query`), never TensorFlow: they need the core install only.
    """
    from . import query
    from .export import load

    kv = load(args.artifact)
    found = query.lookup(kv, words, args.artifact)
    for note in found.notes:
        print(f"w2v: note: {note}", file=sys.stderr)
    return kv, found.keys


def cmd_neighbors(args: argparse.Namespace) -> int:
    from .query import neighbors
    from .report import neighbors_text

    kv, keys = _query(args, args.words)
    for key in keys:
        print(f"{printable(key)}: " + neighbors_text(neighbors(kv, key, args.k)))
    return 0


def cmd_similarity(args: argparse.Namespace) -> int:
    from .query import similarity

    kv, (a, b) = _query(args, [args.a, args.b])
    print(f"{similarity(kv, a, b):.4f}")
    return 0


def cmd_analogy(args: argparse.Namespace) -> int:
    from .query import analogy
    from .report import neighbors_text

    kv, (a, b, c) = _query(args, [args.a, args.b, args.c])
    found = analogy(kv, a, b, c, k=args.k, method=args.method)
    print(" : ".join(map(printable, (a, b))) + f" :: {printable(c)} : "
          + neighbors_text(found))
    return 0


def cmd_doesnt_match(args: argparse.Namespace) -> int:
    from .query import doesnt_match

    kv, keys = _query(args, args.words)
    print(printable(doesnt_match(kv, keys)))
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate an artifact and publish eval.json, report.md and pictures into it.

    On a Ray cluster (`--address` or $RAY_ADDRESS) the evaluation is a separate Ray task with its
    own CPUs or GPU, as in a training job; without one it runs in this process.
    """
    from . import export, report
    from .evaluation import stage as eval_stage

    require("matplotlib", "w2v eval")  # the pictures are drawn here, wherever the evaluation runs
    manifest = export.read_manifest(args.artifact)
    words, vectors = _artifact(args)
    settings = eval_stage.EvalSettings(seed=args.eval_seed, cpus=args.eval_cpus, gpus=args.eval_gpus,
                                       projector_top=args.projector_top, analogies=tuple(args.analogies),
                                       pairs=tuple(args.pairs), restrict_vocab=args.restrict_vocab)
    on_cluster = bool(args.address or os.environ.get("RAY_ADDRESS"))
    if on_cluster:
        import numpy as np

        require("ray", "w2v eval on a Ray cluster")
        cluster.init_ray(args.address, quiet=args.quiet, log_format=args.log_format)
        # A plain array view of the memmap: Ray copies an ndarray's buffer zero-copy, a subclass it pickles.
        vectors = np.asarray(vectors)
    outcome = eval_stage.run_evaluation(vectors, words, settings, in_ray_task=on_cluster)
    published = eval_stage.publish(args.artifact, outcome, manifest, words, vectors)
    print("\n".join(report.evaluation_lines(outcome.evaluation)))
    print(f"report: {args.artifact.rstrip('/')}/{report.REPORT_MD} ({', '.join(published)})")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from .export import read_manifest
    from .report import describe

    print("\n".join(describe(read_manifest(args.artifact))))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from .export import manifest_sha256, verify
    from .manifest import Manifest

    files = Manifest.from_json(verify(args.artifact, args.manifest_sha256)).files
    print(f"{args.artifact}: {len(files)} file(s), {sum(f['bytes'] for f in files.values()):,} bytes: "
          f"every sha256 matches manifest.json (sha256 {manifest_sha256(args.artifact)})")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from .export import manifest_sha256, republish

    republish(args.artifact, args.out, args.overwrite)
    print(f"artifact: {artifact_uri(args.out)}")
    print(f"manifest sha256: {manifest_sha256(args.out)}")
    return 0


class HelpFormatter(argparse.HelpFormatter):
    """Every flag's default in its help, once: the help's own words when it says it ("(default 5)", "default:
    every node"), else " (default: X)" from the parser or, for `w2v train`'s flags (absent unless given, so that
    a --config file's value stands), from TrainConfig; booleans as on/off. Switches (`--dry-run`) and flags
    without a default (`--name`) get none.

    >>> parser = argparse.ArgumentParser(formatter_class=HelpFormatter)
    >>> _ = parser.add_argument("--window", default=argparse.SUPPRESS, help="context size")
    >>> "context size (default: 5)" in parser.format_help()
    True
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        from .config import TrainConfig

        text = action.help or ""
        default = action.default
        if default is argparse.SUPPRESS:
            default = getattr(TrainConfig, action.dest, None)
        if ("default" in text or not action.option_strings or default in (None, (), [])
                or (action.nargs == 0 and not isinstance(action, argparse.BooleanOptionalAction))):
            return text
        shown = ("on" if default else "off") if isinstance(default, bool) else (
            f"{default:g}" if isinstance(default, float) else str(default))
        return f"{text} (default: {shown.replace('%', '%%')})"  # the text is argparse's already, % escaped


TRAIN_USAGE = "%(prog)s [CORPUS ...] --out DIR [--config JOB.yaml] [options]"  # --out: a flag or `out:` in JOB.yaml


def _train_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="w2v train", usage=TRAIN_USAGE, formatter_class=HelpFormatter)
    add_train_arguments(p)
    return p


def build_parser() -> argparse.ArgumentParser:
    from .evaluation.sets import DEFAULT_ANALOGIES, DEFAULT_PAIRS, DEFAULT_RESTRICT_VOCAB
    from .submit import DEFAULT_ADDRESS

    from .version import __version__

    parser = argparse.ArgumentParser(prog="w2v", description="Distributed word2vec training on Ray with gensim.",
                                     epilog="exit codes: 0 success; " + "; ".join(f"{code} {meaning}" for code, meaning
                                                                              in EXIT_CODES.items()))
    parser.add_argument("--version", action="version", version=f"w2v {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("train", help="train vectors and write an artifact", usage=TRAIN_USAGE,
                       formatter_class=HelpFormatter)
    add_train_arguments(p)
    p.set_defaults(func=cmd_train)

    def query(name: str, help: str, func) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, formatter_class=HelpFormatter)
        p.add_argument("artifact", help="artifact directory or URI")
        add_logging_arguments(p)
        p.set_defaults(func=func)
        return p

    p = query("eval", "evaluate an artifact (TensorFlow) and publish eval.json, report.md and pictures into it",
              cmd_eval)
    p.add_argument("--analogies", nargs="+", default=[DEFAULT_ANALOGIES],
                   help="analogy files in questions-words.txt format (default: gensim's copy)")
    p.add_argument("--pairs", nargs="+", default=list(DEFAULT_PAIRS),
                   help="word-pair files, word<TAB>word<TAB>score (default: gensim's wordsim353.tsv simlex999.txt)")
    p.add_argument("--restrict-vocab", type=int, default=DEFAULT_RESTRICT_VOCAB,
                   help="only this many most frequent words count, as in gensim (default %(default)s)")
    p.add_argument("--address", help="run the evaluation as a Ray task on this cluster "
                                      "(default: $RAY_ADDRESS when set, else in this process)")
    add_eval_task_arguments(p, defaults=True)
    p = query("neighbors", "nearest words of some words in an artifact (cosine)", cmd_neighbors)
    p.add_argument("words", nargs="+", help="words to look up")
    p.add_argument("-k", type=int, default=8, help="neighbours per word")
    p = query("similarity", "cosine similarity of two words", cmd_similarity)
    p.add_argument("a", help="a word")
    p.add_argument("b", help="another word")
    p = query("analogy", "a is to b as c is to ...?, e.g. man king woman: queen", cmd_analogy)
    p.add_argument("a", help="the first word of the known pair (man)")
    p.add_argument("b", help="the second word of the known pair (king)")
    p.add_argument("c", help="the word whose counterpart is asked for (woman)")
    p.add_argument("-k", type=int, default=5, help="answers to show")
    p.add_argument("--method", choices=("3CosAdd", "3CosMul"), default="3CosAdd",
                   help="3CosAdd = the words nearest b - a + c; 3CosMul = Levy and Goldberg's multiplicative "
                        "form, less swayed by one large similarity")
    p = query("doesnt-match", "the word that goes least with the others", cmd_doesnt_match)
    p.add_argument("words", nargs="+", help="two or more words")
    query("info", "print an artifact's manifest as a readable summary", cmd_info)
    p = query("verify", "re-check every file of an artifact against the manifest's sha256", cmd_verify)
    p.add_argument("--manifest-sha256", default=None, help="also refuse a manifest.json with another sha256 "
                                                           "(the one printed when the artifact was published)")
    p = query("publish", "publish an artifact or a rescue copy again at --out, every format rebuilt", cmd_publish)
    p.add_argument("--out", required=True, help="artifact directory or s3://bucket/prefix")
    p.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    p = sub.add_parser("submit", help="run `python -m jobs.train ARGS` as a Ray job and follow its logs",
                       description="Validates the training arguments here, uploads the working directory, "
                                   "submits the job, prints its logs until it ends; exits with the job's "
                                   "code: 0 when it SUCCEEDED, train's codes when it failed, 1 when stopped.")
    p.add_argument("--address", default=None,
                   help=f"Ray Jobs API (dashboard) address (default: $RAY_API_SERVER_ADDRESS, else {DEFAULT_ADDRESS})")
    p.add_argument("--working-dir", default=".", help="directory uploaded with the job (this repository)")
    p.add_argument("--python", default="python", help="the Python that runs the job on the head node")
    p.add_argument("--submission-id", default=None, help="job id to use (default: Ray picks one)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="environment variable for the job and its actors (repeatable)")
    p.add_argument("--no-wait", action="store_true", help="print the job id and return without following")
    add_logging_arguments(p)
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="-- then the arguments of `w2v train`")
    p.set_defaults(func=cmd_submit)
    return parser


def resume_command(argv: Sequence[str]) -> str:
    """The command that continues a stopped `w2v train ARGS`: the same arguments and --resume.

    >>> resume_command(["train", "s3://b/corpus/", "--out", "s3://b/art", "--epochs", "5"])
    'w2v train s3://b/corpus/ --out s3://b/art --epochs 5 --resume'
    """
    args = list(argv)
    return "w2v " + shlex.join(args + ([] if "--resume" in args else ["--resume"]))


def main(argv: Sequence[str] | None = None, whole_process: bool | None = None) -> int:
    """Run one `w2v` command; its exit code. `whole_process` (default: when `argv` comes from sys.argv) says
    the command is what this process runs, so `w2v train`'s timings start with the process's start-up."""
    whole_process = argv is None if whole_process is None else whole_process
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.whole_process = whole_process
    configure_logging(quiet=args.quiet, log_format=args.log_format)
    try:
        return args.func(args)
    except W2VError as exc:
        cause = getattr(exc, "cause", None)  # raised in a Ray task or actor: the message without Ray's traceback
        error = cause if isinstance(cause, W2VError) else exc
        print(f"w2v: error: {printable(str(error))}", file=sys.stderr)
        if error.resumable and argv[:1] == ["train"]:
            print(f"w2v: continue with: {printable(redact(resume_command(argv)))}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as exc:  # Ctrl-C before training, or a second stop signal during it: one line
        print(f"w2v: error: {exc if isinstance(exc, StoppedAtOnce) else 'stopped by Ctrl-C (SIGINT)'}", file=sys.stderr)
        return getattr(exc, "exit_code", 128 + signal.SIGINT)


if __name__ == "__main__":
    sys.exit(main())
