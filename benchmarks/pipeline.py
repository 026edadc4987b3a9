"""The input pipeline of pretraining, from files to two augmented views, in jets per second per process.

A training process needs, per step, its share of jets read from the files, cut into ``JetBatch`` es
and turned into two augmented views (``Inputs.pair``: the default config's chain, a rotation and a
20% per-particle pT smearing, and the features the encoder then computes are not included). Measured
on one synthetic JetClass-layout file (LZ4), in one run, against raw uproot reading the same branches:

1. ``JetDataset -> JetBatch`` alone (no DataLoader worker);
2. the augmentation chain alone on ready batches of 256 jets, one thread (the target of 30,000 jets/s
   on one core);
3. the whole pipeline, ``DataLoader(JetDataset, num_workers=W)`` then two views in the main process,
   for W = 0, 1, 2 (the target of 30,000 jets/s with 2 workers on 2 cores).

The process keeps freed memory for reuse (:mod:`jetgraph.memory`), as the trainer's process does on a CPU
(its DataLoader workers inherit it). Workers send each batch as one packed buffer (``JetBatch.__reduce__``).

From these the script says what a GPU host with 8 cores per GPU would get: the rate of one worker's
reading and batching, times the workers, against the main process's view making, whichever is
slower. The exit code is 0 whether or not the targets are met.

Usage::

    python benchmarks/pipeline.py             # 100,000 jets, best of 3 passes
    python benchmarks/pipeline.py --quick     # 20,000 jets, a smoke check
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import uproot  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

from jetgraph.config import load_config  # noqa: E402
from jetgraph.data import JetDataset  # noqa: E402
from jetgraph.inputs import Inputs  # noqa: E402
from jetgraph.io.examples import write_jetclass  # noqa: E402
from jetgraph.io.ntuple import _branches  # noqa: E402
from jetgraph.io.recipe import load_recipe  # noqa: E402
from jetgraph.memory import keep_freed_memory  # noqa: E402

TARGET = 30_000  # jets/s: what one training process needs to feed a current GPU (docs/scale.md)
BATCH = 256
CONFIG = Path(__file__).resolve().parents[1] / "configs" / "pretrain" / "qg_transformer.yaml"


def _best(repeats: int, function) -> float:  # noqa: ANN001
    best = float("inf")
    for _ in range(repeats + 1):  # the first pass warms up
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def raw_uproot(path: Path, step: int) -> int:
    recipe = load_recipe("jetclass")
    names = _branches(recipe, list(recipe.label.one_hot))
    with uproot.open(path) as handle:
        return sum(len(c) for c in handle["tree"].iterate(filter_name=names, step_size=step, library="ak"))


def batches(path: Path, step: int) -> int:
    return sum(b.num_jets for b in JetDataset([str(path)], BATCH, recipe="jetclass", step_size=step, rank=0,
                                              world_size=1))  # fmt: skip


def pipeline(path: Path, step: int, workers: int, inputs: Inputs) -> int:
    dataset = JetDataset([str(path)], BATCH, recipe="jetclass", step_size=step, shuffle_buffer=2 * step, seed=1)
    loader = DataLoader(dataset, batch_size=None, num_workers=workers, persistent_workers=False)
    generator = torch.Generator().manual_seed(0)
    jets = 0
    for batch in loader:
        inputs.pair(batch, generator)
        jets += batch.num_jets
    return jets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jets", type=int, default=None, help="jets in the file (default 100000; 20000 quick)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = args.jets or (20_000 if args.quick else 100_000)
    step = 10_000
    torch.set_num_threads(1)
    kept = keep_freed_memory()  # as the trainer does on a CPU; its DataLoader workers inherit it
    inputs = Inputs(load_config(CONFIG).augment, "graph")
    with tempfile.TemporaryDirectory(prefix="jetgraph-pipeline-") as folder:
        path = write_jetclass(Path(folder) / "jets.root", n, seed=1)
        ready = list(JetDataset([str(path)], BATCH, recipe="jetclass", step_size=step, rank=0, world_size=1))
        generator = torch.Generator().manual_seed(0)

        def chain() -> None:
            for batch in ready:
                inputs.pair(batch, generator)

        seconds = {
            "uproot tree.iterate (raw), reference": _best(args.repeats, lambda: raw_uproot(path, step)),
            "JetDataset -> JetBatch (no worker)": _best(args.repeats, lambda: batches(path, step)),
            "two views of ready batches (1 thread)": _best(args.repeats, chain),
        }
        for workers in (0, 1, 2):
            name = f"files -> two views, {workers} worker(s)"
            seconds[name] = _best(args.repeats, lambda w=workers: pipeline(path, step, w, inputs))
    rate = {name: n / s for name, s in seconds.items()}
    cores = os.cpu_count() or 1
    print(f"{n:,} jets, batches of {BATCH}, chunks of {step:,}; {cores} cores; best of {args.repeats} passes; "
          f"malloc keeps freed memory: {'yes' if kept else 'no'}")  # fmt: skip
    print(f"{'stage':<42} {'seconds':>8} {'jets/s':>10}")
    for name, s in seconds.items():
        print(f"{name:<42} {s:>8.3f} {rate[name]:>10,.0f}")
    read = rate["JetDataset -> JetBatch (no worker)"]
    views = rate["two views of ready batches (1 thread)"]
    host = min(8 * read, views)
    print(f"a GPU host with 8 cores per GPU: 8 workers x {read:,.0f} reading and batching, views at {views:,.0f} "
          f"in the training process: {host:,.0f} jets/s per GPU ({'views' if views < 8 * read else 'reading'} "
          f"on the critical path)")  # fmt: skip
    chain_rate, two = views, rate["files -> two views, 2 worker(s)"]
    print(f"TARGET augmentation chain >= {TARGET:,} jets/s on one core: {chain_rate:,.0f} -> "
          f"{'MET' if chain_rate >= TARGET else 'NOT MET'}")  # fmt: skip
    print(f"TARGET whole pipeline with 2 workers >= {TARGET:,} jets/s on {cores} cores: {two:,.0f} -> "
          f"{'MET' if two >= TARGET else 'NOT MET'}")  # fmt: skip


if __name__ == "__main__":
    main()
