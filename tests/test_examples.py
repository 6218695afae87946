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
    ],
)
def test_example_runs(script, expected, tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert expected in result.stdout
    assert "test: {'accuracy'" in result.stdout
