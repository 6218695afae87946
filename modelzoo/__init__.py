"""modelzoo: ready-to-train Keras 3 models by name, exported for TensorFlow Serving.

import modelzoo
modelzoo.list_models("*mnist*")
model = modelzoo.build("mlp_digits")
modelzoo.fit(model)
modelzoo.export(model)

data = modelzoo.load_files("photos/")  # your own images, table or text
model = modelzoo.build("cnn", data=data)
"""

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from modelzoo.tfstartup import startup_chatter_hidden  # noqa: E402

with startup_chatter_hidden():
    import tensorflow  # noqa: F401

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        f"modelzoo needs the TensorFlow backend of Keras, but KERAS_BACKEND is "
        f"{keras.backend.backend()!r}; unset it or set KERAS_BACKEND=tensorflow."
    )

__version__ = "0.1.0"

from modelzoo.data import DatasetInfo, FileData, dataset_info, list_datasets, load_dataset, load_files  # noqa: E402
from modelzoo.errors import (  # noqa: E402
    DataFormatError,
    DataNotFoundError,
    InvalidTypeError,
    InvalidValueError,
    MissingPackageError,
    ModelZooError,
    UnknownNameError,
)
from modelzoo.evaluation import Report  # noqa: E402
from modelzoo.export import export  # noqa: E402
from modelzoo.recipes import RECIPES, Recipe  # noqa: E402
from modelzoo.registry import (  # noqa: E402
    Choice,
    Float,
    Int,
    Target,
    build,
    describe,
    list_architectures,
    list_models,
    register,
    search_space,
)
from modelzoo.training import evaluate, fit, load_checkpoint  # noqa: E402
from modelzoo.tuning import tune  # noqa: E402

__all__ = [
    "RECIPES",
    "Choice",
    "Float",
    "Int",
    "DataFormatError",
    "DataNotFoundError",
    "DatasetInfo",
    "FileData",
    "InvalidTypeError",
    "InvalidValueError",
    "MissingPackageError",
    "ModelZooError",
    "Recipe",
    "Report",
    "Target",
    "UnknownNameError",
    "build",
    "dataset_info",
    "describe",
    "evaluate",
    "export",
    "fit",
    "list_architectures",
    "list_datasets",
    "list_models",
    "load_checkpoint",
    "load_dataset",
    "load_files",
    "register",
    "search_space",
    "tune",
]
