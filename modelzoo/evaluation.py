"""The evaluation report: how a model does per class, which classes it confuses and its most confident
mistakes, as its users judge it. The numbers are scikit-learn's (`classification_report`,
`confusion_matrix`, `roc_auc_score`, `average_precision_score`, regression errors) on the model's
predictions; the pictures are matplotlib's. `evaluate(model, report=True)` returns a `Report`; the CLI
prints `Report.table()` and writes `Report.write(run_dir)`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from modelzoo import atomic
from modelzoo.data import DatasetInfo

MISTAKES = 16
"""How many of the most confident mistakes (largest errors, for regression) a report keeps."""
THRESHOLD = 0.5
"""The decision threshold of a two-class model: its export answers the class whose probability is
higher, so the positive class wins above 0.5."""


@dataclasses.dataclass(frozen=True)
class Mistake:
    """One wrong answer: its position in the split, the true and predicted class names (values, for
    regression), the probability given to the prediction (the absolute error, for regression) and
    the example (a text, a table row, or an image array drawn into `mistakes.png`)."""

    index: int
    true: str | float
    predicted: str | float
    score: float
    example: Any

    def to_dict(self) -> dict[str, Any]:
        shown = {} if isinstance(self.example, np.ndarray) else {"example": self.example}
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "example"} | shown


@dataclasses.dataclass(frozen=True)
class Report:
    """A model's evaluation on one split. Classification: `per_class` (precision, recall, f1-score,
    support per class name), `averages` (macro and weighted), `confusion_matrix` (rows true, columns
    predicted, in `class_names` order) and, for two classes, `binary` (ROC-AUC, PR-AUC, threshold).
    Regression: `regression` (MAE, RMSE, R²). `metrics` are Keras' compiled metrics on the split."""

    name: str
    split: str
    examples: int
    class_names: tuple[str, ...]
    metrics: dict[str, float]
    per_class: dict[str, dict[str, float]]
    averages: dict[str, dict[str, float]]
    confusion_matrix: list[list[int]]
    binary: dict[str, Any] | None
    regression: dict[str, float] | None
    mistakes: tuple[Mistake, ...]
    predictions: tuple[np.ndarray, np.ndarray] | None = dataclasses.field(
        default=None, repr=False, compare=False
    )
    """(true, predicted) per example of a regression, for its plot."""

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Report:
        """A report read back from `evaluation.json` (image mistakes without their pixels)."""
        mistakes = tuple(
            Mistake(**{k: v for k, v in m.items() if k != "example"}, example=m.get("example"))
            for m in saved["mistakes"]
        )
        return cls(**saved | {"class_names": tuple(saved["class_names"]), "mistakes": mistakes})

    def to_dict(self) -> dict[str, Any]:
        """What `evaluation.json` holds."""
        skipped = {"predictions", "mistakes"}
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in skipped}
        return fields | {"mistakes": [m.to_dict() for m in self.mistakes]}

    def summary(self) -> dict[str, Any]:
        """The few numbers a model card quotes."""
        summary: dict[str, Any] = {"split": self.split, "examples": self.examples}
        if self.regression is not None:
            return summary | self.regression
        summary["accuracy"] = self.accuracy
        summary |= {f"{k.split()[0]}_f1": v["f1-score"] for k, v in self.averages.items()}
        summary["f1_per_class"] = {k: v["f1-score"] for k, v in self.per_class.items()}
        summary["most_confused"] = [f"{t} as {p}: {n}" for t, p, n in self.most_confused(3)]
        return summary | (self.binary or {})

    @property
    def accuracy(self) -> float:
        counts = np.asarray(self.confusion_matrix)
        return float(np.trace(counts) / max(counts.sum(), 1))

    def most_confused(self, n: int) -> list[tuple[str, str, int]]:
        """The `n` largest off-diagonal counts: (true class, predicted class, count)."""
        counts = np.asarray(self.confusion_matrix)
        np.fill_diagonal(counts, 0)
        order = np.argsort(counts, axis=None)[::-1][:n]
        pairs = [np.unravel_index(i, counts.shape) for i in order]
        return [
            (self.class_names[t], self.class_names[p], int(counts[t, p])) for t, p in pairs if counts[t, p]
        ]

    def table(self, max_rows: int = 20) -> str:
        """A short text table: the headline numbers, then one row per class (the weakest
        `max_rows` by F1 when there are more)."""
        head = f"{self.name} on {self.split} ({self.examples} examples): "
        if self.regression is not None:
            return head + ", ".join(f"{k}={v:.4g}" for k, v in self.regression.items())
        lines = [
            head + f"accuracy={self.accuracy:.4f}, macro F1={self.averages['macro avg']['f1-score']:.4f}"
        ]
        if self.binary and self.binary["roc_auc"] is None:
            lines[0] += ", ROC-AUC and PR-AUC undefined (one class among the labels)"
        elif self.binary:
            lines[0] += (
                f", ROC-AUC={self.binary['roc_auc']:.4f}, PR-AUC={self.binary['pr_auc']:.4f} "
                f"(positive {self.binary['positive']!r}, threshold {self.binary['threshold']})"
            )
        width = max(len("class"), *(len(c) for c in self.class_names))
        rows = sorted(self.per_class.items(), key=lambda kv: kv[1]["f1-score"])[:max_rows]
        if len(rows) == len(self.per_class):
            rows = list(self.per_class.items())
        else:
            lines.append(f"the {max_rows} classes of {len(self.per_class)} with the lowest F1:")
        lines.append(f"{'class':<{width}}  precision  recall  f1      support")
        for name, s in rows:
            numbers = f"{s['precision']:9.4f}  {s['recall']:6.4f}  {s['f1-score']:6.4f}  {int(s['support'])}"
            lines.append(f"{name:<{width}}  {numbers}")
        confused = self.most_confused(3)
        if confused:
            lines.append("most confused: " + "; ".join(f"{t} as {p} ({n})" for t, p, n in confused))
        return "\n".join(lines)

    def write(self, folder: Path) -> list[Path]:
        """Write `evaluation.json`, and `confusion_matrix.png` with `mistakes.png` (images) or
        `mistakes.json` (texts, rows), or `predicted_vs_true.png` (regression), each atomically;
        a split other than test gets its name in the file names. Returns the paths written."""
        suffix = "" if self.split == "test" else f"-{self.split}"
        path = Path(folder) / f"evaluation{suffix}.json"
        atomic.write_text(path, json.dumps(self.to_dict(), indent=2, default=float) + "\n")
        written = [path]
        if self.regression is not None:
            written.append(
                save_figure(scatter_figure(*self.predictions), folder / f"predicted_vs_true{suffix}.png")
            )
            return written
        written.append(save_figure(confusion_figure(self), folder / f"confusion_matrix{suffix}.png"))
        if self.mistakes and isinstance(self.mistakes[0].example, np.ndarray):
            written.append(save_figure(mistakes_figure(self.mistakes), folder / f"mistakes{suffix}.png"))
        else:
            path = folder / f"mistakes{suffix}.json"
            atomic.write_text(path, json.dumps([m.to_dict() for m in self.mistakes], indent=2) + "\n")
            written.append(path)
        return written


