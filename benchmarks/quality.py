"""Representation quality at a fixed CPU budget: pretrain every encoder for the same time, probe, tabulate.

For each run of the config (``benchmarks/quality.yaml``) and each seed:

1. samples: the pretraining and probe samples are generated with ``jetgraph generate`` (Pythia 8 +
   FastJet + the replica detector), once, and reused;
2. budget: a few training steps of the run's config are timed on this machine and the wall-clock
   budget becomes ``train.max_steps`` (the warm-up and cosine span exactly those steps), so the
   printed step count reproduces the run anywhere; ``steps: 0`` is the random-initialisation
   control, ``supervised: true`` trains the same encoder on every label of the pretraining sample
   for the same budget instead;
3. pretraining (resumed when a previous invocation was killed), then ``jetgraph probe`` on the probe
   sample with the seed as the split seed, so that every row of one seed shares its test jets; a
   record probed on another probe sample is probed again (and left out of the tables until it is).

The results go to ``WORKDIR/results.json`` (every number), ``WORKDIR/results.md`` (mean ± standard
deviation over seeds, and the differences that the targets of issue 7 ask about, paired per seed) and
``WORKDIR/*.png``. Everything already done is skipped, so a rerun after a kill, or with more seeds,
does only the rest.

Usage::

    .venv/bin/python benchmarks/quality.py                          # the config: 20 min per run, 3 seeds
    .venv/bin/python benchmarks/quality.py --budget-minutes 5 --seeds 0,1,2 --only transformer,random
    .venv/bin/python benchmarks/quality.py --reproduce              # the published setups (configs/reproduce/)
    .venv/bin/python benchmarks/quality.py --quick                  # a smoke check: small samples, seconds
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

import jetgraph
from jetgraph import runs
from jetgraph.batch import JetBatch
from jetgraph.config import PretrainConfig, load_config
from jetgraph.data import JetDataset
from jetgraph.inputs import Inputs
from jetgraph.outputs import written_atomically
from jetgraph.probes.classify import split_indices
from jetgraph.probes.metrics import bootstrap
from jetgraph.probes.plots import label_fraction_figure
from jetgraph.probes.run import probe
from jetgraph.probes.supervised import train_classifier
from jetgraph.train import Trainer, pretrain

ROOT = Path(__file__).resolve().parents[1]
CALIBRATION_SECONDS = 30.0  # timed steps per calibration, at least 3
SUPERVISED_BATCH, SUPERVISED_LR = 128, 1e-3


def _git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "jetgraph", "benchmarks", "configs"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
    except OSError:
        return "unknown"
    return commit.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def _write(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a record read back as "done" must never be half-written."""
    with written_atomically(path) as partial:
        partial.write_text(text)


