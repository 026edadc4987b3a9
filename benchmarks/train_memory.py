"""Resident memory and speed of pair-bias pretraining on a CPU, with glibc's malloc set up three ways.

The pair-bias transformer's pair MLP makes activations of hundreds of MB whose size follows each batch's
widest jet; with freed memory kept in the heap (``jetgraph.memory``) such a run once grew from 5 GB to
over 20 GB (docs/results.md). This runs the real training (``jetgraph.train.Trainer.fit``: data loading,
augmentation, steps, evaluation, checkpoints) of ``configs/pretrain/top_showers_transformer.yaml`` with
``model.params.pair_bias=true`` for ``--steps`` steps, once per mode, each in its own process (malloc's
settings last for the life of a process), one after the other:

- ``default``: malloc as glibc ships it (blocks over 32 MB mmap'd and handed back on free: their pages
  fault again on every step);
- ``keep``: ``keep_freed_memory`` alone, as the trainer ran before ``HeapGuard``;
- ``guarded``: ``keep_freed_memory`` with ``HeapGuard``, what the trainer does on a CPU.

Per run: peak resident memory (the kernel's ``VmHWM`` of the process, sampled every second), jets/s
(the mean of ``metrics.csv``'s train rows after the first 20 steps), the guard's trims, the last step
a process logged (every 10) if it was stopped at ``--memory-limit`` GB, and the resident memory it
logged every 50 steps. Whether the heap fragments varies from run to run (of three ``keep`` runs of
the same command, two kept growing and one stayed at 6.4 GB): name a mode twice in ``--modes`` to run
it twice. The training files are ``--data`` (shower pairs: ``jetgraph generate top_qcd --showers 2``),
or a sample of ``--jets`` jets generated into ``--workdir`` on the first run.

Target: the guarded peak <= 1.5x the default malloc's (the highest of each), at >= 0.9x the jets/s of
``keep`` (the mean of each). The exit code is 0 whether or not it is met.

Usage::

    python benchmarks/train_memory.py                 # 300 steps per mode: half an hour on 2 cores, and the sample
    python benchmarks/train_memory.py --steps 30 --jets 2000  # smoke check
    python benchmarks/train_memory.py --data data/quality_top/samples/showers_top_qcd_40000_seed6.root \\
        data/quality_top/samples/showers_more_top_qcd_40000_seed8.root     # pair_bias_long's training files
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODES = ("default", "keep", "guarded")
CONFIG = ROOT / "configs" / "pretrain" / "top_showers_transformer.yaml"


def _child(mode: str, run_dir: str, data: list[str], steps: int, threads: int) -> None:
    """Train in this process with malloc set up as ``mode``; print the guard's trims as JSON."""
    import jetgraph.train as train
    from jetgraph.config import load_config

    if mode == "default":
        train.keep_freed_memory = lambda: False  # the trainer then keeps nothing and builds no guard
    overrides = [
        "model.params.pair_bias=true",
        f"data.train={json.dumps(data)}",  # JSON is YAML
        "data.val=[]",  # held-out metrics on the first training jets
        "data.val_jets=1000",
        f"train.max_steps={steps}",
        "train.epochs=100000",
        f"train.threads={threads}",
        "train.progress=false",
    ]
    trainer = train.Trainer(load_config(CONFIG, overrides), run_dir)
    if mode == "keep":
        trainer.heap = None
    trainer.fit()
    print(json.dumps({"trims": trainer.heap.trims if trainer.heap is not None else None}))


def _peak_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    except (OSError, StopIteration):
        return 0


def _train_rows(run_dir: Path) -> list[dict[str, str]]:
    path = run_dir / "metrics.csv"
    if not path.exists():
        return []
    with path.open() as handle:
        return [row for row in csv.DictReader(handle) if row["split"] == "train"]


def _trajectory(rows: list[dict[str, str]], every: int = 50) -> str:
    """Resident GB every ``every`` steps, as the run logged it after a step."""
    return " ".join(f"{float(row['resident_gb']):.1f}" for row in rows if int(row["step"]) % every == 0)


