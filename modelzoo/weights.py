"""Published weights: the folder they come in, where a handle points, and the checks made before
anything in it is loaded.

A published folder is what Keras writes with `model.save(folder, zipped=False)` (`config.json`,
`model.weights.h5`, `metadata.json`, `assets/`), which is also what `keras.saving.load_model("hf://...")`
reads, plus `manifest.json` (what the weights are, how they scored and the sha256 of every file),
`probe.json` (a few test inputs and the outputs they gave) and a `README.md` model card. A handle
is `"zoo"` (the folder this package ships for the entry), a folder, a `.keras` file, an
`https://` URL of a published folder (each file fetched into a cache under `MODELZOO_HOME` and
checked against the manifest) or `hf://owner/name` (Hugging Face's cache, as Keras reads it).
`modelzoo.zoo.build(name, weights=...)` loads one; `modelzoo.publish` writes one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from modelzoo import atomic
from modelzoo.errors import InvalidValueError, ModelZooError

MANIFEST = "manifest.json"
PROBE = "probe.json"
FORMAT = 1
"""The manifest format this version reads and writes; a newer one is refused, not guessed at."""
SHIPPED = "published"
"""Package folder of the weights that ship with modelzoo: `modelzoo/published/<entry>/`."""
DOWNLOAD_TIMEOUT = 20
"""Seconds a download may wait on the network before it is given up, so offline fails quickly."""


class ChecksumError(ModelZooError):
    """A published file differs from its manifest: changed, cut short or missing."""


def home() -> Path:
    """Where downloads are cached: `$MODELZOO_HOME`, default `~/.modelzoo`."""
    return Path(os.environ.get("MODELZOO_HOME", "~/.modelzoo")).expanduser()


def shipped_folder(name: str) -> Path | None:
    """The folder of weights this package ships for entry `name`, or None."""
    folder = Path(str(resources.files("modelzoo").joinpath(SHIPPED, name)))
    return folder if (folder / MANIFEST).is_file() else None


def shipped() -> list[str]:
    """Entries whose weights ship with the package."""
    root = Path(str(resources.files("modelzoo").joinpath(SHIPPED)))
    return sorted(p.parent.name for p in root.glob(f"*/{MANIFEST}")) if root.is_dir() else []


def summary(name: str, parameters: int) -> str:
    """What `describe` says of an entry's published weights."""
    folder = shipped_folder(name)
    if folder is None:
        return (
            "none ship with modelzoo (it ships an entry's weights when the entry meets its target, within "
            f"25 MB in all; these would be {parameters * 2 / 1e6:.1f} MB as float16): train it, publish the "
            "run (modelzoo publish RUN --to DIR) and load it with weights=DIR or hf://owner/name"
        )
    manifest = read_manifest(folder)
    metric, data = manifest["metric"], manifest["data"]
    return (
        f"ship with modelzoo, weights='zoo': {metric['name']} {metric['value']:.4f} on {data['name']} "
        f"{data['split']} ({data['examples']:,} examples), {manifest['weights_dtype']}, "
        f"{len(manifest['files'])} files with their sha256, published {manifest['date']}"
    )