def resolve_runs(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every run of a quality config (runs, tuning variants of ``transformer``, reproduced setups) resolved.

    ``like`` is expanded: the parent's settings, its overrides first, then the run's own. A tuning
    variant is ``like: transformer`` without its few-label references unless it names another parent,
    whose references it inherits.
    """
    tuning = {
        name: spec if "like" in spec else {"like": "transformer", "references": [], **spec}
        for name, spec in config.get("tuning", {}).items()
    }
    runs_config = {**config["runs"], **tuning, **config.get("reproduce", {})}

    def resolve(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if name in seen or name not in runs_config:
            raise SystemExit(
                f"benchmarks/quality: run {name!r} is unknown or `like`s itself; runs: {list(runs_config)}"
            )
        own = dict(runs_config[name])
        parent = resolve(own.pop("like"), (*seen, name)) if "like" in own else {}
        merged = {**parent, **own, "set": [*parent.get("set", []), *own.get("set", [])]}
        merged.setdefault("tasks", ["qg"])
        merged.setdefault("references", [])
        return merged

    return {name: resolve(name) for name in runs_config}


def make_samples(samples: dict[str, dict[str, Any]], workdir: Path, workers: int) -> dict[str, Path]:
    """Generate each sample once (``jetgraph generate`` writes atomically: a file that exists is whole)."""
    paths = {}
    for name, spec in samples.items():
        path = workdir / "samples" / f"{name}_{spec['sample']}_{spec['jets']}_seed{spec['seed']}.root"
        if not path.exists():
            command = [
                str(Path(sys.executable).parent / "jetgraph"), "generate", spec["sample"], "--jets", str(spec["jets"]),
                "--replicas", str(spec.get("replicas", 0)), "--showers", str(spec.get("showers", 1)),
                "--seed", str(spec["seed"]), "--workers", str(workers), "--out", str(path),
            ]  # fmt: skip
            print("$", " ".join(command), flush=True)
            subprocess.run(command, check=True)
        paths[name] = path
    return paths


def run_config(
    run: dict[str, Any], samples: dict[str, Path], seed: int, steps: int | None, progress: bool
) -> PretrainConfig:
    """The run's pretraining config on the benchmark's samples (held-out metrics on 1000 probe jets).

    A run trains on ``samples[run["train_sample"]]`` (default ``pretrain``) and measures held-out
    metrics on ``samples[run["val_sample"]]`` (default ``probe``); it is always probed on ``probe``.
    """
    overrides = [
        *run["set"],
        f"data.train={samples[run.get('train_sample', 'pretrain')]}",
        f"data.val={samples[run.get('val_sample', 'probe')]}",
        "data.val_jets=1000",
        f"train.seed={seed}",
        "train.epochs=100000",  # the step budget decides
        f"train.progress={str(progress).lower()}",
    ]
    if steps is not None:
        overrides.append(f"train.max_steps={steps}")
    return load_config(ROOT / run["config"], overrides)


def seconds_per_step(config: PretrainConfig, seconds: float = CALIBRATION_SECONDS) -> float:
    """One pretraining step of ``config`` on this machine, reading included (after two warm-up steps)."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(copy.deepcopy(config), tmp)
        batches = (batch for _ in iter(int, 1) for batch in trainer.loader)  # epoch after epoch
        for _ in range(2):
            trainer.train_step(next(batches))
        start, done = time.perf_counter(), 0
        while done < 3 or time.perf_counter() - start < seconds:
            trainer.train_step(next(batches))
            done += 1
        trainer.close()
        return (time.perf_counter() - start) / done


def _all_jets(path: Path) -> JetBatch:
    return JetBatch.cat(list(JetDataset([str(path)], 4096, rank=0, world_size=1)))


def supervised_reference(
    random_dir: Path, pretrain_file: Path, probe_file: Path, seed: int, budget_s: float, bootstraps: int
) -> dict[str, Any]:
    """The random-initialised encoder of ``random_dir`` trained on every pretraining label for ``budget_s``.

    Scored on the probe sample's test split of ``seed``, the split ``jetgraph probe`` uses.
    """
    encoder, config, _ = runs.load_encoder(random_dir)
    inputs = Inputs(config.augment, encoder.input_kind)
    train_jets, probe_jets = _all_jets(pretrain_file), _all_jets(probe_file)
    jets = JetBatch.cat([train_jets, probe_jets])
    labels = jets.label.numpy()
    train = np.arange(train_jets.num_jets)
    _, _, test = split_indices(probe_jets.num_jets, seed=seed)
    test = test + train_jets.num_jets
    kwargs = {"batch_size": SUPERVISED_BATCH, "lr": SUPERVISED_LR, "seed": seed}

    def timed(steps: int) -> float:
        start = time.perf_counter()
        train_classifier(encoder, inputs, jets, labels, train, test[:8], steps=steps, **kwargs)
        return time.perf_counter() - start

    # the difference of two timed trainings: the copy of the encoder and the first steps' warm-up
    # cancel (five timed steps alone gave 17 to 22 minutes for a budget of 20)
    timed(2)
    short = timed(5)
    extra = max(10, int(min(CALIBRATION_SECONDS, budget_s / 10) / (short / 5)))
    step_s = max(timed(5 + extra) - short, 1e-6) / extra
    steps = max(1, int(budget_s / step_s))
    print(f"  supervised: {step_s:.2f} s/step -> {steps} steps on {len(train)} labelled jets", flush=True)
    start = time.perf_counter()
    score = train_classifier(encoder, inputs, jets, labels, train, test, steps=steps, **kwargs)
    wall = time.perf_counter() - start
    metrics = bootstrap(labels[test], score, n=bootstraps, seed=seed)
    return {"steps": steps, "wall_s": wall, "jets_seen": steps * SUPERVISED_BATCH, "metrics": metrics}


def pair_accuracy(run_dir: Path) -> list[float] | None:
    """The held-out pair accuracy before training and at the end: how easily views of a jet find each other.

    Read from the run's ``metrics.csv`` (its first and last evaluation); None without evaluations.
    """
    path = run_dir / runs.METRICS
    if not path.exists():
        return None
    with path.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == "val" and row["pair_accuracy"]]
    return [float(rows[0]["pair_accuracy"]), float(rows[-1]["pair_accuracy"])] if rows else None


