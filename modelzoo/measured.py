"""What the zoo's entries scored when trained with their recipes on real data, kept in
`measured.json` with each result's command, machine and history, and the findings that shaped
the recipes. Figures live there only: docstrings say why a choice was made and name the finding,
and the README's zoo table and `docs/model_zoo.md` are generated from the file (`zootable.py`)."""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from modelzoo import atomic

FILE = "measured.json"
FORMAT = 2


@dataclass(frozen=True)
class Measurement:
    """A metric measured by running the entry's recipe on real data, and how to reproduce it."""

    metric: str
    value: float
    split: str
    date: str
    command: str
    machine: str
    epochs: int | None = None
    seconds: int | None = None
    """Wall time of one training run (the mean over seeds)."""
    details: str = ""
    """Epochs and time, seeds and their figures, and what the run had that the command does not say."""
    parameters: int | None = None
    """Of the model measured, which differs from the entry's default build when its target names
    settings (bert_sst2 measured with preset=minilm_l6)."""
    notes: str = ""
    """Why the figure misses its anchor, if it does, and what would reach it."""
    history: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    """The records this one replaced, newest first."""

    def __str__(self) -> str:
        return f"{self.metric} {self.value:.4f} on {self.split} ({self.date}, {self.machine}): {self.command}"


def read(path: Path | None = None) -> dict[str, Any]:
    text = path.read_text() if path is not None else resources.files("modelzoo").joinpath(FILE).read_text()
    data = json.loads(text)
    if data.get("format") != FORMAT:
        raise ValueError(f"{FILE} is format {data.get('format')}, this modelzoo reads format {FORMAT}")
    return data


@functools.cache
def measurements() -> dict[str, Measurement]:
    """Every recorded result by entry (or entry and the settings it was run with)."""
    entries = read()["entries"].items()
    return {key: Measurement(**{**m, "history": tuple(m.get("history", ()))}) for key, m in entries}


def findings() -> dict[str, str]:
    """Measured reasons behind recipe and data choices, by topic."""
    return read()["findings"]


def record(path: Path, key: str, new: Measurement) -> None:
    """Keep `new` under `key` in the file at `path` (atomically): the record it replaces moves to
    the front of its history, and its notes carry over until someone rewrites them."""
    data = read(path)
    old = data["entries"].get(key)
    history: list[dict[str, Any]] = []
    notes = new.notes
    if old is not None:
        history = [{k: v for k, v in old.items() if k not in ("history", "notes")}, *old.get("history", [])]
        notes = notes or old.get("notes", "")
    data["entries"][key] = {**asdict(new), "notes": notes, "history": history}
    data["entries"] = dict(sorted(data["entries"].items()))
    atomic.write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    measurements.cache_clear()
