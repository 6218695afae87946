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
import sys
import types

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
    "modelzoo.publish": ("publish", "verify"),
    "modelzoo.recipes": ("RECIPES", "Recipe"),
    "modelzoo.registry": ("Choice", "Float", "Int", "Target", "register", "search_space"),
    "modelzoo.training": ("evaluate", "fit", "train_evaluate_export"),
    "modelzoo.zoo": ("build", "describe", "list_architectures", "list_models", "load_checkpoint"),
    "modelzoo.tuning": ("tune",),
}
"""Where each public name lives. They are imported on first use (PEP 562), so `modelzoo --help`
answers without importing TensorFlow; TensorFlow is imported then, quietly (`tfstartup`)."""
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_HOME)


class _Package(types.ModuleType):
    """`modelzoo.export` is the function: importing the submodule of the same name (which sets the
    package's attribute to the module) must not hide it."""

    def __setattr__(self, name: str, value) -> None:
        if not (name in _HOME and isinstance(value, types.ModuleType)):
            super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
