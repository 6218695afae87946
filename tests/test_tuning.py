"""`modelzoo tune`: KerasTuner over the ranges declared beside each builder, a search that resumes after
SIGKILL without repeating finished trials, best.json that `train --hparams` reads, and clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli import run_cli

import modelzoo
from modelzoo.errors import InvalidTypeError, InvalidValueError, UnknownNameError
from modelzoo.registry import Choice, Float, Int, get_entry
from modelzoo.tuning import search_space_for

TUNE = ["tune", "mlp_digits", "--max-epochs", "2", "--algorithm", "random"]


def test_search_finds_the_best_trial_and_train_takes_its_settings(tmp_path, cli_here):
    result = modelzoo.tune(
        "mlp_digits", trials=3, max_epochs=2, algorithm="random", runs_dir=tmp_path / "runs"
    )
    space = get_entry("mlp_digits").search_space
    assert [t["status"] for t in result.trials] == ["COMPLETED"] * 3
    assert (
        result.best["score"] == max(t["score"] for t in result.trials) and result.objective == "val_accuracy"
    )
    settings = json.loads((result.folder / "best.json").read_text())["settings"]
    assert settings.keys() == space.keys()
    assert space["hidden_units"].values.count(settings["hidden_units"]) == 1
    assert 1e-4 <= settings["learning_rate"] <= 1e-2 and 1 <= settings["depth"] <= 3
    assert result.folder.parent == tmp_path / "runs" / "mlp_digits" and result.folder.name.startswith("tune-")
    assert result.command.startswith("modelzoo train mlp_digits --set learning_rate=")

    trained = cli_here(
        "train", "mlp_digits", "--hparams", str(result.folder / "best.json"), "--set", "depth=1",
        "--epochs", "1", cwd=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-2000:]
    (run_dir,) = (tmp_path / "runs" / "mlp_digits").glob("2*")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["hyperparameters"]["hidden_units"] == settings["hidden_units"]
    assert config["hyperparameters"]["depth"] == 1, "--set wins over --hparams"
    assert config["recipe"]["learning_rate"] == settings["learning_rate"]

    wrong = cli_here("train", "cnn_digits", "--hparams", str(result.folder / "best.json"), cwd=tmp_path)
    assert wrong.returncode == 2 and "tuned for mlp_digits, not cnn_digits" in wrong.stderr


def completed(folder: Path) -> list[str]:
    done = []
    for path in folder.glob("*/mlp_digits/tune-*/trials/trial_*/trial.json"):
        try:
            if json.loads(path.read_text())["status"] == "COMPLETED":
                done.append(path.parent.name)
        except (ValueError, OSError):  # being written
            continue
    return sorted(done)


def test_a_killed_search_resumes_without_repeating_finished_trials(tmp_path):
    command = [sys.executable, "-m", "modelzoo.cli", *TUNE, "--trials", "6"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(command, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 300
        while len(completed(tmp_path)) < 2 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    done_before = completed(tmp_path)
    assert 2 <= len(done_before) < 6, (tmp_path / "first.log").read_text()[-2000:]
    (folder,) = (tmp_path / "runs" / "mlp_digits").glob("tune-*")
    assert not (folder / "best.json").exists()
    values_before = {t: json.loads((folder / "trials" / t / "trial.json").read_text()) for t in done_before}

    second = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-2000:]
    assert f"resuming, {len(done_before)} trials finished" in second.stdout
    assert second.stdout.count("Trial: ") == 6 - len(done_before), "finished trials are not run again"
    assert len(completed(tmp_path)) == 6 and (folder / "best.json").is_file()
    for trial, saved in values_before.items():
        again = json.loads((folder / "trials" / trial / "trial.json").read_text())
        assert again["hyperparameters"]["values"] == saved["hyperparameters"]["values"]
        assert again["score"] == saved["score"]
    assert "Train with it: modelzoo train mlp_digits --set " in second.stdout


def test_a_trial_finished_just_before_a_kill_is_not_run_again(tmp_path, capsys):
    """KerasTuner writes oracle.json before it takes a finished trial off its running ones: a
    search killed between the two reloaded that trial as unfinished and trained it again (seen
    when the test above ran beside another test process)."""
    search = dict(trials=3, max_epochs=1, algorithm="random", runs_dir=tmp_path / "runs")
    first = modelzoo.tune("mlp_digits", **search)
    oracle_file = first.folder / "trials" / "oracle.json"
    oracle = json.loads(oracle_file.read_text())
    last = oracle["end_order"][-1]
    oracle["ongoing_trials"] = {"tuner0": last}  # as it stood on disk between the two writes
    oracle_file.write_text(json.dumps(oracle))
    (first.folder / "best.json").unlink()
    scores = {t["trial_id"]: t["score"] for t in first.trials}
    capsys.readouterr()

    again = modelzoo.tune("mlp_digits", **search)
    out = capsys.readouterr().out
    assert again.folder == first.folder and "resuming, 3 trials finished" in out
    assert "Trial: " not in out, "no trial is trained again"
    assert {t["trial_id"]: t["score"] for t in again.trials} == scores


@pytest.mark.parametrize(
    "args, message",
    [
        (["--trials", "0"], "--trials must be at least 1, got 0"),
        (
            ["--search", "filters=16,32"],
            "Unknown hyperparameter or recipe field 'filters' to search for mlp_digits",
        ),
        (["--search", "dropout=0..1.5"], "dropout=0..1.5 is out of range: dropout must be in [0, 1)"),
        (["--algorithm", "grid"], "Unknown search algorithm 'grid'"),
    ],
)
def test_bad_search_is_one_line_with_status_2_and_nothing_on_disk(args, message, tmp_path, cli_here):
    result = cli_here(*TUNE, *args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_search_ranges_are_checked_against_the_entry():
    entry = get_entry("mlp_digits")
    assert search_space_for(entry, {"hidden_units": "16,32"})["hidden_units"] == Choice((16, 32))
    assert search_space_for(entry, {"depth": "1..4/1"})["depth"] == Int(1, 4)
    assert search_space_for(entry, {"learning_rate": "1e-3..1e-1:log"})["learning_rate"] == Float(
        1e-3, 1e-1, True
    )
    with pytest.raises(InvalidValueError, match="batch_size=0..64 is out of range: 'batch_size' must be > 0"):
        search_space_for(entry, {"batch_size": "0..64"})
    with pytest.raises(InvalidValueError, match="LOW must be below HIGH"):
        search_space_for(entry, {"depth": "3..1"})
    with pytest.raises(InvalidValueError, match="a log scale needs LOW > 0"):
        search_space_for(entry, {"learning_rate": "0..0.1:log"})
    with pytest.raises(InvalidTypeError, match="'hidden_units' expects int"):
        search_space_for(entry, {"hidden_units": "64,wide"})
    with pytest.raises(UnknownNameError, match="Did you mean 'dropout'"):
        search_space_for(entry, {"dropuot": "0..0.5"})


def test_an_architecture_is_tuned_on_a_users_table(tmp_path):
    rows = [
        "size,colour,kind",
        *(f"{i % 7},{'red' if i % 3 else 'blue'},{'big' if i % 7 > 3 else 'small'}" for i in range(90)),
    ]
    (tmp_path / "things.csv").write_text("\n".join(rows) + "\n")
    data = modelzoo.load_files(tmp_path / "things.csv", target="kind")
    result = modelzoo.tune(
        "mlp", data=data, trials=2, max_epochs=1, algorithm="random", runs_dir=tmp_path / "runs",
        data_arguments=f"--data {tmp_path / 'things.csv'} --target kind",
    )  # fmt: skip
    assert result.folder.parent == tmp_path / "runs" / "mlp_things"
    assert result.objective == "val_accuracy" and len(result.trials) == 2
    assert result.command.startswith(
        f"modelzoo train mlp --data {tmp_path / 'things.csv'} --target kind --set "
    )


def write_table(path: Path, rows: int, rare: int | None = None) -> Path:
    """A learnable table: `kind` is big when size > 3; with `rare`, a third class of that many rows."""
    lines = ["size,colour,kind"]
    lines += [f"{i % 7},{'red' if i % 3 else 'blue'},{'big' if i % 7 > 3 else 'small'}" for i in range(rows)]
    lines += [f"{9 + i % 2},green,huge" for i in range(rare or 0)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_small_validation_split_is_replaced_by_stratified_folds(tmp_path, capsys):
    data = modelzoo.load_files(write_table(tmp_path / "things.csv", 150), target="kind")
    assert data.info.splits["validation"] < 100
    result = modelzoo.tune(
        "mlp", data=data, trials=2, max_epochs=2, algorithm="random", runs_dir=tmp_path / "runs"
    )
    out = capsys.readouterr()
    assert result.folds == 5 and json.loads((result.folder / "best.json").read_text())["folds"] == 5
    assert f"the mean of 5-fold stratified cross-validation over the {data.info.splits['train']}" in out.err
    assert out.out.count("Trial done: val_accuracy") == 2  # one mean per trial, not one line per fold
    assert 0.5 <= result.best["score"] <= 1 and "the mean over 5 folds" in result.table()

    plain = modelzoo.tune(
        "mlp", data=data, trials=1, max_epochs=1, algorithm="random", folds=1, runs_dir=tmp_path / "r1"
    )
    assert plain.folds == 1 and "ranking is mostly noise" in capsys.readouterr().err


def test_folds_a_class_cannot_fill_are_refused_before_anything_is_written(tmp_path, cli_here):
    write_table(tmp_path / "things.csv", 150, rare=6)
    result = cli_here("tune", "mlp", "--data", "things.csv", "--target", "kind", "--folds", "6", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "6-fold cross-validation needs 6 training examples of each class; 'huge' has" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()
    zero = cli_here("tune", "mlp", "--data", "things.csv", "--target", "kind", "--folds", "0", cwd=tmp_path)
    assert zero.returncode == 2 and "--folds must be 1 (the validation split) or more, got 0" in zero.stderr


def test_every_value_a_declared_space_can_draw_is_one_its_entry_takes():
    """KerasTuner's `Choice` turns False/True into 0/1, which a bool hyperparameter (`bag`'s
    naive_bayes, `cnn`'s batch_norm) refuses: `tune` of those failed before its first trial."""
    import keras_tuner

    drawn = set()
    for name in modelzoo.list_models():
        entry = get_entry(name)
        for key, declared in entry.search_space.items():
            hp = keras_tuner.HyperParameters()
            default = declared.declare(hp, key)
            for value in (default, *(hp.space[0].random_sample(seed) for seed in range(8))):
                hparams, recipe = entry.resolve({key: value})
                drawn.add((key, hparams.get(key, getattr(recipe, key, None))))
    assert {("naive_bayes", False), ("naive_bayes", True), ("batch_norm", True)} <= drawn


