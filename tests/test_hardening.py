"""Every failure is one clear line, fast, and leaves nothing behind; what is written can be read by
a server running as another user; what a run trained on is recorded."""

from __future__ import annotations

import importlib
import json
import os
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest
from test_cli import run_cli

import modelzoo
from modelzoo import atomic
from modelzoo.data.sources import unresolvable
from modelzoo.errors import DataFormatError, DataNotFoundError, ModelZooError
from modelzoo.runs import ResumableEarlyStopping

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def one_line_exit_2(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1] and "Traceback" not in result.stderr, result.stderr[-2000:]


def test_an_unresolvable_download_host_fails_in_seconds():
    start = time.monotonic()
    reason = unresolvable("data.nonexistent.invalid")  # .invalid never resolves (RFC 2606)
    assert reason and "does not resolve" in reason and time.monotonic() - start < 10
    assert unresolvable(None) is None


def test_no_download_fails_at_once_with_the_offline_layout(tmp_path):
    start = time.monotonic()
    result = run_cli("--no-download", "train", "cnn_mnist", cwd=tmp_path)
    one_line_exit_2(result, "downloads are off")
    assert "train-images-idx3-ubyte" in result.stderr and time.monotonic() - start < 60
    assert not (tmp_path / "runs").exists(), "no run folder for a run that cannot start"


def test_offline_advice_for_text_names_the_text_layouts(monkeypatch, tmp_path):
    monkeypatch.setenv("MODELZOO_NO_DOWNLOAD", "1")
    with pytest.raises(DataNotFoundError, match=r"train\.tsv or train\.csv .* aclImdb") as caught:
        modelzoo.load_dataset("sst2", "train", data_dir=tmp_path)
    assert "idx" not in str(caught.value).lower() and ".npz" not in str(caught.value)


