"""Reading speed and streaming memory of ``jetgraph.iterate`` on a JetClass-style ROOT file (LZ4).

Two measurements, each compared in the same run against a reference (benchmarks print a
table and a ratio, they never assert a time):

1. Speed: jets/s of ``jetgraph.iterate`` into canonical awkward arrays, next to raw uproot reading
   the same branches (``tree.iterate(filter_name=<the recipe's branches>, step_size=..., library="ak")``)
   with the same step size, every chunk consumed. Readers run interleaved, ``--repeats`` times after
   one warm-up pass each, and the best time of each counts (the machine is noisy).
   Target: jetgraph's rate >= 50% of raw uproot's. The same holds one step further, for
   ``jetgraph.data.JetDataset`` yielding ``JetBatch`` es of 256 jets (torch tensors, collated from the
   awkward buffers), the input of training, and for a per-event file in the CMS PFNano layout (the
   same jets, four per event, candidates linked to their jet by index branches; recipe ``pfnano``)
   against raw uproot reading its branches.
2. Memory: peak RSS growth (the peak RSS minus the RSS right after the imports) while iterating the
   ``--jets`` file and a ``--scale`` times larger one with the same step size, each in a fresh process.
   The peak is ``VmHWM`` on Linux, not ``ru_maxrss``, which inherits the parent's peak across exec.
   Target: growth for the larger file <= 1.5x the growth for the smaller one (it streams).

Everything runs with one thread (OMP/BLAS thread counts are set to 1 before numpy is imported;
uproot decompresses in the calling thread by default).

Usage::

    python benchmarks/io.py                       # 100k jets, 1M-jet file for memory, step 50k
    python benchmarks/io.py --quick               # 20k jets, scale 5, step 5k: a smoke check
    python benchmarks/io.py --workdir data/bench  # keep the files and reuse them next time

The files are synthetic (``jetgraph.io.examples.write_jetclass``): the JetClass branch layout with
random jets, about 1.5 kB per jet compressed. The exit code is 0 whether or not the targets are met.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import uproot  # noqa: E402

import jetgraph  # noqa: E402
import jetgraph.io.examples as examples  # noqa: E402
from jetgraph.io.ntuple import _branches, _tree_name  # noqa: E402
from jetgraph.io.recipe import load_recipe  # noqa: E402

RECIPE = "jetclass"
SPEED_TARGET = 0.50  # jetgraph rate / raw uproot rate, at least
MEMORY_TARGET = 1.5  # peak growth of the scaled file / peak growth of the base file, at most
MB = 1024 * 1024
BATCH_SIZE = 256


# --------------------------------------------------------------------------------------------- files


def _entries(path: Path) -> int | None:
    """Entries in the file's JetClass tree, or None when it is missing or unreadable."""
    try:
        with uproot.open(path) as handle:
            return int(handle[_tree_name(load_recipe(RECIPE))].num_entries)
    except Exception:
        return None


def ensure_file(workdir: Path, n_jets: int) -> Path:
    """The LZ4 JetClass-style file with ``n_jets`` jets in ``workdir``: reused if complete, else written."""
    path = workdir / f"jetclass_lz4_{n_jets}.root"
    if path.exists() and _entries(path) == n_jets:
        print(f"reusing {path} ({n_jets:,} jets, {path.stat().st_size / MB:.0f} MB)")
        return path
    start = time.perf_counter()
    examples.write_jetclass(path, n_jets, compression="lz4", progress=True)  # atomic: .partial, then rename
    print(f"wrote {path} ({n_jets:,} jets, {path.stat().st_size / MB:.0f} MB) in {time.perf_counter() - start:.1f} s")
    return path


# --------------------------------------------------------------------------------------------- readers


def _recipe_branches(name: str) -> list[str]:
    recipe = load_recipe(name)
    return _branches(recipe, [recipe.label.branch] if recipe.label.branch else list(recipe.label.one_hot))


def read_uproot(path: Path, step_size: int, recipe: str = RECIPE) -> int:
    """Raw uproot: the branches a recipe reads, as awkward arrays, every chunk consumed; returns the entries."""
    n = 0
    with uproot.open(path) as handle:
        tree = handle[_tree_name(load_recipe(recipe))]
        for chunk in tree.iterate(filter_name=_recipe_branches(recipe), step_size=step_size, library="ak"):
            n += len(chunk)
    return n


def read_jetgraph(path: Path, step_size: int) -> int:
    """``jetgraph.iterate`` with the recipe named: canonical jets, validated."""
    return sum(len(chunk) for chunk in jetgraph.iterate(path, recipe=RECIPE, step_size=step_size))


def read_batches(path: Path, step_size: int) -> int:
    """``JetDataset`` (no shuffle, one process): canonical jets cut into ``JetBatch`` es of 256 jets."""
    import torch

    from jetgraph.data import JetDataset

    torch.set_num_threads(1)
    return sum(b.num_jets for b in JetDataset(path, BATCH_SIZE, recipe=RECIPE, step_size=step_size))


