"""The `modelzoo` command end to end, as a user runs it: train -> run folder -> evaluate -> export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "modelzoo.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )


@pytest.mark.slow
def test_train_evaluate_export_on_digits(tmp_path):
    trained = run_cli(
        "train",
        "mlp_digits",
        "--epochs",
        "4",
        "--set",
        "hidden_units=32",
        "--export-dir",
        "saved_models",
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    (run_dir,) = (tmp_path / "runs" / "mlp_digits").iterdir()
    files = ("best.keras", "config.json", "history.json", "curves.png", "metrics.json", "evaluation.json")
    for name in (*files, "confusion_matrix.png", "mistakes.png"):
        assert (run_dir / name).is_file(), name
    history = json.loads((run_dir / "history.json").read_text())
    assert history["epoch"] == [1, 2, 3, 4]
    config = json.loads((run_dir / "config.json").read_text())
    assert config["hyperparameters"]["hidden_units"] == 32 and config["recipe"]["epochs"] == 4
    test_accuracy = json.loads((run_dir / "metrics.json").read_text())["test"]["accuracy"]
    assert "Epoch 4/4" in trained.stdout and f"accuracy={test_accuracy:.4f}" in trained.stdout
    assert (tmp_path / "saved_models" / "mlp_digits" / "1" / "saved_model.pb").is_file()
    report = json.loads((run_dir / "evaluation.json").read_text())
    assert report["examples"] == 359 and "most confused:" in trained.stdout
    card = json.loads((tmp_path / "saved_models/mlp_digits/1/assets.extra/model_card.json").read_text())
    assert card["evaluation"]["accuracy"] == pytest.approx(test_accuracy, abs=1e-6)
    assert set(card["evaluation"]["f1_per_class"]) == {str(d) for d in range(10)}

    evaluated = run_cli(
        "evaluate", "mlp_digits", "--checkpoint", str(run_dir), "--split", "validation", cwd=tmp_path
    )
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert (
        "mlp_digits on validation: accuracy=" in evaluated.stdout and "precision  recall" in evaluated.stdout
    )
    validation = json.loads((run_dir / "evaluation-validation.json").read_text())
    assert validation["split"] == "validation" and (run_dir / "confusion_matrix-validation.png").is_file()

    exported = run_cli("export", "mlp_digits", "--checkpoint", str(run_dir / "best.keras"), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (tmp_path / "saved_models" / "mlp_digits" / "2" / "saved_model.pb").is_file()
    card = json.loads((tmp_path / "saved_models/mlp_digits/2/assets.extra/model_card.json").read_text())
    assert card["evaluation"]["examples"] == 359 and card["metrics"]["accuracy"] == test_accuracy

    again = run_cli("export", "mlp_digits", "--checkpoint", str(run_dir), "--version", "1", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr

    wrong = run_cli("evaluate", "cnn_digits", "--checkpoint", str(run_dir), cwd=tmp_path)
    assert wrong.returncode == 2 and "holds 'mlp_digits', not 'cnn_digits'" in wrong.stderr


def test_list_and_describe(tmp_path):
    listed = run_cli("list", "*digits", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    table, architectures = listed.stdout.strip().split("\n\n")
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["name", "family", "task", "dataset"]
    assert [line.split()[0] for line in lines[1:]] == ["cnn_digits", "mlp_digits"]
    assert lines[0].split()[-1] == "weights" and [line.split()[-1] for line in lines[1:]] == ["zoo", "zoo"]
    import modelzoo

    assert architectures.endswith(f"(train NAME --data PATH): {', '.join(modelzoo.list_architectures())}")
    assert {"cnn", "mlp", "rnn", "bert"} <= set(modelzoo.list_architectures())
    described = run_cli("describe", "mlp_breast_cancer", cwd=tmp_path)
    assert described.returncode == 0
    assert "binary_classifier" in described.stdout and "probability: float32[None, 1]" in described.stdout
    assert "published    ship with modelzoo, weights='zoo': accuracy " in described.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "mlp_digts"], "Did you mean 'mlp_digits'"),
        (["train", "mlp_digits", "--set", "hidden_units=many"], "'hidden_units' expects int, got 'many'"),
        (["train", "mlp_digits", "--set", "epochs=0"], "'epochs' must be > 0"),
        (["train", "mlp_digits", "--set", "lr=0.1"], "Unknown override 'lr' for mlp_digits"),
        (["describe", "nope"], "Unknown model 'nope'"),
    ],
)
def test_bad_input_gets_one_clear_line_and_status_2(args, message, tmp_path, cli_here):
    result = cli_here(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_a_run_folder_names_the_local_files_it_trained_on(sst2_dir, tmp_path, capsys):
    from modelzoo import cli

    run_dir = tmp_path / "run"
    argv = ["train", "rnn_sst2", "--data-dir", str(sst2_dir), "--epochs", "1", "--run-dir", str(run_dir)]
    assert cli.main([*argv, "--set", "embedding_dim=8", "--set", "units=8"]) == 0
    source = json.loads((run_dir / "config.json").read_text())["data_source"]
    assert source == f"local files: {sst2_dir / 'sst2' / 'train.tsv'}, {sst2_dir / 'sst2' / 'dev.tsv'}"
    assert "Test: accuracy=" in capsys.readouterr().out


def test_reproduce_trains_with_the_settings_its_target_is_measured_with(monkeypatch):
    """bert_sst2's anchor is for a pretrained preset: `reproduce` builds with the target's settings
    (here a width), and an override still wins."""
    import dataclasses

    import modelzoo
    from modelzoo import registry
    from modelzoo.training import reproduce

    entry = registry.get_entry("mlp_breast_cancer")
    target = registry.Target("accuracy", 0.96, 0.02, settings={"hidden_units": 8})
    monkeypatch.setitem(registry._REGISTRY, "mlp_breast_cancer", dataclasses.replace(entry, target=target))
    assert "with hidden_units=8" in str(modelzoo.describe("mlp_breast_cancer"))
    width = {
        units: modelzoo.build("mlp_breast_cancer", hidden_units=units).count_params() for units in (4, 8)
    }
    assert reproduce("mlp_breast_cancer", epochs=1).parameters == width[8]
    assert reproduce("mlp_breast_cancer", epochs=1, hidden_units=4).parameters == width[4]


def test_reproduce_holds_an_entry_to_its_target(monkeypatch, capsys):
    import dataclasses

    from modelzoo import cli, registry

    assert cli.main(["reproduce", "mlp_breast_cancer"]) == 0
    assert "1/1 entries reached their target." in capsys.readouterr().out
    entry = registry.get_entry("mlp_breast_cancer")
    short = registry.Target("accuracy", 1.0, 0.0, settings={"epochs": 1})  # one epoch: short either way
    unreachable = dataclasses.replace(entry, target=short)
    monkeypatch.setitem(registry._REGISTRY, "mlp_breast_cancer", unreachable)
    assert cli.main(["reproduce", "mlp_breast_cancer"]) == 1
    out = capsys.readouterr().out
    assert "SHORT" in out and "0/1 entries reached their target; short: mlp_breast_cancer" in out
    assert cli.main(["reproduce"]) == 2
    assert "takes entry names or --quick" in capsys.readouterr().err


def test_help_answers_without_importing_tensorflow():
    code = (
        "import sys\n"
        "from modelzoo.cli import main\n"
        "for argv in (['--help'], ['train', '--help'], ['list', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as done:\n"
        "        assert done.code == 0\n"
        "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))\n"
    )
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "--data-dir" in shown.stdout and shown.stdout.strip().endswith("[]")


def test_list_builds_no_model(tmp_path, monkeypatch):
    from modelzoo import zoo
    from modelzoo.cli import main

    def refuse(entry, *args, **kwargs):
        raise AssertionError(f"list built {entry.name}")

    monkeypatch.setattr(zoo, "instantiate", refuse)
    assert main(["list", "--max-params", "100000"]) == 0
