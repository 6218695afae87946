"""What each dataset is, known without loading it: task, input, classes, split sizes, source.

Every dataset has the same three splits. `validation` is carved from the original training data
(its last 10% for file and TFDS sources, a seeded stratified 10% for scikit-learn ones), so
`test` stays untouched for the number a recipe is judged by.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from modelzoo.errors import unknown_name

VALIDATION_FRACTION = 0.1
TEST_FRACTION = 0.2
"""Share held out as test where the data ships without a test split (scikit-learn tables, a
lone aclImdb train folder)."""


@dataclass(frozen=True)
class Column:
    """One raw input column of a table: `numeric` (normalised in the model) or `string` (looked
    up in the model). `fill` replaces a missing value: the train median, or "" for strings."""

    name: str
    kind: str
    fill: float | str = 0.0

    @property
    def dtype(self) -> str:
        return "string" if self.kind == "string" else "float32"


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's metadata; the model builders read their input and head from it. Built-in
    datasets are listed below; a user's files get one from `modelzoo.load_files`, so everything
    downstream (build, fit, evaluate, export) reads the same description.

    A table with `columns` takes one named input per column (what a TF Serving row request
    holds); otherwise there is one input, `input_name`, of `input_shape`."""

    name: str
    task: str
    input_name: str
    input_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    splits: Mapping[str, int]
    source: str
    description: str
    tfds_name: str | None = None
    tfds_test_split: str = "test"
    download_host: str | None = None
    """Where TFDS downloads it from: checked to resolve first, so offline fails in seconds."""
    columns: tuple[Column, ...] = ()
    licence: str | None = None
    """The data's licence, as published weights' manifests state it; None for a user's files."""

    @property
    def num_classes(self) -> int:
        """Number of classes; 0 for regression."""
        return len(self.class_names)

    @property
    def is_image(self) -> bool:
        return self.task == "image_classification"

    @property
    def is_user_photos(self) -> bool:
        """A user's colour image files: what photo augmentation and an architecture's photo
        settings (`register(..., photos={...})`) are for, unlike built-in data and grey scans."""
        return self.is_image and self.source == "files" and self.input_shape[-1] == 3

    @property
    def is_text(self) -> bool:
        return self.task == "text_classification"

    @property
    def is_regression(self) -> bool:
        return self.num_classes == 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for run folders and model cards; `from_dict` reads it back."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetInfo:
        fields = dict(data)
        fields["input_shape"] = tuple(fields["input_shape"])
        fields["class_names"] = tuple(fields["class_names"])
        fields["columns"] = tuple(Column(**c) for c in fields.get("columns", ()))
        return cls(**fields)


def carve_validation(train: int, test: int) -> dict[str, int]:
    """Split sizes when `validation` comes out of the original `train`."""
    validation = int(train * VALIDATION_FRACTION)
    return {"train": train - validation, "validation": validation, "test": test}


def holdout_sizes(total: int) -> dict[str, int]:
    """Split sizes for a dataset that ships as one table."""
    test = round(total * TEST_FRACTION)
    return carve_validation(total - test, test)


_DIGIT_NAMES = tuple(str(d) for d in range(10))

DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            name="mnist",
            licence="CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)",
            task="image_classification",
            input_name="pixels",
            input_shape=(28, 28, 1),
            class_names=_DIGIT_NAMES,
            splits=carve_validation(60_000, 10_000),
            source="tfds",
            tfds_name="mnist",
            download_host="storage.googleapis.com",
            description="Handwritten digits, 28x28 grey, 0-255.",
        ),
        DatasetInfo(
            name="fashion_mnist",
            licence="MIT (Zalando Research)",
            task="image_classification",
            input_name="pixels",
            input_shape=(28, 28, 1),
            class_names=(
                "T-shirt/top",
                "Trouser",
                "Pullover",
                "Dress",
                "Coat",
                "Sandal",
                "Shirt",
                "Sneaker",
                "Bag",
                "Ankle boot",
            ),
            splits=carve_validation(60_000, 10_000),
            source="tfds",
            tfds_name="fashion_mnist",
            download_host="fashion-mnist.s3-website.eu-central-1.amazonaws.com",
            description="Zalando clothing images, 28x28 grey, 0-255; MNIST's file layout.",
        ),
        DatasetInfo(
            name="cifar10",
            licence="none stated (Krizhevsky 2009)",
            task="image_classification",
            input_name="pixels",
            input_shape=(32, 32, 3),
            class_names=(
                "airplane",
                "automobile",
                "bird",
                "cat",
                "deer",
                "dog",
                "frog",
                "horse",
                "ship",
                "truck",
            ),
            splits=carve_validation(50_000, 10_000),
            source="tfds",
            tfds_name="cifar10",
            download_host="www.cs.toronto.edu",
            description="Tiny natural images, 32x32 RGB, 0-255.",
        ),
        DatasetInfo(
            name="imdb",
            licence="none stated; released for research (Maas et al. 2011)",
            task="text_classification",
            input_name="text",
            input_shape=(),
            class_names=("negative", "positive"),
            splits=carve_validation(25_000, 25_000),
            source="tfds",
            tfds_name="imdb_reviews",
            download_host="ai.stanford.edu",
            description="IMDB movie reviews (aclImdb v1), raw text, balanced sentiment.",
        ),
        DatasetInfo(
            name="sst2",
            licence="none stated (Socher et al. 2013, distributed with GLUE)",
            task="text_classification",
            input_name="text",
            input_shape=(),
            class_names=("negative", "positive"),
            splits=carve_validation(67_349, 872),
            source="tfds",
            tfds_name="glue/sst2",
            download_host="dl.fbaipublicfiles.com",
            tfds_test_split="validation",
            description=(
                "GLUE SST-2 movie-review phrases. `test` is the GLUE dev set (872 sentences), the "
                "split SST-2 accuracy is reported on: GLUE's own test labels are not public."
            ),
        ),
        DatasetInfo(
            name="digits",
            licence="CC BY 4.0 (UCI Machine Learning Repository)",
            task="image_classification",
            input_name="pixels",
            input_shape=(8, 8, 1),
            class_names=_DIGIT_NAMES,
            splits=holdout_sizes(1797),
            source="sklearn",
            description=(
                "scikit-learn's bundled 8x8 digits (UCI). Its 0-16 intensities are scaled to "
                "0-255 so it takes pixels like every image entry. Works offline: the main demo."
            ),
        ),
        DatasetInfo(
            name="breast_cancer",
            licence="CC BY 4.0 (UCI Machine Learning Repository)",
            task="tabular_classification",
            input_name="features",
            input_shape=(30,),
            class_names=("malignant", "benign"),
            splits=holdout_sizes(569),
            source="sklearn",
            description="Wisconsin diagnostic breast cancer (scikit-learn bundled), 30 features.",
        ),
        DatasetInfo(
            name="diabetes",
            licence="none stated (Efron et al. 2004); bundled with scikit-learn (BSD-3-Clause)",
            task="tabular_regression",
            input_name="features",
            input_shape=(10,),
            class_names=(),
            splits=holdout_sizes(442),
            source="sklearn",
            description=(
                "Diabetes progression one year after baseline (scikit-learn bundled), "
                "10 features; the target ranges 25-346."
            ),
        ),
    )
}


def dataset_info(name: str) -> DatasetInfo:
    """Metadata of a dataset by name, without loading any data."""
    if name not in DATASETS:
        raise unknown_name("dataset", name, DATASETS)
    return DATASETS[name]