def one_run(
    name: str, run: dict[str, Any], seed: int, samples: dict[str, Path], settings: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    """Pretrain (or not), probe and return the record of one run and seed; a finished record is reused.

    With ``settings["reprobe"]`` a finished pretraining run is probed again (its training record kept).
    A record probed on another probe sample (the config's changed) is stale: a pretraining run is
    probed again, the supervised reference (which keeps no model) is trained again.
    """
    run_dir = workdir / "runs" / name / f"seed{seed}"
    record_path = run_dir / "quality.json"
    old = json.loads(record_path.read_text()) if record_path.exists() else None
    stale = old is not None and old.get("probe_sample") != samples["probe"].name
    if old is not None and not stale and (not settings["reprobe"] or run.get("supervised")):
        return old
    if stale:
        again = "trained" if run.get("supervised") else "probed"
        print(f"{name}, seed {seed}: probed on {old.get('probe_sample', 'an earlier probe sample')}, "
              f"not {samples['probe'].name}: {again} again", flush=True)  # fmt: skip
    budget_s = settings["budget_minutes"] * 60
    print(f"\n== {name}, seed {seed} ==", flush=True)
    record: dict[str, Any] = {"run": name, "seed": seed, "budget_minutes": settings["budget_minutes"],
                              "probe_sample": samples["probe"].name}  # fmt: skip
    if run.get("supervised"):
        random_dir = workdir / "runs" / "random" / f"seed{seed}"
        if runs.latest_checkpoint(random_dir) is None:
            pretrain(run_config(run, samples, seed, 0, False), random_dir)
        result = supervised_reference(random_dir, samples["pretrain"], samples["probe"], seed, budget_s,
                                      settings["bootstraps"])  # fmt: skip
        record.update(steps=result["steps"], wall_s=result["wall_s"], jets_seen=result["jets_seen"])
        record["qg"] = {"supervised (all pretraining labels)": {"1.0": result["metrics"]}}
    else:
        plan = run_dir / "plan.json"
        if "steps" in run:
            steps, step_s = int(run["steps"]), 0.0
        elif plan.exists():  # calibrated by an earlier invocation that was stopped
            planned = json.loads(plan.read_text())
            steps, step_s = planned["steps"], planned["step_s"]
        else:
            calibration = run_config(run, samples, seed, None, False)
            step_s = seconds_per_step(calibration, min(CALIBRATION_SECONDS, budget_s / 10))
            steps = max(1, int(budget_s / step_s))
        run_dir.mkdir(parents=True, exist_ok=True)
        _write(plan, json.dumps({"steps": steps, "step_s": step_s}))
        config = run_config(run, samples, seed, steps, settings["progress"])
        print(f"  {step_s:.2f} s/step -> train.max_steps={steps} ({config.train.batch_size} jets per step)", flush=True)
        start = time.perf_counter()
        latest = runs.latest_checkpoint(run_dir)
        if latest is None or runs.load_checkpoint(latest)["step"] < steps:
            pretrain(config, run_dir, resume=latest is not None)
        wall_s = old["wall_s"] if old is not None else time.perf_counter() - start
        record.update(steps=steps, step_s=step_s, wall_s=wall_s, jets_seen=steps * config.train.batch_size)
        for task in run["tasks"]:
            result = probe(
                run_dir, task, samples["probe"], label_fractions=run.get("label_fractions",
                settings["label_fractions"]), seed=seed, bootstraps=settings["bootstraps"],
                supervised=bool(run["references"]), supervised_fractions=run["references"] or None,
                supervised_epochs=run.get("reference_epochs", 20), progress=settings["progress"],
            )  # fmt: skip
            record[task] = result["probes"] if task != "energy" else _energy_summary(result)
            if task == "energy":  # the same probes' regressions of the truth jet's pT and mass
                record["energy_other"] = {target: _energy_summary({"probes": probes})
                                          for target, probes in result["other_targets"].items()}  # fmt: skip
    record.update(commit=_git_commit(), version=jetgraph.__version__, torch=torch.__version__,
                  threads=torch.get_num_threads())  # fmt: skip
    record_path.parent.mkdir(parents=True, exist_ok=True)
    _write(record_path, json.dumps(record, indent=1))
    return record


def _energy_summary(result: dict[str, Any]) -> dict[str, Any]:
    """Per probe: the mean resolution over the truth-energy bins, and the bins themselves."""
    return {
        name: {"mean_resolution": float(np.mean(r["resolution"])), "mean_abs_bias": float(np.mean(np.abs(
            np.asarray(r["response"]) - 1))), **r}
        for name, r in result["probes"].items()
    }  # fmt: skip


# ------------------------------------------------------------------------------------------ tables


def _spread(values: list[float | None], digits: int = 3) -> str:
    """Mean ± standard deviation (just the value for one seed); '–' when there is nothing."""
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "–"
    mean = statistics.fmean(values)
    return f"{mean:.{digits}f}" if len(values) == 1 else f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def _metric(record: dict[str, Any], probe_name: str, fraction: str, metric: str) -> float | None:
    entry = record.get("qg", {}).get(probe_name, {}).get(fraction)
    return None if entry is None else float(entry[metric]["value"])


SHOWER_RUNS = {
    "resim": "SSL transformer on shower pairs (resim)",
    "resim_boost": "shower pairs, views boosted in η (resim_boost)",
    "resim_boost_unsmeared": "shower pairs, unsmeared (resim_boost_unsmeared)",
}
"""Runs pretrained on shower pairs, with their table names: the q/g claims are checked again for each,
on its own rows (its probe's observables and scratch references: the same test jets and labels as
the transformer's)."""

ROWS = [  # (row label, run, probe in its qg.json)
    ("SSL transformer, linear probe", "transformer", "linear"),
    ("SSL transformer, MLP probe", "transformer", "mlp"),
    ("SSL transformer, fine-tuned", "transformer", "fine-tuned"),
    ("transformer at random init, linear probe", "random", "linear"),
    ("transformer at random init, MLP probe", "random", "mlp"),
    ("transformer from scratch on the probe labels", "transformer", "supervised (scratch)"),
    (
        "transformer supervised on all pretraining labels, same budget",
        "supervised",
        "supervised (all pretraining labels)",
    ),
    *(
        (f"{name}, {probe_label}", run, probe_name)
        for run, name in SHOWER_RUNS.items()
        for probe_label, probe_name in (("linear probe", "linear"), ("MLP probe", "mlp"), ("fine-tuned", "fine-tuned"))
    ),
    ("observables, logistic", "transformer", "observables (logistic)"),
    ("observables, GBDT", "transformer", "observables (GBDT)"),
    ("SSL edgeconv (graph), linear probe", "edgeconv", "linear"),
    ("SSL resnet (image), linear probe", "resnet", "linear"),
    ("replica pairing (detector level), linear probe", "replicas", "linear"),
    ("augmentations of one replica (detector level), linear", "detector_augment", "linear"),
]
DIFFERENCES = [  # (what, (run, probe), (run, probe), fraction): paired per seed
    ("SSL linear − observables (best of logistic, GBDT)", ("transformer", "linear"), ("transformer", "observables*"),
     "1.0"),
    ("SSL linear − random-init linear", ("transformer", "linear"), ("random", "linear"), "1.0"),
    ("SSL linear − supervised on all labels", ("transformer", "linear"), ("supervised",
     "supervised (all pretraining labels)"), "1.0"),
    ("SSL fine-tuned − scratch, 10% of labels", ("transformer", "fine-tuned"), ("transformer", "supervised (scratch)"),
     "0.1"),
    ("SSL MLP − scratch, 10% of labels", ("transformer", "mlp"), ("transformer", "supervised (scratch)"), "0.1"),
    ("SSL fine-tuned − scratch, 1% of labels", ("transformer", "fine-tuned"), ("transformer", "supervised (scratch)"),
     "0.01"),
    ("SSL MLP − scratch, 1% of labels", ("transformer", "mlp"), ("transformer", "supervised (scratch)"), "0.01"),
    ("replica pairing − augmentations of one replica (linear)", ("replicas", "linear"), ("detector_augment", "linear"),
     "1.0"),
    ("graph (transformer) − image (resnet), linear", ("transformer", "linear"), ("resnet", "linear"), "1.0"),
    ("graph (edgeconv) − image (resnet), linear", ("edgeconv", "linear"), ("resnet", "linear"), "1.0"),
]  # fmt: skip
DIFFERENCES += [
    (f"{run}: {what}", (run, a[1]), (run, b[1]) if b[0] == "transformer" else b, fraction)
    for run in SHOWER_RUNS
    for what, a, b, fraction in DIFFERENCES[:7]
]


def _value(records: dict[tuple[str, int], dict], run: str, probe_name: str, seed: int, fraction: str, metric: str):
    record = records.get((run, seed))
    if record is None:
        return None
    if probe_name == "observables*":
        values = [_metric(record, p, fraction, metric) for p in ("observables (logistic)", "observables (GBDT)")]
        values = [v for v in values if v is not None]
        return max(values) if values else None
    return _metric(record, probe_name, fraction, metric)


def _differences(records: dict[tuple[str, int], dict], seeds: list[int], metric: str) -> dict[str, list[float]]:
    """Each entry of :data:`DIFFERENCES`: the per-seed differences where both sides exist."""
    out = {}
    for what, (run_a, probe_a), (run_b, probe_b), fraction in DIFFERENCES:
        pairs = [
            (_value(records, run_a, probe_a, s, fraction, metric), _value(records, run_b, probe_b, s, fraction, metric))
            for s in seeds
        ]
        out[what] = [a - b for a, b in pairs if a is not None and b is not None and math.isfinite(a - b)]
    return out


def _signed(values: list[float], digits: int = 3) -> str:
    text = _spread(values, digits)
    return "+" + text if values and statistics.fmean(values) >= 0 else text


def tables(records: dict[tuple[str, int], dict], seeds: list[int], fractions: list[float]) -> str:
    fraction_keys = [str(float(f)) for f in fractions]
    head = " | ".join(f"AUC, {float(f):g} of labels" for f in fractions)
    lines = [
        f"| | {head} | 1/ε_B at ε_S=0.5 (all labels) | steps | jets seen | wall min |",
        "|---" * (len(fractions) + 5) + "|",
    ]
    for label, run, probe_name in ROWS:
        found = [records[(run, s)] for s in seeds if (run, s) in records]
        cells = [_spread([_metric(r, probe_name, f, "auc") for r in found]) for f in fraction_keys]
        if all(c == "–" for c in cells):
            continue
        rejection = _spread([_metric(r, probe_name, fraction_keys[-1], "rejection_at_0.5") for r in found], 1)
        cost = ["–"] * 3  # the observables and the from-scratch reference need no pretraining
        if not probe_name.startswith("observables") and probe_name != "supervised (scratch)":
            cost = [
                f"{statistics.fmean(r['steps'] for r in found):,.0f}",
                f"{statistics.fmean(r['jets_seen'] for r in found):,.0f}",
                f"{statistics.fmean(r['wall_s'] for r in found) / 60:.1f}",
            ]
        lines.append(f"| {label} | " + " | ".join([*cells, rejection, *cost]) + " |")
    auc, rejection = _differences(records, seeds, "auc"), _differences(records, seeds, "rejection_at_0.5")
    lines += ["", "| difference, paired per seed | AUC | 1/ε_B at ε_S=0.5 | seeds |", "|---|---|---|---|"]
    for what, diffs in auc.items():
        if diffs:
            lines.append(f"| {what} | {_signed(diffs)} | {_signed(rejection[what], 1)} | {len(diffs)} |")
    energy = {run: [records[(run, s)]["energy"] for s in seeds if "energy" in records.get((run, s), {})]
              for run in ("replicas", "detector_augment")}  # fmt: skip
    if any(energy.values()):
        lines += ["", "| jet energy probe | pretraining | mean σ(E)/E over E bins | mean \\|response − 1\\| | seeds |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for run, found in energy.items():
            for probe_name in ("linear", "mlp", "calibrated cell sum"):
                res = [e[probe_name]["mean_resolution"] for e in found]
                bias = [e[probe_name]["mean_abs_bias"] for e in found]
                if res:
                    lines.append(f"| {probe_name} | {run} | {_spread(res)} | {_spread(bias)} | {len(res)} |")
    return "\n".join(lines)


def targets(records: dict[tuple[str, int], dict], seeds: list[int]) -> list[str]:
    """One line per target of issue 7: met when the paired mean difference clears its bar by one standard error.

    The few-label targets name two ways to use the pretrained encoder (issue 7: "MLP probe or
    fine-tune"); each is tested on its own, and the line says which met.
    """
    auc = _differences(records, seeds, "auc")
    rejection = _differences(records, seeds, "rejection_at_0.5")

    def above(values: list[float], bar: float) -> bool:
        if len(values) < 2:
            return bool(values) and values[0] > bar
        return statistics.fmean(values) - statistics.stdev(values) / math.sqrt(len(values)) > bar

    checks = [
        ("SSL linear probe beats the best observable baseline (AUC and 1/ε_B)",
         "SSL linear − observables (best of logistic, GBDT)", 0.0, True),
        ("SSL linear probe beats the same transformer at random init (AUC and 1/ε_B)",
         "SSL linear − random-init linear", 0.0, True),
        ("SSL linear probe within 0.01 AUC of the transformer supervised on all labels, same budget",
         "SSL linear − supervised on all labels", -0.01, False),
        ("10% of labels: pretrained (MLP probe or fine-tuned) beats scratch",
         ("SSL MLP − scratch, 10% of labels", "SSL fine-tuned − scratch, 10% of labels"), 0.0, False),
        ("1% of labels: pretrained (MLP probe or fine-tuned) beats scratch",
         ("SSL MLP − scratch, 1% of labels", "SSL fine-tuned − scratch, 1% of labels"), 0.0, False),
        ("detector level: replica pairing beats augmentations of one replica (q/g, linear AUC)",
         "replica pairing − augmentations of one replica (linear)", 0.0, False),
    ]  # fmt: skip
    checks += [
        (
            f"[{run}] {text}",
            tuple(f"{run}: {w}" for w in what) if isinstance(what, tuple) else f"{run}: {what}",
            bar,
            rej,
        )
        for run in SHOWER_RUNS
        for text, what, bar, rej in checks[:5]
    ]
    lines = []
    for text, what, bar, with_rejection in checks:
        ways = [w for w in (what if isinstance(what, tuple) else (what,)) if auc[w]]
        if not ways:
            lines.append(f"TARGET {text}: not run")
            continue
        met = [w for w in ways if above(auc[w], bar) and (not with_rejection or above(rejection[w], 0.0))]
        which = f" by {', '.join(w.split(' − ')[0].split(': ')[-1] for w in met)}" if met and len(ways) > 1 else ""
        seeds_run = max(len(auc[w]) for w in ways)
        lines.append(f"TARGET {text} ({seeds_run} seeds) -> {'MET' + which if met else 'NOT MET'}")
    energy = {run: [records[(run, s)]["energy"] for s in seeds if "energy" in records.get((run, s), {})]
              for run in ("replicas",)}  # fmt: skip
    found = energy["replicas"]
    if found:
        diffs = [e["calibrated cell sum"]["mean_resolution"] - min(e["linear"]["mean_resolution"],
                 e["mlp"]["mean_resolution"]) for e in found]  # fmt: skip
        met = above(diffs, 0.0)
        lines.append(
            f"TARGET replica pretraining: energy probe resolution better than the calibrated cell sum "
            f"({len(found)} seeds) -> {'MET' if met else 'NOT MET'}"
        )
    return lines


REPRODUCED = [  # (setup, run, probes shown): jetgraph's own rows first, each beside the setups of its inputs
    ("jetgraph: particle transformer (configs/pretrain/qg_transformer.yaml)", "transformer"),
    ("JetCLR (configs/reproduce/jetclr.yaml), LCT on head layer 1", "jetclr"),
    ("JetCLR's network at random init (train.max_steps=0), head layer 1", "jetclr_random"),
    ("SimCLR on jet images (configs/reproduce/simclr_images.yaml)", "simclr_images"),
    ("jetgraph: replica pairing, detector level (configs/pretrain/qg_replicas_transformer.yaml)", "replicas"),
    ("detector replicas (configs/reproduce/detector_replicas.yaml)", "detector_replicas"),
    ("voxel augmentations (configs/reproduce/voxel_augmentations.yaml)", "voxel_augmentations"),
]
PAIRED = [  # (a, b): a − b per seed, on the same test jets
    ("jetclr", "transformer"),
    ("jetclr", "jetclr_random"),
    ("jetclr_random", "random"),
    ("simclr_images", "transformer"),
    ("detector_replicas", "replicas"),
    ("voxel_augmentations", "replicas"),
    ("detector_replicas", "voxel_augmentations"),
]


def _resolution(record: dict[str, Any], target: str, probe_name: str = "mlp") -> float | None:
    found = record.get("energy") if target == "energy" else record.get("energy_other", {}).get(target)
    return None if not found or probe_name not in found else float(found[probe_name]["mean_resolution"])


def _jets_per_second(record: dict[str, Any]) -> float | None:
    """Training throughput: jets per calibrated step time (the held-out metrics and checkpoints not counted)."""
    step_s = record.get("step_s")
    return record["jets_seen"] / record["steps"] / step_s if step_s and record["steps"] else None


def reproduce_tables(records: dict[tuple[str, int], dict], seeds: list[int]) -> str:
    """The reproduced setups beside jetgraph's configs on the same jets, budget, probes and test splits."""
    lines = [
        "| setup | AUC linear | AUC MLP | 1/ε_B at ε_S=0.5 (linear) | σ(E)/E, MLP | σ(m)/m, MLP "
        "| training jets/s | steps | seeds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, run in REPRODUCED:
        found = [records[(run, s)] for s in seeds if (run, s) in records]
        if not found:
            continue
        cells = [
            _spread([_metric(r, "linear", "1.0", "auc") for r in found]),
            _spread([_metric(r, "mlp", "1.0", "auc") for r in found]),
            _spread([_metric(r, "linear", "1.0", "rejection_at_0.5") for r in found], 1),
            _spread([_resolution(r, "energy") for r in found]),
            _spread([_resolution(r, "mass") for r in found]),
            _spread([_jets_per_second(r) for r in found], 0),
            f"{statistics.fmean(r['steps'] for r in found):,.0f}",
            str(len(found)),
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| difference, paired per seed | AUC linear | AUC MLP | seeds |", "|---|---|---|---|"]
    for a, b in PAIRED:
        both = [s for s in seeds if (a, s) in records and (b, s) in records]
        diffs = {
            probe_name: [
                _metric(records[(a, s)], probe_name, "1.0", "auc") - _metric(records[(b, s)], probe_name, "1.0", "auc")
                for s in both
            ]
            for probe_name in ("linear", "mlp")
        }
        if both:
            lines.append(f"| {a} − {b} | {_signed(diffs['linear'])} | {_signed(diffs['mlp'])} | {len(both)} |")
    fine = [records[("simclr_images", s)] for s in seeds if ("simclr_images", s) in records]
    fractions = sorted({float(f) for r in fine for f in r["qg"].get("fine-tuned", {})})
    if fractions:
        lines += [
            "",
            "SimCLR on jet images: the ResNet fine-tuned from pretraining and trained from scratch on the same labels "
            "(the probe sample's training split), and the linear probe on the frozen representation:",
            "",
            "| labels | fine-tuned | from scratch | fine-tuned − scratch, paired | linear probe | seeds |",
            "|---|---|---|---|---|---|",
        ]
        for f in fractions:
            key = str(f)
            tuned = [_metric(r, "fine-tuned", key, "auc") for r in fine]
            scratch = [_metric(r, "supervised (scratch)", key, "auc") for r in fine]
            diffs = [a - b for a, b in zip(tuned, scratch, strict=True) if a is not None and b is not None]
            lines.append(
                f"| {f:.0%} | {_spread(tuned)} | {_spread(scratch)} | {_signed(diffs)} "
                f"| {_spread([_metric(r, 'linear', key, 'auc') for r in fine])} | {len(diffs)} |"
            )
    return "\n".join(lines)


def _pair_accuracies(found: list[dict[str, Any]]) -> str:
    """``start → end`` pair accuracy, averaged over seeds; '–' where a run has none (steps 0: start only)."""
    pairs = [r["pair_accuracy"] for r in found if r.get("pair_accuracy")]
    if not pairs:
        return "–"
    start, end = (statistics.fmean(p[i] for p in pairs) for i in (0, 1))
    return f"{start:.2f}" if all(r["steps"] == 0 for r in found) else f"{start:.2f} → {end:.2f}"


def tuning_table(records: dict[tuple[str, int], dict], tuning: dict[str, dict[str, Any]], seeds: list[int]) -> str:
    """One row per variant of the transformer, next to the transformer and the random init on the same seeds.

    The Δ column is the variant's linear-probe AUC minus the transformer's, paired per seed (the same
    test jets), which is far more precise than either AUC alone.
    """
    tuned = sorted({s for name, s in records if name in tuning and s in seeds})
    lines = [
        "| variant | change | AUC linear, all labels | Δ AUC vs transformer | AUC MLP, 10% "
        "| 1/ε_B at ε_S=0.5 (linear) | pair accuracy, start → end | steps | jets seen |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    references = [("transformer", "configs/pretrain/qg_transformer.yaml"), ("random", "train.max_steps=0")]
    for name, change in [*references, *tuning.items()]:
        found = [records[(name, s)] for s in tuned if (name, s) in records]
        if not found:
            continue
        text = change if isinstance(change, str) else "; ".join(change.get("set", []))
        if isinstance(change, dict) and "steps" in change:
            text += f"; train.max_steps={change['steps']}"
        delta = [
            _metric(r, "linear", "1.0", "auc") - _metric(records[("transformer", r["seed"])], "linear", "1.0", "auc")
            for r in found
            if ("transformer", r["seed"]) in records
        ]
        lines.append(
            f"| {name} | {text} | {_spread([_metric(r, 'linear', '1.0', 'auc') for r in found])} "
            f"| {_signed(delta) if name != 'transformer' else '–'} "
            f"| {_spread([_metric(r, 'mlp', '0.1', 'auc') for r in found])} "
            f"| {_spread([_metric(r, 'linear', '1.0', 'rejection_at_0.5') for r in found], 1)} "
            f"| {_pair_accuracies(found)} "
            f"| {statistics.fmean(r['steps'] for r in found):,.0f} "
            f"| {statistics.fmean(r['jets_seen'] for r in found):,.0f} |"
        )
    return "\n".join(lines)


FIGURE_ROWS = [
    ("transformer", "linear"),
    ("random", "linear"),
    ("transformer", "supervised (scratch)"),
    ("transformer", "observables (logistic)"),
    ("resim_boost_unsmeared", "linear"),
    ("resim_boost_unsmeared", "mlp"),
]
"""(run, probe) of the rows drawn in the label-fraction figure (the shower pairs: qg_showers_transformer.yaml)."""


def figure(records: dict[tuple[str, int], dict], seeds: list[int], fractions: list[float], path: Path) -> None:
    """AUC against label fraction, mean and standard deviation over seeds, for the label-efficiency rows."""
    scan: dict[str, dict[float, dict[str, float]]] = {}
    shown = [
        row for row in ROWS if (row[1], row[2]) in FIGURE_ROWS
    ]  # the style has 6 colours; the rest are in the table
    for label, run, probe_name in shown:
        for f in fractions:
            values = [
                _metric(records[(run, s)], probe_name, str(float(f)), "auc") for s in seeds if (run, s) in records
            ]
            values = [v for v in values if v is not None]
            if values:
                mean = statistics.fmean(values)
                sd = statistics.stdev(values) if len(values) > 1 else 0.0
                scan.setdefault(label, {})[float(f)] = {"value": mean, "low": mean - sd, "high": mean + sd}
    if scan:
        label_fraction_figure(scan, path, intervals=f"±1σ over {len(seeds)} seeds")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "benchmarks" / "quality.yaml")
    parser.add_argument("--workdir", type=Path, help="samples, runs and results [the config's workdir]")
    parser.add_argument("--budget-minutes", type=float, help="pretraining wall clock per run [the config's]")
    parser.add_argument("--seeds", help="comma-separated [the config's]")
    parser.add_argument("--only", help="comma-separated run names [all]")
    parser.add_argument("--tuning", action="store_true", help="run the config's tuning variants instead of its runs")
    parser.add_argument("--reproduce", action="store_true", help="run the reproduced published setups (issue 8)")
    parser.add_argument("--workers", type=int, default=2, help="processes generating the samples")
    parser.add_argument("--threads", type=int, help="torch threads per run [torch's default: the cores]")
    parser.add_argument("--reprobe", action="store_true", help="probe finished runs again (after a probe change)")
    parser.add_argument(
        "--quick", action="store_true", help="600 jets per sample (400 probe), 0.2-minute budget: a smoke check"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = yaml.safe_load(args.config.read_text())
    workdir = Path(args.workdir or config["workdir"])
    if not workdir.is_absolute():
        workdir = ROOT / workdir
    budget = args.budget_minutes if args.budget_minutes is not None else config["budget_minutes"]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(config["seeds"])
    all_runs = resolve_runs(config)
    tuning, reproduce = config.get("tuning", {}), config.get("reproduce", {})
    group = tuning if args.tuning else reproduce if args.reproduce else config["runs"]
    chosen = args.only.split(",") if args.only else list(group)
    unknown = [n for n in chosen if n not in all_runs]
    if unknown:
        raise SystemExit(f"--only {unknown}: unknown runs; the config has {list(all_runs)}")
    needed = {"pretrain", "probe"} | {all_runs[n].get(k) for n in chosen for k in ("train_sample", "val_sample")}
    samples = {name: spec for name, spec in config["samples"].items() if name in needed}
    if args.quick:  # 400 probe jets, at most 600 of every other sample
        samples = {k: {**v, "jets": 400 if k == "probe" else min(600, v["jets"])} for k, v in samples.items()}
        budget, workdir = 0.2, workdir.with_name(workdir.name + "_quick")
    settings = {
        "budget_minutes": budget,
        "label_fractions": config["probe"]["label_fractions"],
        "bootstraps": config["probe"]["bootstraps"],
        "progress": sys.stderr.isatty(),
        "reprobe": args.reprobe,
    }
    workdir = workdir / f"budget{budget:g}min_{torch.get_num_threads()}threads"  # a budget means these cores
    paths = make_samples(samples, workdir.parent, args.workers)
    for seed in seeds:  # seed-major: each finished seed is a complete row set
        for name in chosen:
            one_run(name, all_runs[name], seed, paths, settings, workdir)
    records = {}
    for path in sorted(workdir.glob("runs/*/seed*/quality.json")):
        record = json.loads(path.read_text())
        if record.get("probe_sample") != paths["probe"].name:  # other test jets: not comparable
            print(f"{path.parent}: left out, probed on {record.get('probe_sample', 'an earlier probe sample')}, "
                  f"not {paths['probe'].name} (running it again probes it again)")  # fmt: skip
            continue
        plan = path.with_name("plan.json")
        if "step_s" not in record and plan.exists():  # records from before step_s was kept
            record["step_s"] = json.loads(plan.read_text())["step_s"]
        record["pair_accuracy"] = pair_accuracy(path.parent)  # read from the run's metrics.csv
        records[(record["run"], record["seed"])] = record
    all_seeds = sorted({s for _, s in records})
    header = (
        f"Budget {budget:g} min of pretraining per run on {torch.get_num_threads()} thread(s); seeds {all_seeds}; "
        f"samples {', '.join(p.name for p in paths.values())}; commit {_git_commit()}; "
        f"`benchmarks/quality.py --budget-minutes {budget:g} --threads {torch.get_num_threads()}`. "
        "Mean ± standard deviation over seeds."
    )
    ran = {name for name, _ in records}
    parts = [header]
    if ran & set(config["runs"]):
        parts.append(tables(records, all_seeds, settings["label_fractions"]))
    if ran & set(tuning):
        parts.append(
            "Tuning (each variant changes the transformer run as shown):\n\n" + tuning_table(records, tuning, all_seeds)
        )
    if ran & set(reproduce):
        parts.append(
            "Published setups (configs/reproduce/) beside jetgraph's configs, same jets, budget, probes and "
            "test splits:\n\n" + reproduce_tables(records, all_seeds)
        )
    if ran & set(config["runs"]):
        parts.append("\n".join(targets(records, all_seeds)))
    text = "\n\n".join(parts) + "\n"
    _write(workdir / "results.md", text)
    _write(workdir / "results.json", json.dumps([records[k] for k in sorted(records)], indent=1))
    figure(records, all_seeds, settings["label_fractions"], workdir / "label_fractions.png")
    print("\n" + text)
    print(f"{workdir / 'results.md'}, {workdir / 'results.json'}, {workdir / 'label_fractions.png'}")


if __name__ == "__main__":
    main()
