"""keep_freed_memory keeps freed blocks resident; HeapGuard hands them back once the process has outgrown its start.

Each check runs in its own process: malloc's settings last for the life of the process that makes them.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def test_keep_freed_memory_is_repeatable_and_true_on_glibc():
    code = (
        "from jetgraph.memory import keep_freed_memory\n"
        "import numpy\n"
        "first, second = keep_freed_memory(), keep_freed_memory()\n"
        "big = numpy.ones(50_000_000); del big  # a block over 32 MB: served and freed without trouble\n"
        "print(first, second)"
    )
    assert _run(code).split() == [str(GLIBC)] * 2


@pytest.mark.skipif(not GLIBC, reason="malloc_trim and mallopt are glibc's")
def test_heap_guard_trims_once_memory_outgrows_the_settled_size_and_not_before():
    code = """
import json, numpy
from jetgraph.memory import HeapGuard, keep_freed_memory, resident_bytes
keep_freed_memory()
guard = HeapGuard(growth=1.5, settle=2)
small = [guard.after_step() for _ in range(4)]          # settles at the interpreter's size, stays there
reference = guard.reference
block = numpy.ones(100_000_000); del block              # 800 MB touched and freed: kept resident
kept = resident_bytes()
trimmed = guard.after_step()
print(json.dumps({"small": small, "reference": reference, "kept": kept, "trimmed": trimmed,
                  "after": resident_bytes(), "trims": guard.trims, "again": guard.after_step()}))
"""
    out = json.loads(_run(code))
    assert out["small"] == [False] * 4 and out["reference"] > 0
    assert out["kept"] > out["reference"] + 700 * 2**20  # keep_freed_memory: the freed block stays resident
    assert out["trimmed"] and out["trims"] == 1
    assert out["after"] < out["reference"] + 100 * 2**20  # handed back
    assert out["again"] is False  # nothing new to hand back: no trim on the next step


@pytest.mark.skipif(not GLIBC, reason="malloc_trim and mallopt are glibc's")
def test_steps_that_really_need_more_memory_cost_two_trims_not_one_every_step():
    code = """
import json, numpy
from jetgraph.memory import HeapGuard, keep_freed_memory
keep_freed_memory()
guard = HeapGuard(growth=1.5, settle=2)
trimmed = [guard.after_step(), guard.after_step()]     # settled at the interpreter's size
for _ in range(4):                                      # then every step touches 800 MB and frees it
    block = numpy.ones(100_000_000); del block
    trimmed.append(guard.after_step())
print(json.dumps({"trimmed": trimmed, "trims": guard.trims}))
"""
    out = json.loads(_run(code))
    assert out["trimmed"] == [False, False, True, True, False, False] and out["trims"] == 2
