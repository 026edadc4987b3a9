"""``jetgraph compare``: several probed runs side by side, as one Markdown table and one figure.

Each run must have been probed on the same task (``RUN/probe/<task>.json``, by ``jetgraph probe``)
and on the same jets: the same files with the same ``--seed``, so that the test jets are the same
(runs probed on different files or splits are refused). The table has

- each run's pretraining budget: the steps of the probed checkpoint, the jets they saw and the
  wall time of the training (from the run's ``metrics.csv``);
- every probe of every run at the largest label fraction, with bootstrap intervals; the observable
  baselines, which do not depend on the run, once;
- the paired differences: for each run after the first, the AUC of each probe minus the AUC of the
  same probe of the first run, on the same test jets, with a bootstrap interval that resamples the
  test jets together for both runs (from ``RUN/probe/<task>_scores.npz``).

The figure shows AUC against label fraction: one colour per probe, one line style per run.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from jetgraph import runs
from jetgraph.outputs import written_atomically
from jetgraph.probes.metrics import ProbeError, paired_bootstrap
from jetgraph.probes.plots import label_fraction_figure, probe_colours, run_style
from jetgraph.probes.tasks import counts_line, footnote, format_auc, format_rejection

_STEP = re.compile(r"step-(\d+)\.pt$")


def load_result(run_dir: str | os.PathLike, task: str) -> dict[str, Any]:
    path = Path(run_dir) / "probe" / f"{task}.json"
    if not path.is_file():
        raise ProbeError(f"{run_dir}: no probe/{task}.json; run `jetgraph probe {run_dir} --task {task}` first")
    return json.loads(path.read_text())


def _name(result: dict[str, Any]) -> str:
    return f"{Path(result['run']).name} ({result['encoder']})"


def _names(results: list[dict[str, Any]], run_dirs: Sequence[str | os.PathLike]) -> list[str]:
    """A distinct name for each run: its directory's name and encoder, or its path where names repeat."""
    names = [_name(r) for r in results]
    if len(set(names)) < len(names):
        names = [f"{run} ({r['encoder']})" for run, r in zip(run_dirs, results, strict=True)]
    seen: dict[str, int] = {}
    out = []
    for name in names:  # the same run given twice
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} #{seen[name]}")
    return out


def _probed_files(result: dict[str, Any]) -> list[str]:
    """The files a probe read: resolved when it kept them so (``files_absolute``), else as typed."""
    return result.get("files_absolute") or result.get("files", [])


def _same_file(a: str, b: str) -> bool:
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.normpath(a) == os.path.normpath(b)


def _check_same_jets(results: list[dict[str, Any]], run_dirs: Sequence[str | os.PathLike], task: str) -> None:
    """Refuse runs whose test jets differ: other files, another seed (split), or other jets in the same files."""
    first, where = results[0], run_dirs[0]
    first_files = _probed_files(first)
    for result, run in zip(results[1:], run_dirs[1:], strict=True):
        files, seed = _probed_files(result), result.get("seed")
        same_files = len(files) == len(first_files) and all(
            _same_file(a, b) for a, b in zip(files, first_files, strict=True)
        )
        fingerprints = (result["jets"].get("test_sha1"), first["jets"].get("test_sha1"))
        same_split = same_files and seed == first.get("seed")
        if not same_split or (None not in fingerprints and len(set(fingerprints)) > 1):
            why = " (the same files and seed, but other test jets: the files changed in between)" if same_split else ""
            raise ProbeError(
                f"{run}/probe/{task}.json: probed on {files} with --seed {seed}, {where} on {first_files}"
                f" with --seed {first.get('seed')}{why}; compare needs the same test jets: probe every run with"
                " the same --data and --seed"
            )


