"""Quickstart: a known-good baseline in a dozen lines: build, fit, evaluate, export.

Runs anywhere: `mlp_digits` trains on scikit-learn's bundled 8x8 digits (no download).

    python examples/quickstart.py
"""

import modelzoo

print(modelzoo.list_models("*digits"))  # ['cnn_digits', 'mlp_digits']
print(modelzoo.describe("mlp_digits"))  # architecture, recipe, target accuracy

model = modelzoo.build("mlp_digits", hidden_units=64)  # compiled with the entry's recipe
modelzoo.fit(model, verbose=2)  # its own train/validation splits, early stopping, best weights
print("test:", modelzoo.evaluate(model))  # {'accuracy': ..., 'loss': ...}

path = modelzoo.export(model, export_dir="saved_models")  # saved_models/mlp_digits/<version>/
print("SavedModel for TF Serving:", path)
