"""Run folders: their names, how a new one is made, which unfinished one a command resumes, the
lock that keeps a second writer out, and the epoch commit that keeps their files in step.

A training run (`runs/<model>/<timestamp>/`) and a search (`runs/<model>/tune-<timestamp>/`) are
both run folders. One process writes a folder at a time: `lock` holds an `fcntl` lock on its
`.lock` file (the kernel drops it when the process dies, so a lock left by a killed process is
simply taken over) and names the holder's pid to whoever is refused.

At the end of an epoch the history is written first, the best checkpoint is staged under a name
that carries the epoch, and the backup (`AtomicBackup`) is written last: its metadata file is the
commit. A run killed anywhere in between resumes from the last committed epoch, rolls the staged
checkpoint of that epoch forward and throws away anything staged after it, and cuts the history
back to it, so history, best checkpoint and backup always describe the same epochs.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import platform
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import keras
import tensorflow as tf

from modelzoo import atomic
from modelzoo.errors import InvalidValueError, ModelZooError

BEST_CHECKPOINT = "best.keras"
BACKUP_DIR = "backup"
"""The backup state: present only while a run is unfinished (Keras removes it at the end)."""
HISTORY_FILE = "history.json"
CONFIG_FILE = "config.json"
LOCK_FILE = ".lock"
BACKUP_STATE = "state.json"
"""In `BACKUP_DIR`: the last committed epoch and the weights file that holds it."""
STAGED = re.compile(r"^\.(?P<name>.+)\.epoch-(?P<epoch>\d+)\.staged$")
"""A file written for an epoch that is not committed yet: `.best.keras.epoch-4.staged`."""


RESUMABLE: list[Callable[[], bool]] = []
"""For each folder this process has started writing, whether it holds anything to resume from
yet: after Ctrl-C, the CLI suggests resuming only then."""


class RunFolderBusy(ModelZooError):
    """Another live process is writing the run folder."""


def new_run_dir(runs_dir: Path, name: str, prefix: str = "") -> Path:
    """A fresh `runs_dir/<name>/<prefix><timestamp>` folder; never an existing one."""
    stamp = prefix + datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(100):
        run_dir = runs_dir / name / (stamp if attempt == 0 else f"{stamp}-{attempt}")
        try:
            run_dir.mkdir(parents=True)
            return run_dir
        except FileExistsError:
            continue
    raise ModelZooError(f"Could not create a new run folder under {runs_dir / name}; pass --run-dir DIR.")


def newest(base: Path, pattern: str, wanted: Callable[[Path], bool]) -> Path | None:
    """The newest folder under `base` matching `pattern` for which `wanted` holds (run folders
    are named by their start time, so the newest sorts last)."""
    candidates = sorted(base.glob(pattern), reverse=True) if base.is_dir() else []
    return next((d for d in candidates if d.is_dir() and wanted(d)), None)


def read_json(path: Path, folder: Path | None = None) -> Any:
    """A JSON file of a run folder (`folder`, default its parent); a damaged one is named, with
    what to do."""
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise ModelZooError(
            f"{path} is damaged ({err}): a crash cut it short. Remove {folder or path.parent} to start again."
        ) from None


def committed_epochs(run_dir: Path) -> int:
    """Epochs a run has finished and committed (`AtomicBackup`): 0 for a new or finished run."""
    state = run_dir / BACKUP_DIR / BACKUP_STATE
    return int(read_json(state)["epoch"]) if state.is_file() else 0


def is_unfinished(run_dir: Path) -> bool:
    """A run cut short: its backup state is still there (it is removed at the end)."""
    return (run_dir / BACKUP_DIR).is_dir()


@contextlib.contextmanager
def lock(folder: Path, what: str = "run folder") -> Iterator[None]:
    """Hold `folder`'s lock for the block: refused at once, naming the holder's pid, when another
    live process holds it. Re-entrant within a process (the CLI locks before `fit` does)."""
    key = str(folder.resolve())
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, atomic.plain_mode())
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunFolderBusy(
                f"{what.capitalize()} {folder} is being written by process {holder}, which is still running; "
                "wait for it to finish (or stop it), or start a new run with --run-dir DIR."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _HELD[key] = [fd, 1]
        try:
            yield
        finally:
            del _HELD[key]
    finally:
        os.close(fd)  # closing the last descriptor releases the lock


_HELD: dict[str, list[int]] = {}
"""Locks this process holds: resolved folder -> [descriptor, depth]."""


def holds_lock(folder: Path) -> bool:
    return str(folder.resolve()) in _HELD


def staged_name(path: Path, epoch: int) -> Path:
    """Where `path` is written for `epoch` (1-based) until the epoch is committed."""
    return path.with_name(f".{path.name}.epoch-{epoch}.staged")


def settle_staged(run_dir: Path, committed: int) -> None:
    """Roll the newest staged file of each name from a committed epoch (at most `committed`) into
    place; remove older ones and those of later epochs (their commit was never written)."""
    newest_of: dict[str, tuple[int, Path]] = {}
    for entry in run_dir.iterdir() if run_dir.is_dir() else ():
        match = STAGED.match(entry.name)
        if match is None:
            continue
        epoch = int(match["epoch"])
        if epoch <= committed and epoch > newest_of.get(match["name"], (0, entry))[0]:
            if match["name"] in newest_of:
                newest_of[match["name"]][1].unlink(missing_ok=True)
            newest_of[match["name"]] = (epoch, entry)
        else:
            entry.unlink(missing_ok=True)
    for name, (_, entry) in newest_of.items():
        os.replace(entry, run_dir / name)


class AtomicBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose state moves in one step: the weights go to a file named for the
    epoch, then `state.json` (written atomically) names it and the epoch. That write commits the
    epoch: files staged for it (`staged_name`) are renamed into place after it, and a resumed
    run settles them before training (`settle_staged`). Keras' own writes its weights in place
    and the epoch after them, so a kill between the two resumed with weights from another epoch.
    Put it last among the callbacks, after every callback that writes the epoch's files."""

    def __init__(self, run_dir: Path) -> None:
        super().__init__(str(run_dir / BACKUP_DIR), delete_checkpoint=True)
        self.run_dir = run_dir
        self.state_path = run_dir / BACKUP_DIR / BACKUP_STATE

    def committed_epoch(self) -> int:
        return committed_epochs(self.run_dir)

    def on_train_begin(self, logs: dict | None = None) -> None:
        epoch = self.committed_epoch()
        settle_staged(self.run_dir, epoch)
        if epoch == 0:
            return super().on_train_begin(logs)  # Keras' own layout, from runs of modelzoo 0.1
        state = read_json(self.state_path)
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self.state_path.parent / state["weights"])
        self.model._initial_epoch = epoch

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        done = epoch + 1
        folder = self.state_path.parent
        folder.mkdir(parents=True, exist_ok=True)
        weights = f"epoch-{done}.weights.h5"
        with atomic.partial_path(folder / weights) as tmp:
            self.model.save_weights(str(tmp))
        atomic.write_text(self.state_path, json.dumps({"epoch": done, "weights": weights}) + "\n")
        settle_staged(self.run_dir, done)
        for old in folder.glob("epoch-*.weights.h5"):
            if old.name != weights:
                old.unlink(missing_ok=True)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        """Backups are per epoch only."""


