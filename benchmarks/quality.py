"""Representation quality at a fixed CPU budget: pretrain every encoder for the same time, probe, report.

For each run of the config (``benchmarks/quality.yaml``) and each seed:

1. samples: the samples the runs need are generated with ``jetgraph generate`` (Pythia 8 + FastJet
   + the replica detector), once, and reused;
2. budget: a few training steps of the run's config are timed on this machine (once per run: its
   other seeds reuse the step count) and the wall-clock budget becomes ``train.max_steps`` (the
   warm-up and cosine span exactly those steps), so the printed step count reproduces the run anywhere;
   ``steps: 0`` is the random-initialisation control, ``supervised: true`` trains the same encoder
   (``init_run``'s, default ``random``) on every label of the pretraining sample for the same budget
   instead (:func:`jetgraph.probes.supervised.supervised_baseline`);
3. pretraining (resumed when a previous invocation was killed), then ``jetgraph probe`` on the run's
   probe sample with the seed as the split seed, so that every row of one seed shares its test jets;
   a record probed on another probe sample is probed again (and left out of the report until it is).

Each run and seed leaves ``WORKDIR/runs/<run>/seed<N>/quality.json``; all of them go to
``WORKDIR/results.json``. The report is data: the ``report`` section of the config declares its
tables (mean ± standard deviation over seeds), paired differences (per seed, on the same test jets),
``TARGET ... -> MET / NOT MET`` lines and figures, and :class:`Report` renders them into
``WORKDIR/results.md`` (and ``--report PATH``) and ``WORKDIR/*.png``. Everything already done is
skipped, so a rerun after a kill, or with more seeds, does only the rest.

Usage::

    .venv/bin/python benchmarks/quality.py                          # the config: 20 min per run, 3 seeds
    .venv/bin/python benchmarks/quality.py --budget-minutes 5 --seeds 0,1,2 --only transformer,random
    .venv/bin/python benchmarks/quality.py --tuning --only bf16     # tuning variants of the transformer
    .venv/bin/python benchmarks/quality.py --reproduce              # the published setups (configs/reproduce/)
    .venv/bin/python benchmarks/quality.py --quick                  # a smoke check: small samples, seconds
    .venv/bin/python benchmarks/quality.py --report-only --budget-minutes 20 --threads 2 --report docs/results.md

With ``--report-only``, ``--only A,B`` renders just the sections whose runs are all among A, B, from their
records alone, to ``--report`` (``WORKDIR/results.*`` stay the whole folder's report).
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import math
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
from jetgraph.probes import probe
from jetgraph.probes.classify import split_indices
from jetgraph.probes.metrics import bootstrap
from jetgraph.probes.plots import label_fraction_figure
from jetgraph.probes.supervised import supervised_baseline
from jetgraph.train import Trainer, pretrain

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "benchmarks" / "quality.yaml"
SEED_FOLDER = re.compile(r"seed(\d+)")  # a run's seed folders: seed0, seed1, ...
CALIBRATION_SECONDS = 30.0  # timed steps per calibration, at least 3
GROUPS = ("runs", "tuning", "reproduce")  # the config's groups of runs
Records = dict[tuple[str, int], dict[str, Any]]  # (run, seed) -> its quality.json


def _git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    try:
        dirty = git("status", "--porcelain", "jetgraph", "benchmarks", "configs")
        return git("rev-parse", "--short", "HEAD") + ("+changes" if dirty else "")
    except OSError:
        return "unknown"


def _write(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all: a record read back as "done" must never be half-written."""
    with written_atomically(path) as partial:
        partial.write_text(text)


# ------------------------------------------------------------------------------------------ runs


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

    resolved = {name: resolve(name) for name in runs_config}
    for name, run in resolved.items():
        init = run.get("init_run", "random")
        if run.get("supervised") and (init not in resolved or resolved[init].get("steps") != 0):
            raise SystemExit(
                f"benchmarks/quality: run {name!r} has init_run: {init!r}; expected a run of the config with steps: 0 "
                f"(the encoder as initialised); runs: {list(resolved)}"
            )
    return resolved


