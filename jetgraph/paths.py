"""Paths as users give them: one path, a glob, a list of them, or a URL that uproot opens."""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable

from jetgraph.errors import FileFormatError


def is_remote(path: str) -> bool:
    """Anything uproot opens by URL (``root://``, ``https://``, ``s3://``...)."""
    return "://" in path and not path.startswith("file://")


def expand_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[str]:
    """One path, a glob, or a list of them, as a sorted-per-pattern list of files (duplicates kept once)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[str] = []
    for item in paths:
        text = os.fspath(item)
        if is_remote(text) or not glob.has_magic(text):
            out.append(text)
            continue
        matches = sorted(glob.glob(text, recursive=True))
        if not matches:
            raise FileFormatError(f"{text}: no file matches this pattern")
        out.extend(matches)
    if not out:
        raise FileFormatError("no input files given")
    return list(dict.fromkeys(out))


__all__ = ["expand_paths", "is_remote"]
