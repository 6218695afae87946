"""No silent damage: a model is served only under its own name and interface, a run folder has one
writer, and an interrupted epoch leaves history, best checkpoint and backup in step."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest
from test_cli import run_cli
from test_own_data import write_images

import modelzoo
from modelzoo import atomic, runs
from modelzoo.errors import InvalidValueError, ModelZooError

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def one_line_exit_2(result: subprocess.CompletedProcess, message: str) -> None:
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr, result.stderr


@pytest.mark.slow
def test_a_checkpoint_is_exported_only_under_its_own_name(tmp_path):
    """Item 1: `export mlp_digits --checkpoint <a photo CNN's run>` wrote exp/mlp_digits/2."""
    digits = run_cli("train", "mlp_digits", "--epochs", "1", "--export-dir", "exp", cwd=tmp_path)
    assert digits.returncode == 0, digits.stderr[-2000:]
    write_images(tmp_path / "photos", n=60, shape=(8, 8))
    photos = run_cli("train", "cnn", "--data", "photos", "--epochs", "1", cwd=tmp_path)
    assert photos.returncode == 0, photos.stderr[-2000:]
    (run_dir,) = (tmp_path / "runs" / "cnn_photos").iterdir()
    for name in ("mlp_digits", "mlp"):
        refused = run_cli("export", name, "--checkpoint", str(run_dir), "--export-dir", "exp", cwd=tmp_path)
        one_line_exit_2(refused, f"holds 'cnn_photos', not '{name}'")
    assert sorted(p.name for p in (tmp_path / "exp").iterdir() if p.is_dir()) == ["mlp_digits"]
    assert runs_in(tmp_path / "exp" / "mlp_digits") == ["1"]


def runs_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_the_api_refuses_another_models_name_and_names_that_escape_the_root(tmp_path):
    """Items 1 and 2: the name is the model's own, and one path component."""
    model = modelzoo.build("mlp_digits")
    with pytest.raises(InvalidValueError, match="This model is 'mlp_digits', not 'cnn_digits'"):
        modelzoo.export(model, name="cnn_digits", export_dir=tmp_path / "exp")
    with pytest.raises(InvalidValueError, match="not '../escape'"):
        modelzoo.export(model, name="../escape", export_dir=tmp_path / "exp")
    plain = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)], name="..")
    with pytest.raises(InvalidValueError, match="is not one path component"):
        modelzoo.export(plain, export_dir=tmp_path / "exp")
    assert not (tmp_path / "exp").exists() and not (tmp_path / "escape").exists()


def test_a_new_version_must_answer_the_clients_of_the_last_one(tmp_path):
    """Item 1: a version with other inputs or other classes under the same name is refused."""
    root = write_images(tmp_path / "photos", n=60, shape=(8, 8))
    first = modelzoo.export(
        modelzoo.build("cnn", data=modelzoo.load_files(root)), export_dir=tmp_path / "exp"
    )
    assert first == tmp_path / "exp" / "cnn_photos" / "1"
    shutil.copytree(root / "cat", root / "zebra")  # a fourth class
    four = modelzoo.build("cnn", data=modelzoo.load_files(root))
    with pytest.raises(
        InvalidValueError, match=r"version 2 would not answer the clients of version 1: .*logits"
    ):
        modelzoo.export(four, export_dir=tmp_path / "exp")
    assert runs_in(tmp_path / "exp" / "cnn_photos") == ["1"]


def test_a_second_writer_of_a_run_folder_is_refused_and_a_dead_ones_lock_is_taken_over(tmp_path):
    """Item 8: the same train command twice trained into one folder; now the second is refused."""
    command = ["train", "mlp_digits", "--set", "batch_size=2", "--epochs", "40"]
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen([sys.executable, "-m", "modelzoo.cli", *command], cwd=tmp_path, env=ENV,
                                 stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            deadline = time.monotonic() + 300
            while not list((tmp_path / "runs").glob("*/*/history.json")):
                assert time.monotonic() < deadline and first.poll() is None, (
                    tmp_path / "first.log"
                ).read_text()
                time.sleep(0.1)
            second = run_cli(*command, cwd=tmp_path)
            one_line_exit_2(second, f"is being written by process {first.pid}, which is still running")
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=60)
    (run_dir,) = (tmp_path / "runs" / "mlp_digits").iterdir()
    assert (run_dir / runs.LOCK_FILE).read_text().strip() == str(first.pid), "the dead writer's lock file"
    with runs.lock(run_dir):  # the kernel released the killed process's lock
        assert (run_dir / runs.LOCK_FILE).read_text().strip() == str(os.getpid())