def test_data_dir_for_a_scikit_learn_entry_is_refused_and_the_source_recorded(tmp_path, cli_here):
    result = cli_here("train", "mlp_digits", "--data-dir", "nowhere", cwd=tmp_path)
    one_line_exit_2(result, "digits ships with scikit-learn, so data_dir nowhere is not read")
    assert not (tmp_path / "runs").exists()
    result = run_cli("train", "mlp_digits", "--epochs", "1", "--export-dir", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (run_dir,) = (tmp_path / "runs" / "mlp_digits").iterdir()
    assert json.loads((run_dir / "config.json").read_text())["data_source"] == (
        "scikit-learn's bundled digits (no files read)"
    )
    card = json.loads(
        (tmp_path / "out" / "mlp_digits" / "1" / "assets.extra" / "model_card.json").read_text()
    )
    assert card["data_source"] == "scikit-learn's bundled digits (no files read)"
    assert "\x08" not in result.stdout and "━" not in result.stdout, "no progress bars in a piped log"


def test_export_to_a_path_that_is_a_file_is_one_line_and_leaves_nothing(tmp_path, cli_here):
    (tmp_path / "blocker").write_text("a file, not a folder")
    model = modelzoo.build("mlp_digits")
    model.save(tmp_path / "model.keras")
    result = cli_here("export", "mlp_digits", "--checkpoint", "model.keras", "--export-dir", "blocker/models",
                     cwd=tmp_path)  # fmt: skip
    one_line_exit_2(result, "blocker")
    assert (tmp_path / "blocker").read_text() == "a file, not a folder"


def test_failed_export_removes_the_folders_it_made(tmp_path, monkeypatch):
    export_module = importlib.import_module("modelzoo.export.savedmodel")
    monkeypatch.setattr(export_module, "MAX_SERVED_DIFF", -1.0)  # every export fails its check
    with pytest.raises(ModelZooError, match="the export is refused"):
        modelzoo.export(modelzoo.build("mlp_digits"), export_dir=tmp_path / "root")
    assert not (tmp_path / "root").exists()


def test_served_outputs_agree_with_keras_and_the_card_says_so(tmp_path):
    path = modelzoo.export(modelzoo.build("mlp_digits"), export_dir=tmp_path)
    check = json.loads((path / "assets.extra" / "model_card.json").read_text())["served_vs_keras"]
    assert check["max_abs_diff"] <= 1e-5 and check["examples"] == 8 and check["inputs"] == "test examples"


def test_corrupt_imdb_archive_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setenv("MODELZOO_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "imdb").mkdir()
    (tmp_path / "imdb" / "aclImdb_v1.tar.gz").write_bytes(b"\x1f\x8b\x08\x00 truncated")
    with pytest.raises(DataFormatError, match="truncated or not a .tar.gz archive"):
        modelzoo.load_dataset("imdb", "train", data_dir=tmp_path)
    assert not any((tmp_path / "cache").glob("*")) if (tmp_path / "cache").exists() else True


def test_a_header_only_tsv_names_the_empty_split(tmp_path, cli_here):
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "train.tsv").write_text("label\tsentence\n")
    result = cli_here("train", "rnn_sst2", "--data-dir", ".", "--export-dir", "out", cwd=tmp_path)
    one_line_exit_2(result, "the train split of sst2 has no examples")
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


def test_atomic_files_get_the_mode_open_would_give(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "models.config", "model_config_list {}\n")
        modelzoo.fit(modelzoo.build("mlp_digits", epochs=1), run_dir=tmp_path / "run", verbose=0)
    finally:
        os.umask(old)
    for path in (
        tmp_path / "models.config",
        tmp_path / "run" / "config.json",
        tmp_path / "run" / "history.json",
    ):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, path


def test_a_killed_writers_partial_folder_is_swept_by_the_next_write(tmp_path):
    code = f"""
import sys, time
from pathlib import Path
from modelzoo import atomic
with atomic.partial_path(Path({str(tmp_path / "1")!r})) as tmp:
    tmp.mkdir()
    print("writing", flush=True)
    time.sleep(120)
"""
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert child.stdout.readline().strip() == "writing"
        (live,) = [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
        atomic.write_text(tmp_path / "other.txt", "x")
        assert live.exists(), "a live writer's partial folder is left alone"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert live.exists()
    atomic.write_text(tmp_path / "other.txt", "y")
    assert not live.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["other.txt"]


def test_labels_the_head_cannot_learn_are_refused():
    x = np.random.default_rng(0).normal(size=(30, 30)).astype(np.float32)
    with pytest.raises(DataFormatError, match=r"class indices 0..1 \(malignant, benign\), got 0, 1, 2"):
        modelzoo.fit(modelzoo.build("mlp_breast_cancer", epochs=1), (x, np.arange(30) % 3), verbose=0)
    with pytest.raises(DataFormatError, match="must be class indices, got fractions"):
        modelzoo.fit(modelzoo.build("mlp_breast_cancer", epochs=1), (x, np.full(30, 0.5)), verbose=0)
    x = np.random.default_rng(0).integers(0, 255, size=(100, 8, 8, 1), dtype=np.uint8)
    with pytest.raises(DataFormatError, match=r"use 3 of its 10 classes \(0, 1, 2, 3, ...\) in 100 examples"):
        modelzoo.fit(modelzoo.build("mlp_digits", epochs=1), (x, np.arange(100) % 3), verbose=0)


def test_resumed_early_stopping_keeps_its_count(tmp_path):
    model = modelzoo.build("mlp_digits")
    model.save(tmp_path / "best.keras")
    (tmp_path / "history.json").write_text(
        json.dumps({"epoch": [1, 2, 3, 4], "val_loss": [1.0, 0.5, 0.6, 0.7]})
    )
    stopping = ResumableEarlyStopping(tmp_path, monitor="val_loss", patience=3, restore_best_weights=True)
    stopping.set_model(model)
    stopping.on_train_begin()
    stopping.on_epoch_begin(4)
    assert (stopping.best, stopping.best_epoch, stopping.wait) == (0.5, 1, 2)
    assert stopping.best_weights is not None
    stopping.on_epoch_end(4, {"val_loss": 0.8})
    assert model.stop_training, "the third epoch without improvement stops, as without the kill"


@pytest.mark.parametrize("name", [n for n, r in modelzoo.RECIPES.items() if r.schedule == "cosine"])
def test_a_recipe_that_decays_to_zero_runs_every_epoch_and_keeps_the_best(name):
    """A cosine schedule is planned for all its epochs: a plateau (bert_imdb's validation accuracy
    fell by one review of 2,000 at epoch 2) must not stop it before the end."""
    recipe = modelzoo.RECIPES[name]
    model = modelzoo.build("mlp_digits")
    model.evaluate(np.zeros((2, 8, 8, 1)), np.zeros(2), verbose=0)  # builds the metrics it monitors
    (stopping,) = [
        c for c in recipe.make_callbacks(None, has_validation=True) if isinstance(c, ResumableEarlyStopping)
    ]
    stopping.set_model(model)
    stopping.on_train_begin()
    values = [0.9105] + [0.9100] * (recipe.epochs - 2) + [0.9140]
    for epoch, value in enumerate(values):
        stopping.on_epoch_begin(epoch)
        stopping.on_epoch_end(epoch, {recipe.monitor: value if "accuracy" in recipe.monitor else -value})
        assert not model.stop_training, f"{name} stopped after epoch {epoch + 1} of {recipe.epochs}"
    assert stopping.best_epoch == recipe.epochs - 1


def test_unknown_filter_values_suggest_the_close_match(tmp_path, cli_here):
    one_line_exit_2(cli_here("list", "--family", "cnnn", cwd=tmp_path), "Did you mean 'cnn'")


def test_entries_registered_in_a_users_module_are_usable_from_the_cli(tmp_path):
    (tmp_path / "my_entries.py").write_text(
        "import modelzoo\n"
        "from modelzoo.models.mlp import mlp\n"
        "modelzoo.register('tiny_digits', dataset='digits', recipe=modelzoo.RECIPES['small_classifier'],"
        " hidden_units=8)(mlp)\n"
    )
    result = run_cli("--import", "my_entries", "describe", "tiny_digits", cwd=tmp_path)
    assert result.returncode == 0 and "hidden_units=8" in result.stdout, result.stderr[-2000:]
    one_line_exit_2(run_cli("--import", "no_such_module", "list", cwd=tmp_path), "--import no_such_module")


def test_steps_per_execution_never_exceeds_an_epoch():
    model = modelzoo.build("mlp_breast_cancer", batch_size=512)  # 409 examples: one step per epoch
    assert model.steps_per_execution == 1


def interrupted_train(tmp_path, size: int, ready) -> tuple[int, str]:
    """`modelzoo train mlp_digits` (batches of `size`) started as from a terminal, sent SIGINT once
    `ready()` holds: its exit status and stderr. A shell that runs this suite in the background (`pytest &`,
    nohup) starts it with SIGINT ignored, children inherit that, and Python then raises no
    KeyboardInterrupt: the child restores Python's handler. Output goes to files (no pipe to fill)."""
    as_from_a_terminal = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "from modelzoo.cli import main; sys.exit(main())"
    )
    with open(tmp_path / "out.log", "w") as out, open(tmp_path / "err.log", "w") as err:
        child = subprocess.Popen(
            [sys.executable, "-c", as_from_a_terminal, "train", "mlp_digits", f"--set=batch_size={size}"],
            cwd=tmp_path, env={**ENV, "PYTHONUNBUFFERED": "1"}, stdout=out, stderr=err,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while not ready():
                assert time.monotonic() < deadline and child.poll() is None, (
                    tmp_path / "err.log"
                ).read_text()
                time.sleep(0.05)
            child.send_signal(signal.SIGINT)
            child.wait(timeout=120)
        finally:
            child.kill()
    return child.returncode, (tmp_path / "err.log").read_text()


def test_ctrl_c_during_training_says_how_to_resume(tmp_path):
    status, stderr = interrupted_train(
        tmp_path,
        2,
        lambda: bool(list((tmp_path / "runs").glob("*/*/backup/state.json"))),  # epoch 1 committed
    )
    assert status == 130 and "Traceback" not in stderr, stderr[-2000:]
    assert stderr.strip().splitlines()[-1] == (
        "modelzoo train: interrupted; run the same command again to resume after the last finished epoch."
    )


def test_ctrl_c_before_the_first_epoch_is_not_offered_a_resume(tmp_path):
    log = tmp_path / "out.log"
    status, stderr = interrupted_train(
        tmp_path, 1, lambda: log.is_file() and "Run folder:" in log.read_text()
    )
    assert status == 130 and stderr.strip().splitlines()[-1] == (
        "modelzoo train: interrupted before the first epoch finished; nothing was kept to resume."
    ), stderr[-2000:]


def test_tensorflow_start_up_chatter_is_hidden_and_real_errors_are_not(tmp_path, capfd):
    from modelzoo.tfstartup import startup_chatter_hidden

    result = run_cli("list", "*digits", cwd=tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr[-2000:]
    with startup_chatter_hidden():
        os.write(
            2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        )
        os.write(2, b"E0000 00:00:1795643773.618330    7241 cuda_platform.cc:52] failed call to cuInit: x\n")
        os.write(2, b"a real error\n")
    assert capfd.readouterr().err == "a real error\n"