def read_jetgraph_detect(path: Path, step_size: int) -> int:
    """``jetgraph.iterate`` with ``recipe=None``: the format is detected from the file first."""
    return sum(len(chunk) for chunk in jetgraph.iterate(path, step_size=step_size))


READERS: dict[str, Callable[[Path, int], int]] = {
    "uproot tree.iterate (raw)": read_uproot,
    "jetgraph.iterate (recipe)": read_jetgraph,
    "jetgraph.iterate (detect)": read_jetgraph_detect,
    "JetDataset -> JetBatch (256)": read_batches,
}
COLLATED = "JetDataset -> JetBatch (256)"
REFERENCE = "uproot tree.iterate (raw)"
TARGETED = "jetgraph.iterate (recipe)"


# --------------------------------------------------------------------------------------------- memory


def _status_kb(field: str) -> int | None:
    """A ``VmRSS``/``VmHWM`` line of /proc/self/status in bytes (Linux), else None."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _rss_now() -> int:
    """Resident set size of this process in bytes (the peak so far where /proc is missing)."""
    return _status_kb("VmRSS") or _peak_rss()


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes.

    ``VmHWM`` on Linux: ``getrusage(RUSAGE_SELF).ru_maxrss`` would be wrong in a child started by
    fork + exec, because Linux carries the parent's high-water mark over the exec (a child of a parent
    holding 300 MB reports ru_maxrss >= 300 MB while it holds 9). Elsewhere ``ru_maxrss`` (kilobytes,
    bytes on macOS).
    """
    hwm = _status_kb("VmHWM")
    if hwm is not None:
        return hwm
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def memory_child(reader: str, path: str, step_size: int) -> None:
    """Hidden ``--_memory-child``: iterate one file in this fresh process; print the peak growth as JSON."""
    after_imports = _rss_now()
    import_excess = _peak_rss() - after_imports  # a transient peak during the imports would hide growth
    n = READERS[reader](Path(path), step_size)
    print(json.dumps({"jets": n, "growth": _peak_rss() - after_imports, "import_excess": import_excess}))


def measure_memory(reader: str, path: Path, step_size: int) -> dict:
    """Run :func:`memory_child` in a fresh interpreter, so nothing allocated here hides or adds to the peak."""
    command = [sys.executable, os.path.abspath(__file__), "--_memory-child", reader, str(path), str(step_size)]
    done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory measurement of {reader} on {path} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------- main


def measure_speed(path: Path, n_jets: int, step_size: int, repeats: int) -> dict[str, float]:
    """Best seconds per reader: one warm-up pass each (page cache, lazy imports), then interleaved repeats."""
    for read in READERS.values():
        read(path, step_size)
    best = {name: float("inf") for name in READERS}
    for _ in range(repeats):
        for name, read in READERS.items():
            start = time.perf_counter()
            got = read(path, step_size)
            best[name] = min(best[name], time.perf_counter() - start)
            if got != n_jets:
                print(f"warning: {name} gave {got:,} jets, expected {n_jets:,}")
    return best


PER_EVENT = 4
"""Jets per event of the PFNano-layout file."""


def ensure_events(workdir: Path, jets_file: Path, n_jets: int) -> Path:
    """The jets of ``jets_file`` as a PFNano-layout file of events of four jets (written once)."""
    path = workdir / f"pfnano_{n_jets}.root"
    if not path.exists():
        start = time.perf_counter()
        examples.write_nanoaod(jetgraph.read(jets_file, recipe=RECIPE), path, jets_per_event=PER_EVENT)
        print(
            f"wrote {path} ({n_jets:,} jets in {n_jets // PER_EVENT:,} events) in {time.perf_counter() - start:.1f} s"
        )
    return path