class InterruptHistory(keras.callbacks.Callback):
    """Ctrl-C while the run folder's files for epoch `at` are being written."""

    def __init__(self, at: int, monkeypatch) -> None:
        super().__init__()
        self.at, self.monkeypatch = at, monkeypatch

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if epoch + 1 != self.at:
            return
        real = atomic.write_text

        def interrupted(path: Path, text: str) -> None:
            if path.name == runs.HISTORY_FILE:
                raise KeyboardInterrupt
            real(path, text)

        self.monkeypatch.setattr(atomic, "write_text", interrupted)


def committed_state(run_dir: Path) -> tuple[list[int], int]:
    history = json.loads((run_dir / runs.HISTORY_FILE).read_text())["epoch"]
    return history, runs.committed_epochs(run_dir)


def test_an_interrupted_epoch_is_lost_whole_and_trained_again(tmp_path, monkeypatch):
    """Item 9: backup, history and best checkpoint move together, wherever Ctrl-C lands."""
    run_dir = tmp_path / "run"
    model = modelzoo.build("mlp_digits", epochs=6, patience=20, hidden_units=16)
    interrupt = InterruptHistory(3, monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        modelzoo.fit(model, run_dir=run_dir, verbose=0, extra_callbacks=[interrupt])
    monkeypatch.undo()
    assert committed_state(run_dir) == ([1, 2], 2), "the backup does not run ahead of the history"
    again = modelzoo.build("mlp_digits", epochs=6, patience=20, hidden_units=16)
    history = modelzoo.fit(again, run_dir=run_dir, verbose=0)
    assert history.epoch == [2, 3, 4, 5], "resumed after the last committed epoch"
    saved = json.loads((run_dir / runs.HISTORY_FILE).read_text())
    assert saved["epoch"] == [1, 2, 3, 4, 5, 6] and not runs.is_unfinished(run_dir)
    best = keras.saving.load_model(run_dir / runs.BEST_CHECKPOINT)
    validation = modelzoo.load_dataset("digits", "validation", batch_size=32)
    loss = best.evaluate(validation, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(min(saved["val_loss"]), abs=1e-5), "best.keras holds the best epoch"


def test_staged_files_are_rolled_forward_to_the_commit_and_later_ones_dropped(tmp_path):
    """Item 9, killed between the backup's commit and the rename, or before the commit."""
    (tmp_path / runs.staged_name(Path("best.keras"), 3)).write_text("epoch 3")
    (tmp_path / runs.staged_name(Path("best.keras"), 2)).write_text("epoch 2")
    (tmp_path / runs.staged_name(Path("best.keras"), 4)).write_text("epoch 4, never committed")
    runs.settle_staged(tmp_path, committed=3)
    assert runs_in(tmp_path) == ["best.keras"] and (tmp_path / "best.keras").read_text() == "epoch 3"


def test_tuner_state_is_replaced_whole_and_damaged_state_is_one_line(tmp_path, monkeypatch, cli_here):
    """Item 10: KerasTuner wrote its JSON in place; a kill mid-write left a file the resume failed on."""
    from keras_tuner.src import utils

    from modelzoo.tuning import atomic_tuner_files

    state = tmp_path / "oracle.json"
    state.write_text(json.dumps({"trials": 1}))
    with atomic_tuner_files():
        monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(KeyboardInterrupt):
            utils.save_json(str(state), {"trials": 2})
        monkeypatch.undo()
    assert json.loads(state.read_text()) == {"trials": 1}, "killed before the rename: the old state stands"
    assert [p.name for p in tmp_path.iterdir()] == ["oracle.json"]

    args = ["tune", "mlp_digits", "--max-epochs", "1", "--algorithm", "random", "--trials", "2"]
    assert cli_here(*args, cwd=tmp_path).returncode == 0
    (folder,) = (tmp_path / "runs" / "mlp_digits").glob("tune-*")
    (folder / "best.json").unlink()  # as if killed before the end
    trial = next((folder / "trials").glob("trial_*/trial.json"))
    trial.write_text('{"trial_id": "0", "hyperpar')  # damaged by an older version
    message = (
        f"{trial.relative_to(tmp_path)} is damaged (Unterminated string starting at: line 1 column 19 "
        f"(char 18)): a crash cut it short. Remove {folder.relative_to(tmp_path)} to start again."
    )
    one_line_exit_2(cli_here(*args, cwd=tmp_path), message)


def test_run_folder_errors_are_modelzoo_errors(tmp_path):
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(ModelZooError, match="is damaged"):
        runs.read_json(tmp_path / "config.json")
    assert runs.newest(tmp_path / "none", "*", bool) is None
