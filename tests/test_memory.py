"""keep_freed_memory: asks glibc's malloc once, is safe to repeat, and says whether it could."""

from __future__ import annotations

import platform
import subprocess
import sys


def test_keep_freed_memory_is_repeatable_and_true_on_glibc():
    code = (
        "from jetgraph.memory import keep_freed_memory\n"
        "import numpy\n"
        "first, second = keep_freed_memory(), keep_freed_memory()\n"
        "big = numpy.ones(50_000_000); del big  # a block over 32 MB: served and freed without trouble\n"
        "print(first, second)"
    )
    # its own process: the setting lasts for the life of the process that makes it
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert out == [str(glibc)] * 2
