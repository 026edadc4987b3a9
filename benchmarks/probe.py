"""The frozen-encoder probe at the size people use: 40,000 labelled jets, every label fraction, per stage.

``jetgraph probe`` reads the jets, embeds them with the frozen encoder, then fits the linear probe, the
MLP probe (its penalty chosen by cross-validation) and the observable baselines (logistic, GBDT) at
each label fraction, and draws the figures. The supervised references (training the encoder's
architecture from scratch and fine-tuned) are left out: they take a chosen budget each, by design.

One run, one labelled file: an encoder of the default top config (``configs/pretrain/top_transformer.yaml``)
at random initialisation (``train.max_steps=0``; the probe costs the same for any weights) is probed
with ``--task top`` twice, with one thread (``--threads 1``, the default of ``configs/probe/*.yaml``)
and with every core, the embedding computed anew each time. The table is the seconds of each stage.

The issue's target is absolute: minutes, not tens of minutes, for 40,000 jets on a laptop-class
machine (here: at most 5 minutes for the whole probe with one thread). The ratio printed next to it
is the whole probe over the embedding stage alone, the part no probe can skip.

Usage::

    python benchmarks/probe.py --data data/quality_top/samples/probe_top_qcd_40000_seed2.root
    python benchmarks/probe.py --quick      # generates 1,000 top/QCD jets: a smoke check

The exit code is 0 whether or not the target is met.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import jetgraph
from jetgraph.generate.production import generate

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "pretrain" / "top_transformer.yaml"
TARGET_MINUTES = 5.0  # the whole probe of TARGET_JETS jets, one thread
TARGET_JETS = 40_000
FRACTIONS = (0.01, 0.1, 1.0)


def cpu_name() -> str:
    """The CPU's model name and core count, for a benchmark's first line (``train_memory.py`` uses it too)."""
    try:
        names = [line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0] if names else 'unknown CPU'}, {os.cpu_count()} cores"


def probe_once(run: Path, data: Path, threads: int) -> tuple[float, dict[str, float]]:
    """Probe ``run`` on ``data`` from scratch (no cached embedding); the wall time and each stage's seconds."""
    shutil.rmtree(run / "probe", ignore_errors=True)
    start = time.perf_counter()
    results = jetgraph.probe(
        run, "top", data=[str(data)], label_fractions=FRACTIONS, supervised=False, threads=threads, seed=0
    )
    return time.perf_counter() - start, results["stage_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, help="a labelled top/QCD file (jetgraph generate top_qcd)")
    parser.add_argument("--quick", action="store_true", help="generate 1,000 jets instead: a smoke check")
    args = parser.parse_args()
    if not args.quick and args.data is None:
        parser.error("--data FILE (e.g. 40,000 jets: jetgraph generate top_qcd --jets 40000 --seed 2 ...) or --quick")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = args.data
        if data is None:
            data = folder / "top_qcd.root"
            generate("top_qcd", 1000, data, seed=2, progress=False)
        run = folder / "run"
        jetgraph.pretrain(CONFIG, run, overrides=[f"data.train={data}", f"data.val={data}", "train.max_steps=0"])
        cores = os.cpu_count() or 1
        timings = {threads: probe_once(run, data, threads) for threads in dict.fromkeys((1, cores))}
        jets = jetgraph.count(str(data))  # read, split 60/20/20 into training, validation and test jets
    print(f"# {cpu_name()}; {data}")
    stages = list(next(iter(timings.values()))[1])
    print(f"{'stage':<44}" + "".join(f"{f'{t} thread(s), s':>20}" for t in timings))
    for name in stages:
        row = (seconds.get(name, float("nan")) for _, seconds in timings.values())
        print(f"{name:<44}" + "".join(f"{value:>20.1f}" for value in row))
    print(f"{'whole probe':<44}" + "".join(f"{total:>20.1f}" for total, _ in timings.values()))
    total, seconds = timings[1]
    embed = next(v for k, v in seconds.items() if k.startswith("embed"))
    minutes = total / 60
    verdict = "MET" if minutes <= TARGET_MINUTES else "NOT MET"
    if jets < TARGET_JETS:
        verdict = f"not judged: the target is for {TARGET_JETS:,} jets"
    print(
        f"TARGET probe of {jets:,} jets, fractions {list(FRACTIONS)}, no supervised references, one thread "
        f"<= {TARGET_MINUTES:g} min: {minutes:.1f} min ({total / embed:.1f}x the embedding) -> {verdict}"
    )


if __name__ == "__main__":
    main()