def locate(handle: str | os.PathLike, name: str) -> Path:
    """A local, checked published folder or `.keras` file for `handle` (weights of `name`)."""
    text = str(handle)
    if text == "zoo":
        path = shipped_folder(name)
        if path is None:
            raise InvalidValueError(
                f"No weights ship for {name}: weights='zoo' is for {', '.join(shipped()) or 'no entry'}. "
                f"Train it (modelzoo train {name}), publish the run (modelzoo publish RUN --to DIR) "
                "and load it with weights=DIR or hf://owner/name."
            )
    elif text.startswith(("https://", "http://")):
        path = download(text)
    elif text.startswith("hf://"):
        path = from_hub(text)
    else:
        path = Path(text).expanduser()
        if not path.exists():
            raise InvalidValueError(
                f"Weights {text!r} not found: give 'zoo', a published folder, a .keras file, "
                "an https:// URL of a published folder or hf://owner/name."
            )
        if path.is_file() and path.suffix != ".keras":
            raise InvalidValueError(f"Weights {text!r} is not a .keras file or a published folder.")
    if path.is_dir():
        check_folder(path)
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a published folder, refused when missing, damaged or of a newer format."""
    path = folder / MANIFEST
    if not path.is_file():
        raise InvalidValueError(
            f"{folder} is not a published folder (no {MANIFEST}): publish a run with modelzoo publish, "
            "or pass a .keras file."
        )
    try:
        manifest = json.loads(path.read_text())
        made = int(manifest["format"])
    except (ValueError, KeyError, TypeError) as err:
        raise ChecksumError(f"{path} is damaged ({err}); fetch the published folder again.") from None
    if made > FORMAT:
        raise InvalidValueError(
            f"{path} is of manifest format {made}, newer than this modelzoo reads ({FORMAT}); "
            "upgrade modelzoo (pip install -U modelzoo)."
        )
    return manifest


def check_folder(folder: Path) -> dict[str, Any]:
    """The manifest, after checking every file it lists against its sha256."""
    manifest = read_manifest(folder)
    for file, digest in manifest["files"].items():
        path = folder / file
        if not path.is_file():
            raise ChecksumError(f"{path} is missing from the published folder; fetch the folder again.")
        if sha256(path) != digest:
            raise ChecksumError(
                f"{path} does not match its manifest (sha256 differs): it was changed or cut short; "
                "fetch the published folder again."
            )
    return manifest


def file_digests(folder: Path) -> dict[str, str]:
    """sha256 of every file under `folder` but the manifest, by relative path."""
    return {
        str(p.relative_to(folder)): sha256(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def download(url: str) -> Path:
    """The published folder at `url`, from the cache under `home()` or fetched into it: the
    manifest first (its own sha256 checked when the URL ends in `#sha256=<hex>`), then every file
    it lists, each checked; the folder enters the cache only when complete, and a cache entry that
    no longer matches is removed, not reused."""
    base, _, pinned = url.partition("#sha256=")
    base = base.rstrip("/")
    cache = home() / "downloads" / hashlib.sha256(base.encode()).hexdigest()[:20]
    if cache.is_dir():
        try:
            if pinned and sha256(cache / MANIFEST) != pinned:
                raise ChecksumError(f"{cache / MANIFEST} is not the pinned one")
            check_folder(cache)
            return cache
        except ModelZooError:
            shutil.rmtree(cache)
    with atomic.partial_path(cache) as partial:
        partial.mkdir()
        fetch(f"{base}/{MANIFEST}", partial / MANIFEST)
        if pinned and sha256(partial / MANIFEST) != pinned:
            raise ChecksumError(f"{base}/{MANIFEST} does not match the sha256 pinned in the URL.")
        for file in read_manifest(partial)["files"]:
            fetch(f"{base}/{file}", partial / file)
        check_folder(partial)
    return cache


def fetch(url: str, path: Path) -> None:
    """One file over HTTP(S); a body shorter than its Content-Length is refused."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response, open(path, "wb") as out:
            shutil.copyfileobj(response, out)
            expected = response.headers.get("Content-Length")
    except urllib.error.HTTPError as err:
        raise ModelZooError(f"Cannot download {url}: HTTP {err.code} {err.reason}.") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ModelZooError(
            f"Cannot download {url} ({reason}); where there is no network, fetch the folder elsewhere "
            "and pass weights=FOLDER."
        ) from None
    if expected is not None and path.stat().st_size != int(expected):
        raise ChecksumError(f"Download of {url} was cut short ({path.stat().st_size} of {expected} bytes).")


def from_hub(handle: str) -> Path:
    """The snapshot of `hf://owner/name` in Hugging Face's cache, downloaded when not there, as
    `keras.saving.load_model("hf://...")` resolves it."""
    import huggingface_hub
    import keras

    repo = handle.removeprefix("hf://")
    try:
        return Path(
            huggingface_hub.snapshot_download(repo, library_name="keras", library_version=keras.__version__)
        )
    except Exception as err:  # offline, unknown repository, no access: one line, whatever the class
        raise ModelZooError(
            f"Cannot get {handle} from Hugging Face ({type(err).__name__}: {str(err).splitlines()[0]}); "
            "offline it must be in the Hugging Face cache ($HF_HUB_CACHE): download it where there is "
            "network, or pass the published folder."
        ) from None


def check_settings(
    manifest: Mapping[str, Any], where: Path | str, name: str, given: Mapping[str, Any]
) -> None:
    """Refuse weights published for another model, or with other values of the hyperparameters
    `given` (the overrides a caller asked for) than they were published with."""
    if name not in (manifest["entry"], manifest["model"]):
        raise InvalidValueError(f"{where} holds weights of {manifest['model']!r}, not {name!r}.")
    asked = json.loads(json.dumps(dict(given), default=list))
    held = manifest["hyperparameters"]
    differ = sorted(k for k in asked if asked[k] != held.get(k))
    if differ:
        published = ", ".join(f"{k}={held.get(k)!r}" for k in differ)
        wanted = ", ".join(f"{k}={asked[k]!r}" for k in differ)
        raise InvalidValueError(
            f"{where} was published for {manifest['model']} with {published}, not {wanted}: "
            "build it with the settings it was published with, or train these."
        )


def is_handle(source: str | os.PathLike) -> bool:
    """Whether `source` names published weights rather than a run folder or `.keras` file."""
    text = str(source)
    return (
        text == "zoo"
        or text.startswith(("https://", "http://", "hf://"))
        or (Path(text) / MANIFEST).is_file()
    )
