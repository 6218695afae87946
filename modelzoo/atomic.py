"""Writes that land whole or not at all: a temporary sibling, then one rename.

A run killed mid-write, or a server polling a folder (TF Serving watches export roots), must
never see a half-written file or directory. A temporary sibling's name holds the host and process
that write it (`.<name>.<host>.<pid>-<random>.partial`), so the next write into the same folder
removes those whose writer is gone (killed with SIGKILL, say); a failed write removes the folders
it made for itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path


def plain_mode(directory: bool = False) -> int:
    """The mode a plain `open()` (or `mkdir`) gives under the current umask: mkstemp and mkdtemp
    make 0600/0700, which would survive the rename and lock out a server running as another
    user (a TF Serving container reading models.config)."""
    umask = os.umask(0)
    os.umask(umask)
    return (0o777 if directory else 0o666) & ~umask


PARTIAL = re.compile(r"^\..+\.(?P<host>[^.]+)\.(?P<pid>\d+)-[^.]+\.partial$")


def partial_prefix(path: Path) -> str:
    return f".{path.name}.{socket.gethostname().split('.')[0]}.{os.getpid()}-"


def sweep_partials(folder: Path) -> list[Path]:
    """Remove temporary siblings in `folder` left by a writer of this host that is no longer
    running; returns what was removed."""
    host = socket.gethostname().split(".")[0]
    removed = []
    for entry in folder.iterdir() if folder.is_dir() else ():
        match = PARTIAL.match(entry.name)
        if match is None or match["host"] != host or pid_alive(int(match["pid"])):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def folder_for(path: Path) -> Iterator[None]:
    """Make `path`'s parent folders; if the block fails, remove the ones made here (when empty)."""
    made = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        yield
    except BaseException:
        for folder in made:  # innermost first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` atomically, with the mode `open(path, "w")` would give it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_partials(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=partial_prefix(path), suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            os.fchmod(f.fileno(), plain_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def partial_path(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling name to write `path` to (file or folder); rename it into
    place on success, remove it (and any parent folder made for it) on failure. An existing
    `path` is replaced."""
    with folder_for(path):
        sweep_partials(path.parent)
        tmp = Path(tempfile.mkdtemp(prefix=partial_prefix(path), suffix=".partial", dir=path.parent))
        target = tmp / path.name
        try:
            yield target
            if path.is_dir() and target.is_dir():
                old = tmp / f"{path.name}.old"
                os.replace(path, old)
            os.replace(target, path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