def test_an_entry_whose_data_is_not_at_hand_is_refused_before_a_tune_folder_is_made(tmp_path):
    (tmp_path / "data").mkdir()
    result = run_cli("--no-download", "tune", "rnn_sst2", "--data-dir", "data", cwd=tmp_path)
    assert result.returncode == 2 and "'sst2' is not prepared in data" in result.stderr, result.stderr[-2000:]
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_a_search_that_fails_before_its_first_trial_finishes_leaves_nothing_behind(tmp_path):
    """The entry builds for `train` but not for a value the tuner draws: the first trial fails, and
    the new tune folder, with nothing in it to resume, is removed (as are the folders made for it)."""
    (tmp_path / "my_entries.py").write_text(
        "import modelzoo\n"
        "from modelzoo.errors import InvalidValueError\n"
        "from modelzoo.models.mlp import mlp\n"
        "def picky(info, name, *, hidden_units: int = 8):\n"
        "    if hidden_units != 8:\n"
        "        raise InvalidValueError(f'picky builds 8 hidden units only, not {hidden_units}.')\n"
        "    return mlp(info, name, hidden_units=8)\n"
        "recipe = modelzoo.RECIPES['small_classifier']\n"
        "modelzoo.register('picky_digits', dataset='digits', recipe=recipe)(picky)\n"
    )
    result = run_cli(
        "--import", "my_entries", "tune", "picky_digits", "--search", "hidden_units=16,32", cwd=tmp_path
    )
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "picky builds 8 hidden units only" in result.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "runs").exists()
    folder = result.stdout.split("Tune folder: ")[1].split(" (new)")[0]
    assert f"Tune folder {folder} removed: no trial finished" in result.stdout