def measure(mode: str, data: list[str], steps: int, threads: int, limit_gb: float) -> dict:
    """One mode in its own process: peak resident GB, jets/s, trims, and where it was stopped if it was."""
    with tempfile.TemporaryDirectory(prefix=f"train_memory_{mode}_") as tmp:
        run_dir = Path(tmp) / "run"
        command = [sys.executable, __file__, "--child", mode, "--run-dir", str(run_dir), "--steps", str(steps),
                   "--threads", str(threads), "--data", *data]  # fmt: skip
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        peak, stopped = 0, None
        while process.poll() is None:
            peak = max(peak, _peak_kb(process.pid))
            if peak > limit_gb * 2**20:
                process.kill()
                stopped = True
                break
            time.sleep(1)
        out, _ = process.communicate()
        if not stopped and process.returncode != 0:
            raise SystemExit(f"train_memory.py: the {mode} run failed (exit code {process.returncode})")
        rows = _train_rows(run_dir)
        rates = [float(row["jets_per_s"]) for row in rows if int(row["step"]) > 20]  # after the warm-up
        return {
            "mode": mode,
            "peak_gb": peak / 2**20,
            "jets_per_s": sum(rates) / len(rates) if rates else float("nan"),
            "trims": None if stopped else json.loads(out.strip().splitlines()[-1])["trims"],
            "stopped_at": (int(rows[-1]["step"]) if rows else 0) if stopped else None,
            "trajectory": _trajectory(rows),
            "minutes": (time.perf_counter() - start) / 60,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps per mode (default 300)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads")
    parser.add_argument("--data", nargs="+", help="shower-pair training files (default: generate --jets jets)")
    parser.add_argument("--jets", type=int, default=20000, help="jets to generate without --data (default 20000)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "data" / "bench_memory", help="where to generate")
    parser.add_argument("--memory-limit", type=float, default=16.0, help="stop a mode above this many GB")
    modes_help = f"comma-separated, of {', '.join(MODES)}, run in this order; a mode named twice runs twice"
    parser.add_argument("--modes", default=",".join(MODES), help=modes_help)
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.run_dir, args.data, args.steps, args.threads)
        return
    modes = [mode for mode in args.modes.split(",") if mode]
    if unknown := sorted(set(modes) - set(MODES)):
        parser.error(f"--modes: unknown {', '.join(unknown)}; expected some of {', '.join(MODES)}")
    from probe import cpu_name  # here, not in the measured children: these import the generator
    from quality import make_samples

    data = args.data
    if not data:  # made once, as quality.py makes its samples
        path = args.workdir / f"top_qcd_showers_{args.jets}_seed6.root"
        spec = {"sample": "top_qcd", "jets": args.jets, "showers": 2, "seed": 6}
        make_samples({"showers": spec}, {"showers": path}, workers=args.threads)
        data = [str(path)]
    print(f"{cpu_name()}, {args.threads} threads; pair-bias pretraining, {args.steps} steps of 512 jets per mode")
    results = []
    for mode in modes:
        results.append(measure(mode, data, args.steps, args.threads, args.memory_limit))
        print(f"  {mode}: done in {results[-1]['minutes']:.1f} min", flush=True)
    print("\n| malloc | peak resident GB | jets/s | trims | stopped at | resident GB every 50 steps |")
    print("|---|---|---|---|---|---|")
    for row in results:
        stopped = f"step {row['stopped_at']} (> {args.memory_limit:g} GB)" if row["stopped_at"] is not None else ""
        trims = "" if row["trims"] is None else row["trims"]
        print(f"| {row['mode']} | {row['peak_gb']:.1f} | {row['jets_per_s']:.0f} | {trims} | {stopped} "
              f"| {row['trajectory']} |")  # fmt: skip
    of = {mode: [row for row in results if row["mode"] == mode] for mode in MODES}
    if all(of.values()):
        memory = max(row["peak_gb"] for row in of["guarded"]) / max(row["peak_gb"] for row in of["default"])
        rate = {mode: statistics.fmean(row["jets_per_s"] for row in rows) for mode, rows in of.items()}
        speed = rate["guarded"] / rate["keep"]
        met = all(row["stopped_at"] is None for row in of["guarded"]) and memory <= 1.5 and speed >= 0.9
        verdict = "MET" if met else "NOT MET"
        print(f"\nTARGET guarded peak memory <= 1.5x the default malloc's (is {memory:.2f}x, highest of each) "
              f"at >= 0.9x the jets/s of keep (is {speed:.2f}x, mean of each) -> {verdict}")  # fmt: skip
    else:
        print("\nTARGET needs all three modes (--modes default,keep,guarded) -> NOT MEASURED")


if __name__ == "__main__":
    main()