def measure_per_event(path: Path, n_jets: int, step_size: int, repeats: int) -> float:
    """jets/s of ``jetgraph.iterate`` (recipe pfnano) over raw uproot's on the same branches and events per step."""
    events = max(1, step_size // PER_EVENT)  # the same jets per chunk as the one-jet-per-entry file
    readers = {
        "uproot tree.iterate (raw)": lambda: read_uproot(path, events, "pfnano") * PER_EVENT,
        "jetgraph.iterate (pfnano)": lambda: sum(len(c) for c in jetgraph.iterate(path, "pfnano", events)),
    }
    best = {name: float("inf") for name in readers}
    for _ in range(repeats + 1):  # the first pass warms up
        for name, read in readers.items():
            start = time.perf_counter()
            got = read()
            best[name] = min(best[name], time.perf_counter() - start)
            if got != n_jets:
                print(f"warning: {name} gave {got:,} jets, expected {n_jets:,}")
    print()
    print(f"per-event file (PFNano layout, {PER_EVENT} jets per event, {events:,} events per step)")
    for name, seconds in best.items():
        ratio = best["uproot tree.iterate (raw)"] / seconds
        print(f"{name:<28} {n_jets:>10,} {seconds:>8.3f} {n_jets / seconds:>11,.0f} {ratio:>9.0%}")
    return best["uproot tree.iterate (raw)"] / best["jetgraph.iterate (pfnano)"]


def _verdict(ok: bool) -> str:
    return "MET" if ok else "NOT MET"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--jets", type=int, default=None, help="jets in the speed file (default 100000; 20000 with --quick)")
    add("--scale", type=int, default=None, help="memory file size in units of --jets (default 10; 5 with --quick)")
    add("--step-size", type=int, default=None, help="jets per chunk, every reader (default 50000; 5000 with --quick)")
    add("--repeats", type=int, default=7, help="timed passes per reader, the best counts (default 7)")
    add("--workdir", type=Path, default=None, help="where files are written and reused (default: a temporary dir)")
    add("--quick", action="store_true", help="a smoke check in well under a minute")
    add("--_memory-child", nargs=3, metavar=("READER", "PATH", "STEP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.jets = args.jets or (20_000 if args.quick else 100_000)
    args.scale = args.scale or (5 if args.quick else 10)
    args.step_size = args.step_size or (5_000 if args.quick else 50_000)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args._memory_child:
        reader, path, step = args._memory_child
        memory_child(reader, path, int(step))
        return 0
    n_jets, n_large, step_size = args.jets, args.jets * args.scale, args.step_size
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="jetgraph-bench-")))
        else:
            workdir = args.workdir
            workdir.mkdir(parents=True, exist_ok=True)
        n_branches = len(_recipe_branches(RECIPE))
        print(
            f"jetgraph {jetgraph.__version__}, uproot {uproot.__version__}, python {sys.version.split()[0]}, "
            f"1 thread, step_size {step_size:,}, recipe {RECIPE!r} ({n_branches} branches)"
        )
        small = ensure_file(workdir, n_jets)
        large = ensure_file(workdir, n_large)

        best = measure_speed(small, n_jets, step_size, args.repeats)
        rate = {name: n_jets / seconds for name, seconds in best.items()}
        print()
        print(f"speed: {n_jets:,}-jet LZ4 file, best of {args.repeats} interleaved passes")
        print(f"{'reader':<28} {'jets':>10} {'seconds':>8} {'jets/s':>11} {'vs uproot':>9}")
        for name in READERS:
            ratio = rate[name] / rate[REFERENCE]
            print(f"{name:<28} {n_jets:>10,} {best[name]:>8.3f} {rate[name]:>11,.0f} {ratio:>9.0%}")

        events = ensure_events(workdir, small, n_jets)
        per_event = measure_per_event(events, n_jets, step_size, args.repeats)

        growth: dict[tuple[str, int], float] = {}
        print()
        print(
            f"memory: peak RSS growth while iterating (peak RSS - RSS after imports), fresh process each, "
            f"step {step_size:,}"
        )
        print(f"{'reader':<28} {'file jets':>10} {'peak MB':>8} {'vs 1x':>6}")
        for name in (REFERENCE, TARGETED):
            for path, jets in ((small, n_jets), (large, n_large)):
                result = measure_memory(name, path, step_size)
                growth[name, jets] = result["growth"] / MB
                base = growth[name, n_jets]
                ratio = growth[name, jets] / base if base > 0 else float("inf")
                print(f"{name:<28} {jets:>10,} {growth[name, jets]:>8.0f} {ratio:>5.2f}x")
                if result["import_excess"] > 0.1 * result["growth"]:
                    print(f"  (the imports peaked {result['import_excess'] / MB:.0f} MB above the RSS after them)")

    speed = rate[TARGETED] / rate[REFERENCE]
    base, grown = growth[TARGETED, n_jets], growth[TARGETED, n_large]
    memory = grown / base if base > 0 else float("inf")
    print()
    print(
        f"speed criterion: jets/s of {TARGETED} / jets/s of {REFERENCE} on the same file, branches and step "
        f">= {SPEED_TARGET:.0%}"
    )
    print(
        f"memory criterion: peak RSS growth of {TARGETED} on the {n_large:,}-jet file ({grown:.0f} MB) "
        f"<= {MEMORY_TARGET}x its growth on the {n_jets:,}-jet file ({base:.0f} MB)"
    )
    print(f"total time {time.perf_counter() - began:.0f} s")
    collated = rate[COLLATED] / rate[REFERENCE]
    print(
        f"TARGET jetgraph.iterate >= {SPEED_TARGET:.0%} of raw uproot rate: {speed:.0%} -> "
        f"{_verdict(speed >= SPEED_TARGET)}"
    )
    print(
        f"TARGET JetDataset -> JetBatch >= {SPEED_TARGET:.0%} of raw uproot rate: {collated:.0%} -> "
        f"{_verdict(collated >= SPEED_TARGET)}"
    )
    print(
        f"TARGET per-event file (PFNano layout): jetgraph.iterate >= {SPEED_TARGET:.0%} of raw uproot rate: "
        f"{per_event:.0%} -> {_verdict(per_event >= SPEED_TARGET)}"
    )
    print(
        f"TARGET peak memory for {args.scale}x file <= {MEMORY_TARGET}x of 1x file: {memory:.2f}x -> "
        f"{_verdict(memory <= MEMORY_TARGET)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