def pretraining_budget(run_dir: str | os.PathLike, checkpoint: str | None = None) -> dict[str, Any]:
    """What a run's pretraining cost up to ``checkpoint`` (by default its newest): steps, jets, wall time.

    ``steps`` is the checkpoint's step (from its name), ``jets`` the steps times ``train.batch_size``
    (per process), and ``wall_s`` the training time read from ``metrics.csv``: its ``wall_s`` column
    where the run logs one, else estimated from the logged rates (each logged window of steps took
    its jets divided by its ``jets_per_s``, and the steps after the last log as many at the last
    rate; evaluations are not counted). None where the run logged no rate (fewer than
    ``train.log_every`` steps).
    """
    run_dir = Path(run_dir)
    path = Path(checkpoint) if checkpoint else runs.latest_checkpoint(run_dir)
    match = _STEP.search(path.name) if path is not None else None
    steps = int(match.group(1)) if match else None
    try:
        batch = runs.run_config(run_dir).train.batch_size
    except Exception:  # noqa: BLE001 - a run whose config no longer reads still has a budget in steps
        batch = None
    wall_s = None
    metrics = run_dir / runs.METRICS
    if steps is not None and metrics.is_file():
        with metrics.open(newline="") as handle:
            rows = [r for r in csv.DictReader(handle) if r.get("split") == "train" and r.get("step")]
        rows = [r for r in rows if int(float(r["step"])) <= steps]
        if rows and rows[-1].get("wall_s"):
            wall_s = float(rows[-1]["wall_s"])
        elif rows and batch:
            wall_s, done, rate = 0.0, 0, None
            for row in rows:
                step, rate = int(float(row["step"])), float(row["jets_per_s"] or "nan")
                if not (math.isfinite(rate) and rate > 0):
                    wall_s, rate = None, None
                    break
                wall_s += (step - done) * batch / rate
                done = step
            if wall_s is not None and rate:
                wall_s += (steps - done) * batch / rate
    return {"steps": steps, "jets": steps * batch if steps is not None and batch else None, "wall_s": wall_s}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _scores(result: dict[str, Any], run: str | os.PathLike, task: str) -> dict[str, Any] | None:
    """The per-test-jet scores a probe kept (``RUN/probe/<task>_scores.npz``), or None (probed before they were)."""
    path = Path(run) / "probe" / f"{task}_scores.npz"
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def _paired(
    results: list[dict[str, Any]],
    names: list[str],
    run_dirs: Sequence[str | os.PathLike],
    task: str,
    bootstraps: int,
    seed: int,
) -> list[str]:
    """The table of paired AUC differences of each run after the first against the first."""
    scores = [_scores(r, run, task) for r, run in zip(results, run_dirs, strict=True)]
    lines = [
        f"## Paired differences: AUC of each run minus AUC of {names[0]}, same probe, same test jets",
        "",
        f"68% bootstrap intervals, {bootstraps} resamples of the {results[0]['jets']['test']} test jets taken"
        " together for both runs: what the test jets share cancels.",
        "",
        "| run | probe | labels | ΔAUC |",
        "|---|---|---|---|",
    ]
    base = scores[0]
    for name, run, other in zip(names[1:], run_dirs[1:], scores[1:], strict=True):
        if base is None or other is None:
            missing = run_dirs[0] if base is None else run
            lines.append(f"| {name} | – | – | no per-jet scores in {missing}/probe/: probe it again |")
            continue
        if not (
            np.array_equal(base["test_index"], other["test_index"]) and np.array_equal(base["label"], other["label"])
        ):
            raise ProbeError(
                f"{run}/probe/{task}_scores.npz: other test jets than {run_dirs[0]}; probe both with the same"
                " --data and --seed"
            )
        theirs = {
            str(p): (float(f), s) for p, f, s in zip(other["probe"], other["fraction"], other["score"], strict=True)
        }
        for probe, fraction, score in zip(base["probe"], base["fraction"], base["score"], strict=True):
            probe = str(probe)
            if probe.startswith("observables") or probe not in theirs or theirs[probe][0] != float(fraction):
                continue  # the observables do not depend on the run; a probe at other fractions is not paired
            d = paired_bootstrap(base["label"], score, theirs[probe][1], n=bootstraps, seed=seed)
            cell = f"{d['value']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
            if d["low"] > 0 or d["high"] < 0:
                cell = f"**{cell}**"
            lines.append(f"| {name} | {probe} | {100 * float(fraction):g}% | {cell} |")
    return lines


