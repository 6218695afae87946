"""Judge a model as its users do, then search for better settings.

1. Train `mlp_digits` and read its evaluation report: per-class precision, recall and F1 from
   scikit-learn, the confusion matrix, the most confident mistakes.
2. Search its hyperparameters with KerasTuner over the ranges declared beside the MLP builder
   (`@search_space` in modelzoo/models/mlp.py), on validation accuracy.
3. Train with the best settings and compare on test.

Runs anywhere in about a minute (scikit-learn's bundled digits, no download):

    python examples/evaluate_and_tune.py
"""

from pathlib import Path

import modelzoo

# 1. A baseline and its report.
baseline = modelzoo.build("mlp_digits")
modelzoo.fit(baseline, verbose=0)
report = modelzoo.evaluate(baseline, report=True)  # a modelzoo.Report
print(report.table())  # one row per class, and the most confused pairs
print("recall of 8:", round(report.per_class["8"]["recall"], 4))
written = report.write(Path("reports"))  # evaluation.json, confusion_matrix.png, mistakes.png
print("report files:", ", ".join(p.name for p in written))

# 2. The search space lives beside the builder; `search` narrows or replaces a range.
print(modelzoo.describe("mlp_digits").search_space)
result = modelzoo.tune("mlp_digits", trials=4, max_epochs=5, algorithm="random", search={"depth": "1..2"})
print(result.table())
print("best settings:", result.best["settings"])

# 3. Train with them (the CLI does this with `modelzoo train mlp_digits --hparams best.json`).
# Four short trials may well not beat the entry's defaults, which were tuned already: a real search
# takes more trials and epochs (`modelzoo tune mlp_digits --trials 30`).
tuned = modelzoo.build("mlp_digits", **result.best["settings"])
modelzoo.fit(tuned, verbose=0)
metrics = modelzoo.evaluate(tuned)
print("test:", metrics)  # {'accuracy': ..., 'loss': ...}
print(f"test accuracy: baseline {report.accuracy:.4f}, tuned {metrics['accuracy']:.4f}")