def probabilities(outputs: np.ndarray) -> np.ndarray:
    """Class probabilities from a head's output, as the export computes them: one sigmoid unit
    gives [1 - p, p]; several units are logits."""
    if outputs.shape[-1] == 1:
        return np.concatenate([1.0 - outputs, outputs], axis=1)
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def classification_scores(
    labels: np.ndarray, probs: np.ndarray, class_names: tuple[str, ...]
) -> dict[str, Any]:
    """scikit-learn's per-class and averaged precision, recall and F1, its confusion matrix and,
    for two classes, ROC-AUC and PR-AUC of the positive (second) class."""
    from sklearn import metrics

    predicted = probs.argmax(axis=1)
    indices = list(range(len(class_names)))
    scores = metrics.classification_report(
        labels, predicted, labels=indices, target_names=list(class_names), output_dict=True, zero_division=0
    )
    binary = None
    if len(class_names) == 2:
        both = len(np.unique(labels)) == 2  # AUCs need both classes among the labels
        binary = {
            "positive": class_names[1],
            "threshold": THRESHOLD,
            "roc_auc": float(metrics.roc_auc_score(labels, probs[:, 1])) if both else None,
            "pr_auc": float(metrics.average_precision_score(labels, probs[:, 1])) if both else None,
        }
    return {
        "per_class": {name: scores[name] for name in class_names},
        "averages": {k: scores[k] for k in ("macro avg", "weighted avg")},
        "confusion_matrix": metrics.confusion_matrix(labels, predicted, labels=indices).tolist(),
        "binary": binary,
    }


