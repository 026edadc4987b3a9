"""Writing safely: files appear only when complete, output locations are checked before the long work,
and one process at a time writes a directory.

- :func:`written_atomically`: write to ``<name>.partial``, rename when complete.
- :func:`check_writable`: fail in one line, naming the option, before hours of work are lost.
- :func:`lock` / :func:`locked`: ``DIR/.lock`` held with ``fcntl.flock``; the OS releases it when the
  process ends, however it ends (``kill -9`` included), so nothing stale is ever left behind.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from jetgraph.errors import JetGraphError

LOCK = ".lock"


class OutputError(JetGraphError):
    """An output location that cannot be written, or that another process is writing."""


@contextmanager
def written_atomically(path: str | os.PathLike) -> Iterator[Path]:
    """Yield ``<path>.partial`` to write; rename it to ``path`` on success, delete it on an error.

    Nothing half-written ever carries the final name, and a rerun never mistakes a crashed write for
    a complete one.
    """
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    try:
        yield partial
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


def check_writable(path: str | os.PathLike, option: str = "--out") -> Path:
    """Make sure the file ``path`` can be created (its folder is made if missing), before any work is done.

    Raises:
        OutputError: ``path`` is a directory, or its folder cannot be made or written; the message
            names the command-line ``option`` that gave it.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a directory; expected a file name in it (e.g. {path / 'out.h5'})")
    existing = next(p for p in path.absolute().parents if p.exists())
    if not existing.is_dir():
        raise OutputError(f"{option} {path}: cannot write there ({existing} is a file, not a folder)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".check"):
            pass
    except OSError as err:
        raise OutputError(f"{option} {path}: cannot write there ({err.strerror or err})") from None
    return path


def _holder(handle: IO[str]) -> str:
    handle.seek(0)
    pid = handle.read().strip()
    return f"pid {pid}" if pid else "a process that is starting"


def lock(directory: str | os.PathLike, what: str) -> IO[str]:
    """Hold ``directory/.lock`` for this process (the directory is made if missing); :func:`unlock` frees it.

    Args:
        directory: what one process at a time may write.
        what: the work that holds it, for the message another process gets (``pretrain``, ``probe``).

    Raises:
        OutputError: another process holds it (the message names the directory and that process's
            pid), or the directory cannot be written.
    """
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handle = open(directory / LOCK, "a+")  # noqa: SIM115 (held open until unlock)
    except OSError as err:
        raise OutputError(f"{directory}: cannot write there ({err.strerror or err})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(handle)
        handle.close()
        raise OutputError(
            f"{directory}: in use by another jetgraph {what} ({holder}); wait for it to end, or write elsewhere"
        ) from None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def unlock(handle: IO[str] | None) -> None:
    """Release a lock taken by :func:`lock` (None, or one already released: nothing to do)."""
    if handle is not None and not handle.closed:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


@contextmanager
def locked(directory: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold ``directory/.lock`` for the ``with`` block (see :func:`lock`)."""
    handle = lock(directory, what)
    try:
        yield
    finally:
        unlock(handle)


__all__ = ["OutputError", "check_writable", "lock", "locked", "unlock", "written_atomically"]