def quick_runs(all_runs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The runs of a ``--quick`` smoke check: a fixed step count (a long run) becomes the budget's; step 0 stays."""
    return {name: {k: v for k, v in run.items() if k != "steps" or v == 0} for name, run in all_runs.items()}


def samples_of(run: dict[str, Any]) -> dict[str, str]:
    """The samples a run measures held-out pairs on and is probed on (names in ``samples:``; the samples it
    trains on: :func:`train_samples`)."""
    probe_sample = run.get("probe_sample", "probe")
    return {"val": run.get("val_sample", probe_sample), "probe": probe_sample}


def train_samples(run: dict[str, Any]) -> list[str]:
    """The samples a run pretrains on: ``train_sample`` names one, or a list of them (read together)."""
    names = run.get("train_sample", "pretrain")
    return [names] if isinstance(names, str) else list(names)


def needed_samples(run: dict[str, Any]) -> set[str]:
    """Every sample a run reads."""
    return {*train_samples(run), *samples_of(run).values()}


def seeds_of(run: dict[str, Any], seeds: list[int]) -> list[int]:
    """Those of ``seeds`` the run is trained for: all, or only those in its own ``seeds:`` list."""
    return [seed for seed in seeds if seed in run.get("seeds", seeds)]


def seed_dir(workdir: Path, name: str, seed: int) -> Path:
    """Where a run's seed pretrains and keeps its record (``quality.json``) under a budget folder."""
    return workdir / "runs" / name / f"seed{seed}"


def fixed_steps_note(all_runs: dict[str, dict[str, Any]], records: Records) -> str:
    """What the header adds when some reported runs train a fixed ``steps:`` instead of the budget."""
    fixed = sorted({run for run, _ in records if int(all_runs.get(run, {}).get("steps") or 0) > 0})
    return f" (fixed steps, whatever the budget: {', '.join(fixed)})" if fixed else ""


def sample_paths(samples: dict[str, dict[str, Any]], workdir: Path) -> dict[str, Path]:
    """Where each sample is (or will be) generated: its name says what it holds."""
    return {
        name: workdir / "samples" / f"{name}_{spec['sample']}_{spec['jets']}_seed{spec['seed']}.root"
        for name, spec in samples.items()
    }


def make_samples(samples: dict[str, dict[str, Any]], paths: dict[str, Path], workers: int) -> None:
    """Generate each sample not there yet (``jetgraph generate`` writes atomically: a file that exists is whole)."""
    for name, spec in samples.items():
        if paths[name].exists():
            continue
        command = [str(Path(sys.executable).parent / "jetgraph"), "generate", spec["sample"]]
        command += ["--jets", str(spec["jets"]), "--replicas", str(spec.get("replicas", 0))]
        command += ["--showers", str(spec.get("showers", 1)), "--seed", str(spec["seed"])]
        command += ["--workers", str(workers), "--out", str(paths[name])]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True)


