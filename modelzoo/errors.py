"""Errors modelzoo raises. Each message names what was wrong and what would be right."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ModelZooError(Exception):
    """Base class, so a caller can catch every modelzoo error in one place."""


class UnknownNameError(ModelZooError, LookupError):
    """A model, dataset, split, recipe or override name that does not exist."""


class InvalidValueError(ModelZooError, ValueError):
    """A value of the right type but outside what the field accepts."""


class InvalidTypeError(ModelZooError, TypeError):
    """A value of the wrong type for a hyperparameter or recipe field."""


class DataNotFoundError(ModelZooError, FileNotFoundError):
    """No local files and no download: the message says which files to put where."""


class DataFormatError(ModelZooError, ValueError):
    """Files were found but do not hold what the dataset needs."""


class MissingPackageError(ModelZooError, ImportError):
    """An optional package is needed for what was asked: the message says how to install it."""


def unknown_name(kind: str, name: str, choices: Iterable[str], where: str = "") -> UnknownNameError:
    """An error listing the valid choices, the closest ones first; `where` adds context
    ("for mlp_mnist")."""
    valid = sorted(choices)
    close = difflib.get_close_matches(name, valid, n=3, cutoff=0.5)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    context = f" {where}" if where else ""
    kinds = f"{kind[:-1]}ies" if kind.endswith("y") else f"{kind}s"
    return UnknownNameError(f"Unknown {kind} {name!r}{context}.{hint} Valid {kinds}: {', '.join(valid)}.")
