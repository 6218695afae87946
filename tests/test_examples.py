"""The examples run top to bottom as a reader would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        ("quickstart.py", "SavedModel for TF Serving: saved_models/mlp_digits/1"),
        ("custom_entry.py", "widemlp_digits: Rescaling -> Flatten -> Dense(width) -> Dropout -> logits."),
        ("own_data.py", "SavedModel for TF Serving: saved_models/cnn_digits_my_digits/1"),
        ("evaluate_and_tune.py", "report files: evaluation.json, confusion_matrix.png, mistakes.png"),
    ],
)
def test_example_runs(script, expected, tmp_path):
    assert expected in run_example(script, tmp_path)


def test_finetune_bert_example_runs_on_a_local_preset_and_tsv(hf_bert_dir, sst2_dir, tmp_path):
    args = ["--preset", str(hf_bert_dir[0]), "--data-dir", str(sst2_dir), "--epochs", "1"]
    stdout = run_example("finetune_bert.py", tmp_path, *args)
    assert f"from preset {str(hf_bert_dir[0])!r}" in stdout
    assert "SavedModel for TF Serving: saved_models/bert_sst2/1" in stdout


def run_example(script: str, cwd: Path, *args: str) -> str:
    """Run an example as a reader would; returns its output, which reports test metrics."""
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test: {'accuracy'" in result.stdout
    return result.stdout
