"""Every failure a user can cause is a :class:`JetGraphError`.

The CLI turns these into one line and exit code 2, so each message must stand alone: it names the
file, the field and what was expected, in the words of the interface the user typed (a CLI option).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class JetGraphError(Exception):
    """Base class of every user-facing jetgraph failure."""


class FileFormatError(JetGraphError):
    """A file is missing, unreadable, truncated, or not in a format jetgraph reads."""


class UnknownFormatError(FileFormatError):
    """A readable file that no built-in recipe recognises (``jetgraph inspect`` lists it instead)."""


class MissingFieldError(JetGraphError, KeyError):
    """A tree, branch, dataset or column named by a recipe is not in the file."""

    def __str__(self) -> str:  # KeyError would repr() the message and add quotes
        return str(self.args[0])


class SchemaError(JetGraphError):
    """Jets that break the canonical schema (jagged lengths, NaN/Inf, negative energy, no particles)."""


class RecipeError(JetGraphError):
    """A data recipe (YAML) with unknown keys, bad values or a malformed label definition."""


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """Return ``"; did you mean 'a', 'b'?"`` for the names closest to ``name``, or ``""``."""
    close = difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.5)
    if not close:
        return ""
    return "; did you mean " + ", ".join(repr(c) for c in close) + "?"


def missing(what: str, name: str, where: str, candidates: Iterable[str]) -> MissingFieldError:
    """Build the error for a missing ``what`` (branch, tree, dataset...) with near-miss suggestions."""
    candidates = list(candidates)
    hint = suggest(name, candidates)
    if not hint:
        shown = ", ".join(repr(c) for c in sorted(candidates)[:8])
        more = "" if len(candidates) <= 8 else f", ... ({len(candidates)} in all)"
        hint = f"; it has {shown}{more}" if candidates else "; it has none"
    return MissingFieldError(f"{where}: no {what} {name!r}{hint}")
