"""Every registered entry, text entries included, driven by the registry: it builds, predicts a
batch of what its clients send, and goes end to end (fit, `.keras` round trip, export, TF-only
serving) through the shared helper."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import build_offline, entry_end_to_end, sample_input

import modelzoo

ENTRIES = modelzoo.list_models()
ONE_PER_FAMILY = sorted({modelzoo.describe(name).family: name for name in reversed(ENTRIES)}.values())
"""The end-to-end run is a family's code path; one entry of each takes it (the others differ in
hyperparameters and data, which the build test and the accuracy benchmark cover)."""


@pytest.mark.parametrize("name", ENTRIES)
def test_entry_builds_and_predicts_one_batch(name):
    model = build_offline(name)
    spec = modelzoo.describe(name)
    outputs = model.predict(sample_input(name), verbose=0)
    width = len(spec.class_names) if len(spec.class_names) > 2 else 1
    if spec.family == "bert":
        width = len(spec.class_names)  # keras-hub's classifier gives a logit per class
    assert outputs.shape == (4, width)
    assert np.isfinite(outputs).all()
    if spec.family != "bert":  # keras-hub's model takes token ids; its attached preprocessor takes `text`
        assert [t.name for t in model.inputs] == [i.name for i in spec.inputs]
    if spec.outputs and spec.outputs[0].name == "probability":
        assert ((outputs >= 0) & (outputs <= 1)).all()
    if spec.task == "text_classification":  # SST-2 has phrases with no word in them
        assert np.isfinite(model.predict(["", " , ", "--", "a"], verbose=0)).all()


SLOW_FAMILIES = {"bert"}
"""Families whose end-to-end run takes over 30 s (a BERT fit and export)."""


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.slow) if modelzoo.describe(n).family in SLOW_FAMILIES else n
        for n in ONE_PER_FAMILY
    ],
)
def test_entry_end_to_end(name, tmp_path):
    path = entry_end_to_end(name, tmp_path)
    assert path == tmp_path / "export" / name / "1"
