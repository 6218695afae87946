"""`modelzoo list|describe|train|reproduce|evaluate|export`: the registry from a shell.

`train NAME --data PATH` trains an architecture (`cnn`) or an entry (`cnn_mnist`) on a user's
image folder, table or text file: the data is read and checked, its report printed, before any
folder is made; the run folder also gets `data_report.json` and `splits.json`.

Without `--run-dir`/`--resume`, `train` resumes the newest unfinished run of the same entry and
settings under `--runs-dir` (a crashed run is finished by running the same command again), else
starts a new timestamped run folder.

Errors that are the user's to fix (unknown names, bad overrides, missing data, a folder that
cannot be written) print one line saying what was wrong and exit with status 2, without a
traceback; Ctrl-C prints how to resume and exits with 130. Data is read and checked before a run
folder is made. `--import MODULE` imports a module that registers entries (`modelzoo.register`)
first, so they can be trained from here; `--no-download` never downloads a dataset.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # hide C++ start-up noise (e.g. cuInit on CPUs)


def parse_sets(name: str, pairs: list[str]) -> dict:
    """`--set key=value` pairs, parsed by the type each key has in the entry or recipe."""
    from modelzoo.errors import InvalidValueError
    from modelzoo.fields import parse_value
    from modelzoo.zoo import get_entry

    entry = get_entry(name)
    overrides = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep:
            raise InvalidValueError(f"--set takes key=value, got {pair!r}.")
        key = key.strip()
        overrides[key] = parse_value(key, text.strip(), entry.override_type(key))
    return overrides


def parse_image_size(text: str) -> tuple[int, int]:
    """`28` or `28x28` (height x width)."""
    parts = text.lower().split("x")
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes, default=0) < 1:
        raise argparse.ArgumentTypeError(
            f"expected HEIGHTxWIDTH or SIDE in pixels (e.g. 64x64), got {text!r}"
        )
    return (sizes[0], sizes[-1])


def load_user_data(args: argparse.Namespace):
    """`--data` read with the options given, as the model will take it (an entry's input size):
    the kind of data follows the architecture when the files alone do not say (a CSV is a table
    for mlp, text for rnn)."""
    from modelzoo.data import load_files
    from modelzoo.zoo import get_entry

    entry = get_entry(args.name)
    kind = args.kind or (entry.takes[0] if len(entry.takes) == 1 else None)
    data = load_files(
        args.data,
        target=args.target,
        text_column=args.text_column,
        kind=kind,
        task=args.task,
        image_size=args.image_size,
        drop_duplicates=args.drop_duplicates,
        encoding=args.encoding,
    )
    _, data = entry.info_for(data)
    print(data.summary(), flush=True)
    return data


def refuse_unused_data_dir(info, data_dir: str | None) -> None:
    """--data-dir for a dataset that ships with scikit-learn would be silently ignored."""
    from modelzoo.data import unused_data_dir
    from modelzoo.errors import InvalidValueError

    if data_dir is not None and info.source == "sklearn":
        raise InvalidValueError(unused_data_dir(info.name, data_dir))


def cmd_list(args: argparse.Namespace) -> None:
    from modelzoo.measured import measurements
    from modelzoo.weights import shipped_folder
    from modelzoo.zoo import get_entry, list_architectures, list_models, parameter_count

    names = list_models(
        args.pattern, family=args.family, task=args.task, dataset=args.dataset, max_params=args.max_params
    )
    rows = [("name", "family", "task", "dataset", "params", "target", "measured", "weights")]
    for name in names:
        entry, measured = get_entry(name), measurements().get(name)
        target = str(entry.target).split(" (")[0] if entry.target else "-"
        measured = f"{measured.value:.4f}" if measured else "-"
        weights = "zoo" if shipped_folder(name) else "-"
        rows.append(
            (
                name,
                entry.family,
                entry.task,
                entry.dataset,
                f"{parameter_count(name):,}",
                target,
                measured,
                weights,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print("\nweights zoo: trained weights ship with modelzoo: build(NAME, weights='zoo'), or --weights zoo")
    print(f"Architectures for your own data (train NAME --data PATH): {', '.join(list_architectures())}")


def cmd_describe(args: argparse.Namespace) -> None:
    from modelzoo.zoo import describe

    print(describe(args.name))


def cmd_train(args: argparse.Namespace) -> None:
    from modelzoo import distribute, runs
    from modelzoo.data import data_source
    from modelzoo.errors import InvalidValueError
    from modelzoo.export import check_export_dir
    from modelzoo.tfstartup import devices_initialised_quietly
    from modelzoo.training import run_config, split_of, train_evaluate_export
    from modelzoo.tuning import read_best
    from modelzoo.zoo import build, record_of

    if args.export_dir:
        check_export_dir(Path(args.export_dir))
    overrides = read_best(args.hparams, args.name) if args.hparams else {}
    overrides |= parse_sets(args.name, args.set)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    data = load_user_data(args) if args.data else None
    strategy = distribute.make_strategy(args.strategy)
    devices_initialised_quietly()
    model = build(
        args.name, data=data, data_dir=args.data_dir, strategy=strategy, init_from=args.init_from, **overrides
    )
    record = record_of(model)
    refuse_unused_data_dir(record.info, args.data_dir)
    batch_size = record.recipe.global_batch_size(strategy.num_replicas_in_sync)
    train = split_of(record, "train", batch_size, args.data_dir, seed=record.recipe.seed, model=model)
    val = split_of(record, "validation", batch_size, args.data_dir, model=model)
    if data is None:  # --data runs printed their report; say where a built-in dataset came from
        print(f"Data: {record.info.name} from {data_source(record.info, args.data_dir)}")
    if args.resume is not None and not runs.is_unfinished(Path(args.resume)):
        raise InvalidValueError(f"Nothing to resume in {args.resume}: it holds no unfinished run.")
    run_dir = Path(args.resume or args.run_dir or "")
    if not (args.resume or args.run_dir):
        unfinished = runs.find_unfinished(Path(args.runs_dir), run_config(model, record))
        run_dir = unfinished or runs.new_run_dir(Path(args.runs_dir), record.name)
    runs.RESUMABLE.append(lambda: runs.committed_epochs(run_dir) > 0)
    with runs.lock(distribute.worker_dir(run_dir, strategy)):
        state = "resuming an unfinished run" if runs.is_unfinished(run_dir) else "new"
        print(
            f"Run folder: {run_dir} ({state}; strategy {args.strategy}, "
            f"{strategy.num_replicas_in_sync} replicas)"
        )
        result = train_evaluate_export(
            model,
            train,
            val,
            run_dir,
            args.data_dir,
            args.export_dir,
            verbose=1 if sys.stdout.isatty() else 2,
        )
    print("Test: " + ", ".join(f"{k}={v:.4f}" for k, v in result.metrics.items()))
    if result.report is not None:
        print(result.report.table())
        print("Report: " + ", ".join(str(p) for p in result.written))
    if result.export is not None:
        print(f"Exported: {result.export}")


def cmd_tune(args: argparse.Namespace) -> None:
    from modelzoo.errors import InvalidValueError
    from modelzoo.tuning import tune

    search = {}
    for pair in args.search:
        key, sep, text = pair.partition("=")
        if not sep:
            raise InvalidValueError(
                f"--search takes KEY=RANGE (units=32..256, dropout=0..0.5), got {pair!r}."
            )
        search[key.strip()] = text.strip()
    data = load_user_data(args) if args.data else None
    result = tune(
        args.name,
        trials=args.trials,
        max_epochs=args.max_epochs,
        algorithm=args.algorithm,
        search=search,
        data=data,
        data_dir=args.data_dir,
        runs_dir=args.runs_dir,
        data_arguments=data_arguments(args),
        folds=args.folds,
    )
    print(result.table())
    over = f", the mean over {result.folds} folds" if result.folds > 1 else ""
    print(f"Best {result.objective}: {result.best['score']:.4f} (trial {result.best['trial_id']}{over})")
    print(f"Train with it: {result.command}")
    print(f"  or: modelzoo train {args.name} --hparams {result.folder / 'best.json'}")


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Train each entry with its recipe and hold the result against its target: 1 if any falls short."""
    from modelzoo.errors import InvalidValueError
    from modelzoo.training import quick_entries, reproduce

    if args.quick == bool(args.names):
        raise InvalidValueError("reproduce takes entry names or --quick (the entries that need no download).")
    names = args.names or quick_entries()
    short = []
    for name in names:
        result = reproduce(name, data_dir=args.data_dir)
        verdict = "ok" if result.met else "SHORT"
        print(f"{name:<20} {result.metric} {result.value:.4f}  target {result.target}  {verdict}", flush=True)
        if not result.met:
            short.append(name)
    reached = f"{len(names) - len(short)}/{len(names)} entries reached their target"
    print(f"{reached}; short: {', '.join(short)}" if short else f"{reached}.")
    return 1 if short else 0


def cmd_evaluate(args: argparse.Namespace) -> None:
    from modelzoo import runs
    from modelzoo.training import evaluate
    from modelzoo.zoo import build, get_entry, load_checkpoint, record_of

    folder = None if args.weights else folder_of(Path(args.checkpoint))  # published weights: nothing written
    held = check_checkpoint_name(args.command, args.name, Path(args.checkpoint)) if folder else {}
    data_dir = args.data_dir or held.get("data_dir")
    with runs.lock(folder) if held else contextlib.nullcontext():
        model = build(args.name, weights=args.weights) if args.weights else load_checkpoint(args.checkpoint)
        record = record_of(model) or get_entry(args.name)
        refuse_unused_data_dir(record.info, args.data_dir)
        report = evaluate(model, args.name, split=args.split, data_dir=data_dir, report=True)
        print(f"{args.name} on {args.split}: " + ", ".join(f"{k}={v:.4f}" for k, v in report.metrics.items()))
        print(report.table())
        if folder is not None:
            print("Report: " + ", ".join(str(p) for p in report.write(folder)))


def cmd_export(args: argparse.Namespace) -> None:
    from modelzoo.errors import InvalidValueError
    from modelzoo.export import check_export_dir, export, export_target, version_folder
    from modelzoo.zoo import build, get_entry, load_checkpoint, record_of

    held = check_checkpoint_name(args.command, args.name, Path(args.checkpoint)) if args.checkpoint else {}
    export_dir = Path(args.export_dir or export_target(args.format).default_root)
    check_export_dir(export_dir)
    if args.version is not None:  # refused before the checkpoint is loaded, in the CLI's words
        try:
            version_folder(export_dir, args.name, args.version, args.overwrite)
        except FileExistsError:
            raise InvalidValueError(
                f"{export_dir / args.name / str(args.version)} already exists; pick another "
                "--version, or add --overwrite to replace it."
            ) from None
    if args.weights is not None:
        model = build(args.name, weights=args.weights)
        metrics, evaluation = published_results(args.name, args.weights), None
    else:
        model = load_checkpoint(args.checkpoint)
        if record_of(model) is None:
            get_entry(args.name)
        metrics, evaluation = run_results(Path(args.checkpoint))
    path = export(
        model,
        args.name,
        export_dir,
        format=args.format,
        version=args.version,
        overwrite=args.overwrite,
        metrics=metrics,
        evaluation=evaluation,
        data_dir=args.data_dir or held.get("data_dir"),
    )
    print(f"Exported: {path}")


def published_results(name: str, handle: str) -> dict[str, float] | None:
    """The test figure published weights' manifest states, for the model card."""
    from modelzoo.weights import locate, read_manifest

    path = locate(handle, name)
    if not path.is_dir():
        return None
    metric = read_manifest(path)["metric"]
    return {metric["name"]: metric["value"]}


def cmd_publish(args: argparse.Namespace) -> None:
    from modelzoo.errors import InvalidValueError
    from modelzoo.publish import publish
    from modelzoo.runs import CONFIG_FILE, read_json
    from modelzoo.zoo import load_checkpoint, record_of

    run = Path(args.run)
    if not (run / CONFIG_FILE).is_file():
        raise InvalidValueError(
            f"{run} is not a run folder (no {CONFIG_FILE}): give the folder modelzoo train wrote."
        )
    held = read_json(run / CONFIG_FILE)
    model = load_checkpoint(run)
    record = record_of(model)
    metrics, _ = run_results(run)
    metric = "mae" if record.info.is_regression else "accuracy"
    where = publish(
        model,
        args.to,
        data_dir=args.data_dir or held.get("data_dir"),
        run_value=(metrics or {}).get(metric),
        seeds={record.recipe.seed: metrics[metric]} if metrics and metric in metrics else None,
        command=f"modelzoo train {record.name} (run folder {run.name}), then modelzoo publish",
        float16=args.float16,
        overwrite=args.overwrite,
    )
    print(f"Published: {where}")


def cmd_verify(args: argparse.Namespace) -> int:
    from modelzoo.publish import verify

    result = verify(args.name, args.weights, data_dir=args.data_dir)
    print(result)
    return 0 if result.ok else 1


def check_checkpoint_name(command: str, name: str, checkpoint: Path) -> dict:
    """The run's `config.json` (empty for a bare `.keras` file), after checking that the
    checkpoint holds the model `name` (an entry, or the name its run gave a model of a user's
    data): evaluating or exporting one model under another's name is refused before loading."""
    from modelzoo.errors import InvalidValueError
    from modelzoo.runs import CONFIG_FILE, read_json

    config = folder_of(checkpoint) / CONFIG_FILE
    if not config.is_file():
        return {}
    held = read_json(config)
    own = held.get("model", held.get("entry"))
    if own != name:
        raise InvalidValueError(
            f"{checkpoint} holds {own!r}, not {name!r}; name the model it holds: "
            f"modelzoo {command} {own} --checkpoint {checkpoint}"
        )
    return held


def folder_of(checkpoint: Path) -> Path:
    """The run folder a checkpoint argument names: itself, or the folder holding the `.keras` file."""
    return checkpoint if checkpoint.is_dir() else checkpoint.parent


def data_arguments(args: argparse.Namespace) -> str:
    """The data options given, as `modelzoo train` takes them again."""
    options = ("data", "target", "text_column", "kind", "task", "encoding", "data_dir")
    given = [f"--{k.replace('_', '-')} {getattr(args, k)}" for k in options if getattr(args, k)]
    if args.image_size:
        given.append(f"--image-size {args.image_size[0]}x{args.image_size[1]}")
    return " ".join(given + (["--drop-duplicates"] if args.drop_duplicates else []))


def run_results(checkpoint: Path) -> tuple[dict[str, float] | None, dict | None]:
    """The test metrics and evaluation summary a run folder holds, for the model card."""
    from modelzoo.evaluation import Report

    folder = folder_of(checkpoint)
    metrics = folder / "metrics.json"
    report = folder / "evaluation.json"
    return (
        json.loads(metrics.read_text()).get("test") if metrics.is_file() else None,
        Report.from_dict(json.loads(report.read_text())).summary() if report.is_file() else None,
    )


def add_data_arguments(p: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The options that read a user's files (`--data` and how to read it), for train and tune."""
    own = p.add_argument_group("your own data")
    own.add_argument(
        "--data",
        help="an image folder (root/<class>/*), a table (CSV/TSV/Parquet) "
        "or text (CSV/TSV/JSONL, root/<class>/*.txt)",
    )
    own.add_argument("--target", help="the label column of a table or text file")
    own.add_argument("--text-column", help="the text column of a text file (found when unambiguous)")
    own.add_argument(
        "--kind", choices=("image", "table", "text"), help="what the data is (inferred by default)"
    )
    own.add_argument(
        "--task", choices=("classification", "regression"), help="override what the target suggests"
    )
    own.add_argument(
        "--image-size",
        type=parse_image_size,
        metavar="HxW",
        help="resize images to this (default: the entry's size, else the most common size)",
    )
    own.add_argument(
        "--drop-duplicates", action="store_true", help="drop validation/test examples also found in train"
    )
    own.add_argument(
        "--encoding", help="the text encoding of tables and text files (default: utf-8; latin-1, cp1252, ...)"
    )
    return own


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error in two lines (the usage on one, then the error) instead of the
    whole usage block, so the error is the line a person sees."""

    def error(self, message: str) -> None:
        usage = " ".join(self.format_usage().split())
        usage = usage if len(usage) <= 100 else f"{usage[:96].rsplit(' ', 1)[0]} ..."
        self.exit(2, f"{usage} (--help for all)\n{self.prog}: error: {message}\n")


DATA_DIR_HELP = "folder with local data files, used before any download (default: $MODELZOO_DATA_DIR)"


def make_parser() -> argparse.ArgumentParser:
    """The `modelzoo` parser: global options, then one sub-parser per command (`COMMANDS`)."""
    parser = Parser(prog="modelzoo", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first: its modelzoo.register(...) entries become usable (repeatable)",
    )
    parser.add_argument(
        "--no-download",
        action="store_true",
        help="never download a dataset: fail at once when it is not local (sets MODELZOO_NO_DOWNLOAD=1)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add_command in COMMANDS:
        add_command(sub)
    return parser


def add_list(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", help="list entries, optionally filtered")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. '*mnist*'")
    p.add_argument("--family")
    p.add_argument("--task")
    p.add_argument("--dataset")
    p.add_argument("--max-params", type=int)
    p.set_defaults(func=cmd_list)


def add_describe(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="show an entry's spec, recipe and target")
    p.add_argument("name")
    p.set_defaults(func=cmd_describe)


def add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an entry, or an architecture on your data; writes a run folder")
    p.add_argument(
        "name", help="an entry (cnn_mnist) or, with --data, an architecture (cnn, mlp, rnn, bert, ...)"
    )
    p.add_argument("--epochs", type=int, help="maximum epochs (the recipe's by default)")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    own = add_data_arguments(p)
    own.add_argument(
        "--init-from",
        metavar="SOURCE",
        help="start from the layers that fit of this run folder, .keras file or published weights "
        "(zoo: the entry's own; a new head when the classes differ); "
        "--set freeze_epochs=N trains the new head alone first",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a hyperparameter or recipe field (repeatable)",
    )
    p.add_argument(
        "--hparams",
        metavar="BEST_JSON",
        help="the settings `modelzoo tune` found (its best.json); --set wins",
    )
    p.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs)")
    folder = p.add_mutually_exclusive_group()
    folder.add_argument(
        "--run-dir", help="this run folder (resumed if it holds an unfinished run of the same settings)"
    )
    folder.add_argument("--resume", metavar="RUN_DIR", help="resume this unfinished run folder")
    p.add_argument(
        "--strategy",
        default="default",
        help="tf.distribute strategy: default, mirrored, multi_worker (reads TF_CONFIG) or tpu; "
        "batch_size is per replica",
    )
    p.add_argument("--export-dir", help="also export the trained model as a SavedModel here (chief only)")
    p.set_defaults(func=cmd_train)


def add_tune(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune", help="search hyperparameters with KerasTuner; writes a tune folder and best.json"
    )
    p.add_argument("name", help="an entry, or with --data an architecture")
    p.add_argument("--trials", type=int, default=10, help="most trials to run (default: 10)")
    p.add_argument("--max-epochs", type=int, help="most epochs per trial (default: the recipe's)")
    p.add_argument(
        "--folds",
        type=int,
        help="score each trial by K-fold stratified cross-validation of the training split (default: 5 "
        "when the validation split has under 100 examples, else 1: the validation split)",
    )
    p.add_argument(
        "--algorithm",
        default="hyperband",
        help="hyperband (default), bayesian (Bayesian optimisation) or random",
    )
    p.add_argument(
        "--search",
        action="append",
        default=[],
        metavar="KEY=RANGE",
        help="search KEY over LOW..HIGH (integers; /STEP), LOW..HIGH[:log] (floats) or A,B,C, instead of "
        "the range declared beside the architecture (repeatable)",
    )
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    add_data_arguments(p)
    p.add_argument("--runs-dir", default="runs", help="where tune folders go (default: runs)")
    p.set_defaults(func=cmd_tune)


def add_reproduce(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="train entries with their recipes; exit 1 if one misses its target")
    p.add_argument("names", nargs="*", metavar="NAME")
    p.add_argument("--quick", action="store_true", help="the entries whose data ships with scikit-learn")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.set_defaults(func=cmd_reproduce)


def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="evaluate a checkpoint or published weights on the entry's dataset")
    p.add_argument("name")
    add_model_source(p)
    p.add_argument("--split", default="test", choices=("train", "validation", "test"))
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.set_defaults(func=cmd_evaluate)


def add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a checkpoint or published weights for serving (SavedModel or LiteRT)"
    )
    p.add_argument("name")
    add_model_source(p)
    p.add_argument(
        "--format",
        choices=("savedmodel", "litert"),
        default="savedmodel",
        help="savedmodel: TF Serving's layout (default); litert: a .tflite for the LiteRT interpreter",
    )
    p.add_argument("--export-dir", help="the export root (default: saved_models, or litert_models)")
    p.add_argument("--version", type=int, help="version number (default: next integer)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version")
    p.add_argument("--data-dir", help="where the entry's data is, for warm-up requests from real examples")
    p.set_defaults(func=cmd_export)


def add_publish(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("publish", help="write a run's model as a published folder (or to hf://owner/name)")
    p.add_argument("run", metavar="RUN_DIR", help="the run folder modelzoo train wrote")
    p.add_argument("--to", required=True, help="the folder to write, or hf://owner/name to upload")
    p.add_argument("--data-dir", help="where the entry's data is (default: the run's)")
    p.add_argument("--float16", action="store_true", help="store the weights as float16 (half the size)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing published folder")
    p.set_defaults(func=cmd_publish)


def add_verify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="measure published weights on the test split; exit 1 if they miss")
    p.add_argument("name")
    p.add_argument("--weights", default="zoo", help=WEIGHTS_HELP + " (default: zoo)")
    p.add_argument("--data-dir", help=DATA_DIR_HELP)
    p.set_defaults(func=cmd_verify)


COMMANDS = (
    add_list,
    add_describe,
    add_train,
    add_tune,
    add_reproduce,
    add_evaluate,
    add_export,
    add_publish,
    add_verify,
)


WEIGHTS_HELP = (
    "published weights: zoo (those the package ships), a published folder, https://... or hf://owner/name"
)


def add_model_source(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", help="a .keras file or a run folder")
    source.add_argument("--weights", help=WEIGHTS_HELP)


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)  # --help answers here, before TensorFlow is imported
    from modelzoo.tfstartup import devices_initialised_quietly, import_tensorflow

    import_tensorflow()
    from modelzoo.errors import ModelZooError

    # train sets up its tf.distribute strategy first (collective ops); list reads parameter counts
    # from a table and builds no model, unless a module's own entries must be built to count them.
    if args.command != "train" and (args.command != "list" or args.imports):
        devices_initialised_quietly()

    if args.no_download:
        os.environ["MODELZOO_NO_DOWNLOAD"] = "1"
    try:
        for module in args.imports:
            import_entries(module)
        return args.func(args) or 0
    except ModelZooError as err:
        print(f"modelzoo {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a folder that cannot be written, a path that is a file, ...
        where = f": {err.filename}" if err.filename else ""
        print(f"modelzoo {args.command}: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        unit = {"train": "epoch", "tune": "trial"}.get(args.command)
        from modelzoo.runs import RESUMABLE

        if unit and RESUMABLE and RESUMABLE[-1]():
            again = f"; run the same command again to resume after the last finished {unit}"
        else:
            again = f" before the first {unit} finished; nothing was kept to resume" if unit else ""
        print(f"modelzoo {args.command}: interrupted{again}.", file=sys.stderr)
        return 130


def import_entries(module: str) -> None:
    """Import a user's module (from the working directory too) so its entries register."""
    from modelzoo.errors import ModelZooError

    sys.path.insert(0, os.getcwd())
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ModelZooError(
            f"--import {module}: {err}; give a module importable from here (my_entries)."
        ) from None


if __name__ == "__main__":
    sys.exit(main())