def compare(
    run_dirs: Sequence[str | os.PathLike],
    task: str = "qg",
    out: str | os.PathLike = "compare",
    *,
    bootstraps: int = 1000,
    seed: int = 0,
) -> tuple[Path, Path]:
    """Write ``OUT/<task>.md`` (the tables) and ``OUT/<task>.png`` (AUC vs label fraction) for the runs.

    Args:
        run_dirs: probed runs; the first is the one the others are paired against.
        task: ``qg`` or ``top``.
        out: the folder for the table and the figure.
        bootstraps: resamples of the paired intervals.
        seed: seed of those resamples.

    Raises:
        ProbeError: a run not probed on ``task``, runs probed on different files or splits (their
            test jets differ), or the energy task (compare its JSON files instead).
    """
    if task == "energy":
        raise ProbeError("compare covers classification tasks (qg, top); for energy read each run's probe/energy.json")
    results = [load_result(run, task) for run in run_dirs]
    _check_same_jets(results, run_dirs, task)
    names = _names(results, run_dirs)
    first = results[0]
    lines = [
        f"# {task}: {len(results)} run(s) probed on the same jets ({', '.join(first['files'])}, seed {first['seed']})"
    ]
    lines += ["", counts_line(first), "", "## Pretraining budget", ""]
    lines += ["| run | checkpoint step | jets seen | training time |", "|---|---|---|---|"]
    for name, run, result in zip(names, run_dirs, results, strict=True):
        budget = pretraining_budget(run, result.get("checkpoint"))
        jets = "–" if budget["jets"] is None else f"{budget['jets']:,}"
        steps = "–" if budget["steps"] is None else f"{budget['steps']:,}"
        lines.append(f"| {name} | {steps} | {jets} | {_duration(budget['wall_s'])} |")
    lines += ["", "## Probes at the largest label fraction", ""]
    lines += ["| run | probe | AUC | 1/ε_B at ε_S=0.3 | 1/ε_B at ε_S=0.5 | labels |", "|---|---|---|---|---|---|"]
    reasons: set[str] = set()
    curves: dict[str, dict[float, Any]] = {}
    styles: dict[str, dict[str, Any]] = {}
    probes = list(dict.fromkeys(p for r in results for p in r["probes"]))
    colours = probe_colours(probes)
    for index, (name, result) in enumerate(zip(names, results, strict=True)):
        top = str(max(result["label_fractions"]))
        for probe, values in result["probes"].items():
            baseline = probe.startswith("observables")
            if baseline and index > 0:
                continue  # the same files, split and seed: the same numbers for every run
            label = f"{probe} (every run)" if baseline else f"{name}: {probe}"
            curves[label] = {float(f): v["auc"] for f, v in values.items()}
            style = {"linestyle": ":", "marker": "x"} if baseline else run_style(index)
            styles[label] = {"color": colours[probe], **style}
            if top not in values:  # a supervised reference trained at smaller label fractions only
                continue
            auc, why = format_auc(result, top, values[top])
            r3, why3 = format_rejection(result, values[top].get("rejection_at_0.3"))
            r5, why5 = format_rejection(result, values[top].get("rejection_at_0.5"))
            reasons |= why | why3 | why5
            who = "– (observables, any run)" if baseline else name
            labels = result["jets"].get("labels_per_fraction", {}).get(top, round(result["jets"]["train"] * float(top)))
            lines.append(f"| {who} | {probe} | {auc} | {r3} | {r5} | {labels} |")
    lines += footnote(first, reasons)
    if len(results) > 1:
        lines += ["", *_paired(results, names, run_dirs, task, bootstraps, seed)]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / f"{task}.md"
    with written_atomically(table) as partial:
        partial.write_text("\n".join(lines) + "\n")
    legend = [(probe, {"color": colours[probe], "linestyle": "-"}) for probe in probes]
    legend += [(name, {"color": "black", **run_style(i)}) for i, name in enumerate(names)]
    if any(p.startswith("observables") for p in probes):
        legend.append(("observables (every run)", {"color": "black", "linestyle": ":", "marker": "x"}))
    sample = f"{Path(first['files'][0]).name}, {first['jets']['test']} test jets"
    figure = label_fraction_figure(
        curves, out / f"{task}.png", styles=styles, legend=legend, label_names=first.get("label_names"), sample=sample
    )
    return table, figure


__all__ = ["compare", "load_result", "pretraining_budget"]
