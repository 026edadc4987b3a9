"""Keep freed memory in a CPU training process, so large activations do not page-fault on every step.

glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and
gives it back to the kernel on ``free``. A CPU training step allocates dozens of such blocks (the default
transformer at batch 512: activations of 90,000 tokens x 512 floats, 190 MB each), and the kernel zeroes
every page of each again on first touch. That was most of what the batch-512 step lost: with this
setting and chunked attention it runs 1.9x faster on a 2-core Intel Xeon (``benchmarks/train_step.py``,
docs/results.md). Telling ``malloc`` to serve large blocks from its heap and never trim it
(``M_MMAP_MAX = 0``, ``M_TRIM_THRESHOLD`` at its maximum) removes that: freed blocks are reused by the
next step.

The heap can fragment, though: where blocks of changing sizes (the pair bias's activations, hundreds of MB
that change with each batch's widest jet) alternate with long-lived ones (the next chunk of training jets),
a freed hole may be too small for the next step, the heap grows and the holes stay resident. Pair-bias
pretraining on top jets grew from 5 GB to over 20 GB in a few hundred steps that way. :class:`HeapGuard`
watches the resident memory after each step and, once it has grown by half over what the first steps
settled at, hands the free pages back (``malloc_trim``): the next steps fault those pages in again, then
reuse them (``benchmarks/train_memory.py`` measures both ways).
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's <malloc.h>
M_MMAP_MAX = -4
_kept = False


def _glibc() -> bool:
    return platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse (once per process); False where this is not glibc."""
    global _kept
    if _kept:
        return True
    if not _glibc():
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the running process's own libc
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _kept = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    return _kept


def release_freed_memory() -> bool:
    """Hand the pages of the heap's free blocks back to the kernel (``malloc_trim(0)``); False where not glibc."""
    if not _glibc():
        return False
    ctypes.CDLL(None).malloc_trim(ctypes.c_size_t(0))
    return True


def resident_bytes() -> int:
    """This process's resident memory in bytes (``/proc/self/statm``; 0 where there is none)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class HeapGuard:
    """Release freed memory when the process outgrows what its first steps settled at.

    Call :meth:`after_step` after each training step. The resident memory after ``settle`` steps is the
    reference; a step that ends above ``growth`` times it trims the heap (:func:`release_freed_memory`), and
    the reference becomes the larger of itself and what is left. A second trim within ``settle`` steps of
    the one before means the steps really need that much: the reference becomes what they held, so a run
    whose steps grow costs two trims, not one every step.
    """

    def __init__(self, growth: float = 1.5, settle: int = 10) -> None:
        self.growth, self.settle = growth, settle
        self.steps = self.trims = 0
        self.reference = 0
        self._last_trim: int | None = None

    def after_step(self) -> bool:
        """Note one more step; True when it trimmed the heap."""
        self.steps += 1
        if self.steps < self.settle:
            return False
        resident = resident_bytes()
        if self.steps == self.settle or not self.reference:
            self.reference = resident
            return False
        if resident <= self.growth * self.reference or not release_freed_memory():
            return False
        self.trims += 1
        if self._last_trim is not None and self.steps - self._last_trim <= self.settle:
            self.reference = resident  # the steps need this much: keep it
        self.reference = max(self.reference, resident_bytes())
        self._last_trim = self.steps
        return True
