"""Keep freed memory in the process during training, so large activations do not page-fault on every step.

glibc's ``malloc`` serves every block above its mmap threshold (at most 32 MB) with a fresh ``mmap`` and
gives it back to the kernel on ``free``. A CPU training step allocates dozens of such blocks (the default
transformer at batch 512: activations of 90,000 tokens x 512 floats, 190 MB each), and the kernel zeroes
every page of each again on first touch. That was most of what the batch-512 step lost: with this
setting and chunked attention it runs 1.9x faster on a 2-core Intel Xeon (``benchmarks/train_step.py``,
docs/results.md). Telling ``malloc`` to serve large blocks from its heap and never trim it
(``M_MMAP_MAX = 0``, ``M_TRIM_THRESHOLD`` at its maximum) removes that: freed blocks are reused by the
next step. The price: the process keeps its peak memory until it exits, as a training process does anyway.
"""

from __future__ import annotations

import ctypes
import platform

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's <malloc.h>
M_MMAP_MAX = -4
_kept = False


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse (once per process); False where this is not glibc."""
    global _kept
    if _kept:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    mallopt = ctypes.CDLL(None).mallopt  # the running process's own libc
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    _kept = bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    return _kept