def run_config(
    run: dict[str, Any], samples: dict[str, Path], seed: int, steps: int | None, progress: bool
) -> PretrainConfig:
    """The run's pretraining config on the benchmark's samples (held-out metrics on 1000 jets of its val sample)."""
    overrides = [
        *run["set"],
        f"data.train={json.dumps([str(samples[name]) for name in train_samples(run)])}",  # JSON is YAML
        f"data.val={samples[samples_of(run)['val']]}",
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


def _all_jets(*paths: Path) -> JetBatch:
    return JetBatch.cat(list(JetDataset([str(path) for path in paths], 4096, rank=0, world_size=1)))


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


def _supervised(
    run: dict[str, Any], seed: int, samples: dict[str, Path], settings: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    """The random-initialised encoder trained on every pretraining label for the budget.

    The encoder is the step-0 checkpoint of the run named by ``init_run`` (default ``random``): the control
    that the pretrained runs of the same encoder are compared with. Scored on the probe sample's test split
    of ``seed``, the split ``jetgraph probe`` uses.
    """
    random_dir = seed_dir(workdir, run.get("init_run", "random"), seed)
    if runs.latest_checkpoint(random_dir) is None:
        pretrain(run_config(run, samples, seed, 0, False), random_dir)
    encoder, config, _ = runs.load_encoder(random_dir)
    inputs = Inputs(config.augment, encoder.input_kind)
    train_jets = _all_jets(*(samples[name] for name in train_samples(run)))
    probe_jets = _all_jets(samples[samples_of(run)["probe"]])
    _, _, test = split_indices(probe_jets.num_jets, seed=seed)
    test_jets = probe_jets.take(torch.as_tensor(test))
    print(f"  supervised on the {train_jets.num_jets} labelled pretraining jets", flush=True)
    result = supervised_baseline(encoder, inputs, train_jets, test_jets, settings["budget_minutes"] * 60, seed=seed)
    print(f"  supervised: {result.step_s:.2f} s/step -> {result.steps} steps", flush=True)
    metrics = bootstrap(probe_jets.label.numpy()[test], result.scores, n=settings["bootstraps"], seed=seed)
    return {
        "steps": result.steps,
        "wall_s": result.wall_s,
        "jets_seen": result.jets_seen,
        run["tasks"][0]: {"supervised (all pretraining labels)": {"1.0": metrics}},
    }


def one_run(
    name: str, run: dict[str, Any], seed: int, samples: dict[str, Path], settings: dict[str, Any], workdir: Path
) -> dict[str, Any]:
    """Pretrain (or not), probe and return the record of one run and seed; a finished record is reused.

    With ``settings["reprobe"]`` a finished pretraining run is probed again (its training record kept).
    A record probed on another probe sample (the config's changed) is stale: a pretraining run is
    probed again, the supervised reference (which keeps no model) is trained again.
    """
    run_dir = seed_dir(workdir, name, seed)
    record_path = run_dir / "quality.json"
    probe_file = samples[samples_of(run)["probe"]]
    old = json.loads(record_path.read_text()) if record_path.exists() else None
    stale = old is not None and old.get("probe_sample") != probe_file.name
    if old is not None and not stale and (not settings["reprobe"] or run.get("supervised")):
        return old
    if stale:
        again = "trained" if run.get("supervised") else "probed"
        earlier = old.get("probe_sample", "an earlier probe sample")
        print(f"{name}, seed {seed}: probed on {earlier}, not {probe_file.name}: {again} again", flush=True)
    print(f"\n== {name}, seed {seed} ==", flush=True)
    record: dict[str, Any] = {"run": name, "seed": seed, "budget_minutes": settings["budget_minutes"]}
    record["probe_sample"] = probe_file.name
    if run.get("supervised"):
        record.update(_supervised(run, seed, samples, settings, workdir))
    else:
        record.update(_pretrain_and_probe(run, run_dir, seed, samples, settings, old))
    record.update(
        commit=_git_commit(), version=jetgraph.__version__, torch=torch.__version__, threads=torch.get_num_threads()
    )
    record_path.parent.mkdir(parents=True, exist_ok=True)
    _write(record_path, json.dumps(record, indent=1))
    return record


def _calibrated_seeds(run_folder: Path) -> list[Path]:
    """The ``plan.json`` of every seed folder (``seed<N>``) of a run, lowest seed first."""
    seeds = {
        int(m[1]): path for path in run_folder.glob("seed*/plan.json") if (m := SEED_FOLDER.fullmatch(path.parent.name))
    }
    return [seeds[seed] for seed in sorted(seeds)]


def _pretrain_and_probe(
    run: dict[str, Any],
    run_dir: Path,
    seed: int,
    samples: dict[str, Path],
    settings: dict[str, Any],
    old: dict[str, Any] | None,
) -> dict[str, Any]:
    """Calibrate the budget, pretrain (resumed) and probe every task of the run.

    The budget is calibrated once per run: a seed writes its step count to ``plan.json``, and a seed without
    one reuses the lowest seed's that has one, so that seeds differ only in their randomness, not in how busy
    the machine was when each was timed.
    """
    budget_s = settings["budget_minutes"] * 60
    plan = run_dir / "plan.json"
    if "steps" in run:
        steps, step_s = int(run["steps"]), 0.0
    elif plan.exists() or (calibrated := _calibrated_seeds(run_dir.parent)):  # by an earlier invocation or seed
        planned = json.loads((plan if plan.exists() else calibrated[0]).read_text())
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
    record = {"steps": steps, "step_s": step_s, "wall_s": wall_s, "jets_seen": steps * config.train.batch_size}
    for task in run["tasks"]:
        result = probe(
            run_dir,
            task,
            samples[samples_of(run)["probe"]],
            label_fractions=run.get("label_fractions", settings["label_fractions"]),
            seed=seed,
            bootstraps=settings["bootstraps"],
            supervised=bool(run["references"]),
            supervised_fractions=run["references"] or None,
            supervised_epochs=run.get("reference_epochs", 20),
            progress=settings["progress"],
            replace=True,  # a probe sample changed since: its record says which sample it probed
        )
        if task != "energy":
            record[task] = result["probes"]
        else:  # and the same probes' regressions of the truth jet's pT and mass
            record[task] = _energy_summary(result["probes"])
            record["energy_other"] = {t: _energy_summary(p) for t, p in result["other_targets"].items()}
    return record


def _energy_summary(probes: dict[str, Any]) -> dict[str, Any]:
    """Per probe: the mean resolution and mean |response − 1| over the truth-energy bins, and the bins themselves."""
    return {
        name: {
            "mean_resolution": float(np.mean(r["resolution"])),
            "mean_abs_bias": float(np.mean(np.abs(np.asarray(r["response"]) - 1))),
            **r,
        }
        for name, r in probes.items()
    }


def load_records(workdir: Path, all_runs: dict[str, dict[str, Any]], paths: dict[str, Path]) -> Records:
    """Every record of ``workdir`` probed on its run's probe sample, with the numbers the report derives."""
    records = {}
    for path in sorted(workdir.glob("runs/*/seed*/quality.json")):
        record = json.loads(path.read_text())
        expected = paths.get(samples_of(all_runs.get(record["run"], {}))["probe"])
        if expected is None or record.get("probe_sample") != expected.name:  # other test jets: not comparable
            probed = record.get("probe_sample", "an earlier probe sample")
            print(
                f"{path.parent}: left out, probed on {probed}, not {expected and expected.name} (a rerun probes again)"
            )
            continue
        plan = path.with_name("plan.json")
        if "step_s" not in record and plan.exists():  # records from before step_s was kept
            record["step_s"] = json.loads(plan.read_text())["step_s"]
        steps, step_s = record["steps"], record.get("step_s")
        record["jets_per_s"] = record["jets_seen"] / steps / step_s if step_s and steps else None
        record["wall_min"] = record["wall_s"] / 60
        record["pair_accuracy"] = pair_accuracy(path.parent)  # read from the run's metrics.csv
        records[(record["run"], record["seed"])] = record
    return records


# ---------------------------------------------------------------------------------------- report


def _lookup(record: dict[str, Any], path: str) -> float | None:
    """The number at ``path`` ("qg/linear/1.0/auc/value", "pair_accuracy/0") in a record, or None."""
    value: Any = record
    for key in path.split("/"):
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    number = value is not None and not isinstance(value, bool) and isinstance(value, int | float)
    return float(value) if number and math.isfinite(value) else None


def _spread(values: list[float], digits: int = 3) -> str:
    """Mean ± standard deviation (just the value for one seed); '–' when there is nothing."""
    if not values:
        return "–"
    mean = statistics.fmean(values)
    return f"{mean:,.{digits}f}" if len(values) == 1 else f"{mean:,.{digits}f} ± {statistics.stdev(values):,.{digits}f}"


def _signed(values: list[float], digits: int = 3) -> str:
    text = _spread(values, digits)
    return "+" + text if values and statistics.fmean(values) >= 0 else text


def seed_count(n: int) -> str:
    """``3 seeds``; ``1 seed, no error estimate`` (one seed's TARGET only says which side of the bar it lies)."""
    return "1 seed, no error estimate" if n == 1 else f"{n} seeds"


def clears(values: list[float], bar: float, lower_is_better: bool = False) -> bool:
    """Whether the mean difference is better than ``bar`` by more than one standard error (one seed: is better)."""
    error = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    return (bar - statistics.fmean(values) if lower_is_better else statistics.fmean(values) - bar) > error


class Report:
    """The config's ``report`` rendered from the records: tables, paired differences, targets and figures.

    A cell is a dictionary of keys (``run``, ``metric``, ``probe``, ``fraction``, ``task``,
    ``minus``): the section's defaults, the table's, the row's and the column's, merged in that
    order. ``benchmarks/quality.yaml`` explains them above its ``report:``.
    """

    def __init__(self, config: dict[str, Any], records: Records, only: list[str] | None = None) -> None:
        """``only``: show just the sections whose runs are all among these (``--report-only --only``)."""
        self.spec, self.records, self.only = config["report"], records, only
        self.metrics: dict[str, dict[str, Any]] = self.spec["metrics"]
        self.groups = {group: config.get(group, {}) for group in GROUPS}
        self.own = {name: spec for group in self.groups.values() for name, spec in group.items()}

    def sections(self) -> Iterator[tuple[dict[str, Any], list[int]]]:
        """Each section with records of the runs it is for (a group, or a list of runs), and the seeds they ran."""
        for section in self.spec["sections"]:
            runs_for = self.groups[section["for"]] if isinstance(section["for"], str) else section["for"]
            if self.only is not None and not set(runs_for) <= set(self.only):
                continue
            seeds = sorted({seed for run, seed in self.records if run in runs_for})
            if seeds:
                yield section, seeds

    def rows(self, section: dict[str, Any], table: dict[str, Any]) -> list[tuple[str | None, str, dict[str, Any]]]:
        """``(each_run's run or None, label as declared, merged row)`` for every row of ``table``."""
        base = {**section.get("defaults", {}), **table.get("defaults", {})}
        out = []
        for row in table["rows"]:
            if "group" in row:
                out += [(None, name, {**base, "run": name, "label": name}) for name in self.groups[row["group"]]]
            elif "run" not in row and "each_run" in table:
                for run in table["each_run"]:
                    out.append((run, row["label"], {**base, **row, "run": run, "label": f"{run}: {row['label']}"}))
            else:
                merged = {**base, **row}
                out.append((None, row.get("label", merged["run"]), {"label": merged["run"], **merged}))
        return out

    def value(self, cell: dict[str, Any], seed: int) -> float | None:
        """The number ``cell`` names in its run's record of ``seed``; of several probes, the better one."""
        record = self.records.get((cell["run"], seed))
        if record is None:
            return None
        metric = self.metrics[cell["metric"]]
        fraction = None if cell.get("fraction") is None else float(cell["fraction"])  # as the records spell it
        probes = cell.get("probe") if isinstance(cell.get("probe"), list) else [cell.get("probe")]
        paths = [metric["path"].format(task=cell.get("task"), probe=p, fraction=fraction) for p in probes]
        found = [v for path in paths if (v := _lookup(record, path)) is not None]
        return (min if metric.get("lower_is_better") else max)(found) if found else None

    def series(self, cell: dict[str, Any], seeds: list[int]) -> list[float]:
        """Per seed, the cell's number; with ``minus``, its paired difference (seeds with both sides only)."""
        if "minus" not in cell:
            return [v for s in seeds if (v := self.value(cell, s)) is not None]
        a = {k: v for k, v in cell.items() if k != "minus"}
        b = {**a, **cell["minus"]}
        if a == b:  # a row minus itself: nothing to say
            return []
        pairs = [(self.value(a, s), self.value(b, s)) for s in seeds]
        return [x - y for x, y in pairs if x is not None and y is not None]

    def table(self, section: dict[str, Any], table: dict[str, Any], seeds: list[int]) -> str:
        """A markdown table, one line per row with a number in it, and the seeds each row rests on."""
        columns = table["columns"]
        first = f"| {table['header']} | " if "header" in table else "| | "
        lines = [first + " | ".join(c["header"] for c in columns) + " | seeds |", "|---" * (len(columns) + 2) + "|"]
        for _, _, row in self.rows(section, table):
            cells, counts = [], [0]
            for column in columns:
                cell = {**row, **column}
                if cell["metric"] == "settings":
                    own = self.own.get(row["run"], {})
                    steps = [f"train.max_steps={own['steps']}"] if "steps" in own else []
                    cells.append("; ".join([*own.get("set", []), *steps]) or own.get("config", ""))
                    continue
                values = [] if column.get("cost") and row.get("cost") is False else self.series(cell, seeds)
                digits = self.metrics[cell["metric"]].get("digits", 3)
                cells.append((_signed if "minus" in cell else _spread)(values, digits))
                counts.append(len(values))
            if max(counts):
                lines.append(f"| {row['label']} | " + " | ".join(cells) + f" | {max(counts)} |")
        return "\n".join(lines) if len(lines) > 2 else ""

    def targets(self, section: dict[str, Any], seeds: list[int]) -> list[str]:
        """One ``TARGET`` line per target of the section (per run, for a comparison made for each run)."""
        comparisons: dict[str, list[tuple[str | None, dict[str, Any]]]] = {}
        for table in section["tables"]:
            for each, label, row in self.rows(section, table):
                if "minus" in row:
                    comparisons.setdefault(label, []).append((each, row))
        lines = []
        for target in section.get("targets", []):
            names = target["comparison"] if isinstance(target["comparison"], list) else [target["comparison"]]
            if unknown := [n for n in names if n not in comparisons]:
                raise SystemExit(f"benchmarks/quality: target {target['name']!r}: no comparison row {unknown}")
            for each in dict.fromkeys(e for n in names for e, _ in comparisons[n]):
                ways = {n: row for n in names for e, row in comparisons[n] if e == each}
                title = f"[{each}] {target['name']}" if each else target["name"]
                lines.append(f"TARGET {title}{self._verdict(target, ways, seeds)}")
        return lines

    def _verdict(self, target: dict[str, Any], ways: dict[str, dict[str, Any]], seeds: list[int]) -> str:
        """Met when some way clears the bar in every metric; the line names the ways that did, if several."""
        ran = {}
        for name, row in ways.items():
            diffs = {m: self.series({**row, "metric": m}, seeds) for m in target.get("metrics", [row["metric"]])}
            if all(diffs.values()):
                ran[name] = diffs
        if not ran:
            return ": not run"
        bar = target.get("bar", 0.0)
        met = [
            name
            for name, diffs in ran.items()
            if all(clears(v, bar, self.metrics[m].get("lower_is_better", False)) for m, v in diffs.items())
        ]
        which = f" by {', '.join(n.split(' − ')[0] for n in met)}" if met and len(ways) > 1 else ""
        counted = max(len(v) for diffs in ran.values() for v in diffs.values())
        return f" ({seed_count(counted)}) -> {'MET' + which if met else 'NOT MET'}"

    def markdown(self, header: str) -> str:
        """The whole report: ``header``, each section's text and tables, then every section's targets."""
        parts, targets = [header], []
        for section, seeds in self.sections():
            parts += [section["text"]] if "text" in section else []
            for table in section["tables"]:
                if text := self.table(section, table, seeds):
                    parts.append(f"{table['text']}\n\n{text}" if "text" in table else text)
            targets += self.targets(section, seeds)
        return "\n\n".join([*parts, *(["\n".join(targets)] if targets else [])]) + "\n"

    def figures(self, fractions: list[float], directory: Path) -> list[Path]:
        """Each section's ``figure``: AUC against label fraction, mean and standard deviation over seeds."""
        written = []
        for section, seeds in self.sections():
            if "figure" not in section:
                continue
            rows = {label: row for table in section["tables"] for _, label, row in self.rows(section, table)}
            scan: dict[str, dict[float, dict[str, float]]] = {}
            for label in section["figure"]["rows"]:
                for f in fractions:
                    cell = {**rows[label], "metric": section["figure"].get("metric", "auc"), "fraction": f}
                    if values := self.series(cell, seeds):
                        mean = statistics.fmean(values)
                        sd = statistics.stdev(values) if len(values) > 1 else 0.0
                        scan.setdefault(label, {})[float(f)] = {"value": mean, "low": mean - sd, "high": mean + sd}
            if scan:
                path = directory / section["figure"]["file"]
                written.append(label_fraction_figure(scan, path, intervals=f"±1σ over {len(seeds)} seeds"))
        return written


# ------------------------------------------------------------------------------------------ main


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=CONFIG)
    parser.add_argument("--workdir", type=Path, help="samples, runs and results [the config's workdir]")
    parser.add_argument("--budget-minutes", type=float, help="pretraining wall clock per run [the config's]")
    parser.add_argument("--seeds", help="comma-separated [the config's]")
    parser.add_argument(
        "--only", help="comma-separated run names [all]; with --report-only, the sections about these runs only"
    )
    parser.add_argument("--tuning", action="store_true", help="run the config's tuning variants instead of its runs")
    parser.add_argument("--reproduce", action="store_true", help="run the reproduced published setups")
    parser.add_argument("--workers", type=int, default=2, help="processes generating the samples")
    parser.add_argument("--threads", type=int, help="torch threads per run [torch's default: the cores]")
    parser.add_argument("--reprobe", action="store_true", help="probe finished runs again (after a probe change)")
    parser.add_argument(
        "--quick", action="store_true", help="600 jets per sample (400 probe), 0.2-minute budget: a smoke check"
    )
    parser.add_argument("--report", type=Path, help="also write the markdown report here [WORKDIR/results.md only]")
    parser.add_argument("--report-only", action="store_true", help="run nothing: render the report from the records")
    return parser.parse_args()


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _regenerate(args: argparse.Namespace, budget: float) -> str:
    """The command that renders this report again from the same records."""
    words = [".venv/bin/python benchmarks/quality.py --report-only"]
    words += [f"--config {args.config}"] if args.config != CONFIG else []
    words += [f"--only {args.only}"] if args.report_only and args.only else []
    words += [f"--workdir {args.workdir}"] if args.workdir else []
    words += ["--quick" if args.quick else f"--budget-minutes {budget:g}", f"--threads {torch.get_num_threads()}"]
    words += [f"--report {args.report}"] if args.report else []
    return " ".join(words)


def main() -> None:
    args = _arguments()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = yaml.safe_load(args.config.read_text())
    workdir = Path(args.workdir or config["workdir"])
    workdir = workdir if workdir.is_absolute() else ROOT / workdir
    budget = args.budget_minutes if args.budget_minutes is not None else config["budget_minutes"]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(config["seeds"])
    all_runs = resolve_runs(config)
    group = "tuning" if args.tuning else "reproduce" if args.reproduce else "runs"
    chosen = args.only.split(",") if args.only else list(config.get(group, {}))
    if unknown := [n for n in chosen if n not in all_runs]:
        raise SystemExit(f"--only {unknown}: unknown runs; the config has {list(all_runs)}")
    samples = config["samples"]
    if args.quick:  # 400 probe jets, at most 600 of every other sample
        samples = {k: {**v, "jets": 400 if k == "probe" else min(600, v["jets"])} for k, v in samples.items()}
        budget, workdir = 0.2, workdir.with_name(workdir.name + "_quick")
        all_runs = quick_runs(all_runs)
    workdir = workdir / f"budget{budget:g}min_{torch.get_num_threads()}threads"  # a budget means these cores
    paths = sample_paths(samples, workdir.parent)
    if not args.report_only:
        needed = {s for name in chosen if seeds_of(all_runs[name], seeds) for s in needed_samples(all_runs[name])}
        make_samples({k: v for k, v in samples.items() if k in needed}, paths, args.workers)
        settings = {
            "budget_minutes": budget,
            "label_fractions": config["probe"]["label_fractions"],
            "bootstraps": config["probe"]["bootstraps"],
            "progress": sys.stderr.isatty(),
            "reprobe": args.reprobe,
        }
        for name in chosen:
            if skipped := sorted(set(seeds) - set(seeds_of(all_runs[name], seeds))):
                print(f"{name}: trained for seeds {all_runs[name]['seeds']} only; seeds {skipped} skipped", flush=True)
        for seed in seeds:  # seed-major: each finished seed is a complete row set
            for name in chosen:
                if seeds_of(all_runs[name], [seed]):
                    one_run(name, all_runs[name], seed, paths, settings, workdir)
    records = load_records(workdir, all_runs, paths)
    shown = chosen if args.report_only and args.only else None
    records = {key: record for key, record in records.items() if shown is None or key[0] in shown}
    if not records:
        raise SystemExit(f"{workdir}: no records to report")
    used = sorted({paths[s].name for run, _ in records for s in needed_samples(all_runs.get(run, {})) if s in paths})
    header = (
        f"Generated by `{_regenerate(args, budget)}` from the records in {_shown(workdir)}; the tables and targets are "
        f"the `report` of {_shown(Path(args.config))}.\n\n"
        f"Budget {budget:g} min of pretraining per run on {torch.get_num_threads()} thread(s)"
        f"{fixed_steps_note(all_runs, records)}; "
        f"seeds {sorted({s for _, s in records})}; samples {', '.join(used)}; "
        f"commits {', '.join(sorted({str(r.get('commit')) for r in records.values()}))}. Mean ± standard deviation "
        "over seeds; differences paired per seed, on the same test jets; a TARGET is met when the mean "
        "difference is better than its bar by more than one standard error (one seed: better than its bar, "
        "with no error estimate)."
    )
    report = Report(config, records, shown)
    if shown is not None and not list(report.sections()):
        sections = [section["for"] for section in config["report"]["sections"]]
        raise SystemExit(f"--only {args.only}: no report section is about these runs alone; sections: {sections}")
    text = report.markdown(header)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        _write(args.report, text)
    written = [args.report]
    if shown is None:  # WORKDIR/results.* are the whole folder's report: a part of it goes to --report only
        _write(workdir / "results.md", text)
        _write(workdir / "results.json", json.dumps([records[k] for k in sorted(records)], indent=1))
        written += [workdir / "results.md", workdir / "results.json"]
    figures = report.figures(config["probe"]["label_fractions"], workdir)
    print("\n" + text)
    print(", ".join(str(p) for p in [*written, *figures] if p))


if __name__ == "__main__":
    main()