def regression_scores(targets: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """scikit-learn's MAE, RMSE and R²."""
    from sklearn import metrics

    return {
        "mae": float(metrics.mean_absolute_error(targets, predicted)),
        "rmse": float(metrics.root_mean_squared_error(targets, predicted)),
        "r2": float(metrics.r2_score(targets, predicted)),
    }


def report(
    model: keras.Model,
    info: DatasetInfo,
    batches: tf.data.Dataset | Iterable[tuple[Any, Any]],
    split: str,
    metrics: dict[str, float],
    name: str | None = None,
    raw: Callable[[int], Any] | None = None,
) -> Report:
    """Predict every batch of a split once, keeping labels, outputs and only the examples that are
    (so far) among the `MISTAKES` most confident mistakes, so a large split never sits in memory.
    `raw` gives the example of a split's row as the files hold it (a table row with its missing
    cells as None, not the train median the model saw)."""
    labels, outputs, kept = [], [], []
    seen = 0
    order = getattr(batches, "example_order", None)  # texts are served sorted by length
    for features, y in batches:
        out = np.asarray(model.predict_on_batch(features), dtype=np.float64)
        y = np.asarray(y).reshape(len(out), -1)[:, 0]
        labels.append(y)
        outputs.append(out)
        if info.class_names:
            probs = probabilities(out)
            wrong = np.flatnonzero(probs.argmax(axis=1) != y)
            badness = probs[wrong].max(axis=1)
        else:
            wrong = np.arange(len(out))
            badness = np.abs(out[:, 0] - y)
        kept += [(float(b), seen + int(i), example_at(features, int(i))) for b, i in zip(badness, wrong)]
        kept = sorted(kept, key=lambda k: -k[0])[:MISTAKES]
        seen += len(out)

    def row(served: int) -> int:
        """The split's row of the n-th example served."""
        return served if order is None else int(order[served])

    if raw is not None:
        kept = [(score, i, raw(row(i))) for score, i, _ in kept]

    y_all = np.concatenate(labels) if labels else np.zeros(0)
    out_all = np.concatenate(outputs) if outputs else np.zeros((0, max(len(info.class_names), 1)))
    predicted = None
    if info.class_names:
        probs = probabilities(out_all)
        scores = classification_scores(y_all.astype(np.int64), probs, info.class_names)
        regression = None
        names = info.class_names
        mistakes = tuple(
            Mistake(row(i), names[int(y_all[i])], names[int(probs[i].argmax())], score, example)
            for score, i, example in kept
        )
    else:
        predicted = out_all[:, 0]
        scores = {"per_class": {}, "averages": {}, "confusion_matrix": [], "binary": None}
        regression = regression_scores(y_all, predicted)
        mistakes = tuple(Mistake(row(i), float(y_all[i]), float(predicted[i]), s, ex) for s, i, ex in kept)
    return Report(
        name=name or model.name,
        split=split,
        examples=int(len(y_all)),
        class_names=tuple(info.class_names),
        metrics=metrics,
        regression=regression,
        mistakes=mistakes,
        predictions=None if predicted is None else (y_all, predicted),
        **scores,
    )


def example_at(features: Any, i: int) -> Any:
    """Example `i` of a batch as a person reads it: a text, a row {column: value}, or an image."""
    if isinstance(features, dict):
        return {k: plain(np.asarray(v)[i]) for k, v in features.items()}
    batch = np.asarray(features)
    if batch.ndim >= 3:
        return batch[i]
    return plain(batch[i]) if batch.dtype == object else {"features": batch[i].tolist()}


def plain(value: Any) -> Any:
    """A NumPy scalar or a byte string as JSON has it."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    array = np.asarray(value)
    if array.dtype == np.float32:  # the shortest decimals that read back as the same float32
        array = array.astype(str).astype(np.float64)
    return array.tolist()


def save_figure(fig, path: Path) -> Path:
    with atomic.partial_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    return path


def confusion_figure(report: Report):
    """scikit-learn's `ConfusionMatrixDisplay` of the counts, labelled with the class names."""
    from matplotlib.figure import Figure
    from sklearn.metrics import ConfusionMatrixDisplay

    n = len(report.class_names)
    size = min(max(4.0, 0.5 * n + 2), 40)
    fig = Figure(figsize=(size, size), layout="tight")
    ax = fig.add_subplot()
    display = ConfusionMatrixDisplay(
        np.asarray(report.confusion_matrix), display_labels=list(report.class_names)
    )
    longest = max((len(name) for name in report.class_names), default=0)
    rotation = "vertical" if n > 10 else 45 if longest > 3 else "horizontal"  # "Ankle boot" beside "Bag"
    display.plot(ax=ax, colorbar=False, include_values=n <= 30, xticks_rotation=rotation)
    ax.set_title(f"{report.name} on {report.split} ({report.examples} examples)")
    return fig


def mistakes_figure(mistakes: tuple[Mistake, ...]):
    """The most confident mistakes as a grid of images titled true / predicted (probability)."""
    from matplotlib.figure import Figure

    columns = min(len(mistakes), 4)
    rows = -(-len(mistakes) // columns)
    fig = Figure(figsize=(2.4 * columns, 2.6 * rows), layout="tight")
    for k, m in enumerate(mistakes, start=1):
        ax = fig.add_subplot(rows, columns, k)
        image = np.asarray(m.example, dtype=np.float32)
        if image.max() > 1.0:
            image = image / 255.0
        ax.imshow(
            image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1 else None
        )
        ax.set_title(f"true {m.true}\npredicted {m.predicted} ({m.score:.2f})", fontsize=9)
        ax.axis("off")
    return fig


def scatter_figure(targets: np.ndarray, predicted: np.ndarray):
    """Predicted against true values, with the line where they are equal."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.5, 4.5), layout="tight")
    ax = fig.add_subplot()
    ax.scatter(targets, predicted, s=8, alpha=0.6)
    low, high = float(min(targets.min(), predicted.min())), float(max(targets.max(), predicted.max()))
    ax.plot([low, high], [low, high], color="grey", linewidth=1)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    return fig
