"""modelzoo: ready-to-train Keras 3 models by name, exported for TensorFlow Serving.

import modelzoo
modelzoo.list_models("*mnist*")
model = modelzoo.build("mlp_digits")
modelzoo.fit(model)
modelzoo.export(model)

data = modelzoo.load_files("photos/")  # your own images, table or text
model = modelzoo.build("cnn", data=data)
"""

import importlib
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

_EXPORTS = {
    "modelzoo.data": (
        "DatasetInfo",
        "FileData",
        "dataset_info",
        "list_datasets",
        "load_dataset",
        "load_files",
    ),
    "modelzoo.errors": (
        "DataFormatError",
        "DataNotFoundError",
        "InvalidTypeError",
        "InvalidValueError",
        "MissingPackageError",
        "ModelZooError",
        "UnknownNameError",
    ),
    "modelzoo.evaluation": ("Report",),
    "modelzoo.export": ("export",),
    "modelzoo.recipes": ("RECIPES", "Recipe"),
    "modelzoo.registry": (
        "Choice",
        "Float",
        "Int",
        "Target",
        "build",
        "describe",
        "list_architectures",
        "list_models",
        "register",
        "search_space",
    ),
    "modelzoo.training": ("evaluate", "fit", "load_checkpoint"),
    "modelzoo.tuning": ("tune",),
}
"""Where each public name lives. They are imported on first use (PEP 562), so `modelzoo --help`
answers without importing TensorFlow; TensorFlow is imported then, quietly (`tfstartup`)."""
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module 'modelzoo' has no attribute {name!r}")
    from modelzoo.tfstartup import import_tensorflow

    import_tensorflow()
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