def committed_history(run_dir: Path, epoch: int) -> dict[str, list]:
    """The history of the first `epoch` epochs, as the run folder holds it (epochs written after
    the last commit are not part of the run)."""
    path = run_dir / HISTORY_FILE
    if epoch == 0 or not path.is_file():
        return {}
    return {k: v[:epoch] for k, v in read_json(path).items()}


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """EarlyStopping that, in a resumed run, takes up its count where the killed run left it: the
    best value, the epochs waited since (both replayed from the run folder's history) and the
    best weights (from its best checkpoint). Keras' own starts afresh, so a run killed and resumed
    again and again would never stop early."""

    def __init__(self, run_dir: Path | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.run_dir = run_dir

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.replayed = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.replayed or epoch == 0 or self.run_dir is None:
            self.replayed = True
            return
        self.replayed = True
        if self.monitor_op is None:
            self._set_monitor_op()
        for done, value in enumerate(committed_history(self.run_dir, epoch).get(self.monitor, [])):
            self.wait += 1
            if self._is_improvement(value, self.best):
                self.best, self.best_epoch, self.wait = value, done, 0
        best = self.run_dir / BEST_CHECKPOINT
        if self.restore_best_weights and best.is_file():
            current = self.model.get_weights()
            self.model.load_weights(best)
            self.best_weights = self.model.get_weights()
            self.model.set_weights(current)


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """ModelCheckpoint that saves beside the target and renames over it, or (`staged`, in a run
    with a backup) to the epoch's staged name, which the backup's commit renames into place.

    Keras writes the `.keras` zip in place; a run killed mid-save would leave a truncated best
    checkpoint. Here the previous best survives until the new one is complete and committed.
    """

    def __init__(self, filepath: str | os.PathLike, staged: bool = False, **kwargs: Any) -> None:
        self.final_path = Path(filepath)
        self.staged = staged
        partial = self.final_path.with_name(f".{self.final_path.stem}.partial.keras")
        super().__init__(str(partial), **kwargs)

    def on_train_begin(self, logs: dict | None = None) -> None:
        super().on_train_begin(logs)
        self.resumed = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        """On a resumed run, start from the best value of the epochs already done, so a worse
        epoch after the restart does not replace the best checkpoint."""
        super().on_epoch_begin(epoch, logs)
        if self.resumed or epoch == 0:
            return
        self.resumed = True
        if self.monitor_op is None:
            self._set_monitor_op()
        for value in committed_history(self.final_path.parent, epoch).get(self.monitor, []):
            if self._is_improvement(value, self.best):
                self.best = value

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        super().on_epoch_end(epoch, logs)
        partial = Path(self.filepath)
        if partial.exists():
            os.replace(partial, staged_name(self.final_path, epoch + 1) if self.staged else self.final_path)


RUN_FACTS = ("versions", "data_source", "data_dir")
"""Parts of config.json that describe a run without deciding whether another one may resume it."""


def write_config(
    run_dir: Path, config: dict[str, Any], source: str, data_dir: str | os.PathLike | None = None
) -> None:
    """`config.json`: what the run trains, where its examples came from (`data_dir`, absolute, so
    `evaluate` and `export` read the same files without being told again), and the software."""
    where = str(Path(data_dir).expanduser().absolute()) if data_dir is not None else None
    facts = {"data_source": source, "data_dir": where, "versions": versions()}
    atomic.write_text(run_dir / CONFIG_FILE, json.dumps({**config, **facts}, indent=2) + "\n")


def held_config(run_dir: Path) -> dict[str, Any] | None:
    """What the run in `run_dir` trains (its `config.json` without the versions), or None."""
    path = run_dir / CONFIG_FILE
    if not path.is_file():
        return None
    return {k: v for k, v in read_json(path).items() if k not in RUN_FACTS}


def check_run_dir(run_dir: Path, config: dict[str, Any]) -> None:
    """Refuse a run folder that holds another run: a different entry or settings (its weights
    would not fit), or a finished run (its files would be overwritten). An unfinished run of the
    same settings is fine: fitting resumes it."""
    held = held_config(run_dir)
    if held is None:
        return
    if held["entry"] != config["entry"]:
        raise InvalidValueError(
            f"Run folder {run_dir} holds a run of {held['entry']!r}, not {config['entry']!r}; "
            "pick a new run folder."
        )
    if held.get("dataset") != config.get("dataset"):
        raise InvalidValueError(
            f"Run folder {run_dir} holds a run of {held['entry']!r} on other data; pick a new run folder."
        )
    if held != config:
        changed = sorted(
            f"{part}.{key}"
            for part in ("hyperparameters", "recipe")
            for key in held[part].keys() | config[part].keys()
            if held[part].get(key) != config[part].get(key)
        )
        raise InvalidValueError(
            f"Run folder {run_dir} holds a run of {held['entry']!r} with other settings "
            f"({', '.join(changed)}); resume it with the same ones or pick a new run folder."
        )
    if not is_unfinished(run_dir):
        raise InvalidValueError(f"Run folder {run_dir} holds a finished run; pick a new run folder.")


def find_unfinished(runs_dir: Path, config: dict[str, Any]) -> Path | None:
    """The newest unfinished run of the same entry and settings under `runs_dir/<model>/`."""
    base = runs_dir / config.get("model", config["entry"])
    return newest(base, "*", lambda d: is_unfinished(d) and held_config(d) == config)


def machine() -> str:
    """CPU model and count, and the versions that decide whether a figure reproduces."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    cpu = names[0] if names else platform.machine()
    return f"{os.cpu_count()} cores of {cpu}, TF {tf.__version__}, Keras {keras.__version__}"


def versions() -> dict[str, str]:
    """Versions that decide whether a result reproduces."""
    from importlib.metadata import version

    from modelzoo import __version__

    return {
        "modelzoo": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_hub": version("keras-hub"),
        "tensorflow_text": version("tensorflow-text"),
        "python": platform.python_version(),
    }
