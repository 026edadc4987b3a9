"""Transfer: quality runs probed, frozen, on jets unlike the ones they were pretrained on.

The ``transfer`` section of a quality config (``benchmarks/quality_top.yaml``,
``benchmarks/quality_qg_showers.yaml``) names the runs to probe (the pretrained encoders, then their
random-initialisation control, last; each for the seeds it was trained for, a control for the seeds of the runs
paired with it), ``controls`` (a pretrained run whose encoder differs from the last run's, mapped to its own
random-init control, a run with ``steps: 0``), the ``task`` (default ``top``), the
``working_point`` of the rejection column (default ε_S = 0.3) and the shifts. A shift is a sample
YAML (another jet pT window, multiparton interactions off, ...), generated once with a seed no run
used, or ``detector_of: SAMPLE``: that sample of the config (it needs detector replicas) at detector
level, its first replica's tracks and calorimeter cells written as the particles, so that the
encoder and the observables both see what a detector measured. Each finished quality run (and seed)
is copied (config and checkpoints, so its own probe results stay as they are) and probed on each
shift with every label, as ``jetgraph probe --label-fractions 1 --no-supervised`` does. The first
row of the table is the quality run's own test sample (the fresh seed), read from its records.

The table: the SSL linear probe, the same encoder at random initialisation, the best observable
baseline, and the paired differences per seed (same test jets); then one ``TARGET`` line per shift
(per shift and pretrained run when there are several).

Usage::

    .venv/bin/python benchmarks/transfer.py --config benchmarks/quality_top.yaml --budget-minutes 5 --threads 2
    .venv/bin/python benchmarks/transfer.py ... --report docs/results_transfer.md
    .venv/bin/python benchmarks/transfer.py --config benchmarks/quality_qg_showers.yaml --threads 2
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
import yaml

import jetgraph
from jetgraph import runs
from jetgraph.probes import probe
from jetgraph.probes.tasks import MIN_PASSING_BACKGROUND, WORKING_POINTS, few_background

sys.path.insert(0, str(Path(__file__).parent))
from quality import (  # noqa: E402
    ROOT,
    _shown,
    _signed,
    _spread,
    _write,
    clears,
    make_samples,
    resolve_runs,
    sample_paths,
    seed_count,
    seed_dir,
    seeds_of,
)

OBSERVABLES = ("observables (logistic)", "observables (GBDT)")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "benchmarks" / "quality_top.yaml")
    parser.add_argument("--budget-minutes", type=float, help="the quality runs' budget [the config's]")
    parser.add_argument("--threads", type=int, required=True, help="the quality runs' threads (names their folder)")
    parser.add_argument("--seeds", help="comma-separated [the config's]")
    parser.add_argument("--workers", type=int, default=2, help="processes generating the shifted samples")
    parser.add_argument("--report", type=Path, help="also write the markdown table here")
    return parser.parse_args()


def _numbers(result: dict[str, Any], working_point: float) -> dict[str, float]:
    """Linear-probe AUC and 1/ε_B at ε_S = ``working_point``, and the best observable AUC, with every label.

    ``few``: the rejection rests on fewer than ``MIN_PASSING_BACKGROUND`` passing background jets (the
    probe's table marks it *, not a result).
    """
    probes = result["probes"] if "probes" in result else result
    linear = probes["linear"]["1.0"]
    rejection = linear[f"rejection_at_{working_point:g}"]
    return {
        "auc": linear["auc"]["value"],
        "rejection": rejection["value"],
        "few": few_background(rejection),
        "observables": max(probes[name]["1.0"]["auc"]["value"] for name in OBSERVABLES),
    }


def _rejections(numbers: list[dict[str, Any]]) -> str:
    """Mean ± spread of the rejections, marked * when any of them rests on too few background jets."""
    return _spread([n["rejection"] for n in numbers], 1) + ("*" if any(n.get("few") for n in numbers) else "")


PF_PID = {"track": 211, "ecal": 22, "hcal": 130}
"""The particle type a detector-level particle stands in as (particle-flow candidates): a track a charged
hadron (the sign of its charge), an ECAL cell a photon, an HCAL cell a neutral hadron."""


def detector_level(jets: ak.Array, replica: int = 0) -> ak.Array:
    """The jets as one detector replica saw them, as particles: what a particle-level encoder can read.

    The particles are those of :func:`jetgraph.batch.detector_view` (cells first, then tracks, all
    massless; a cell has ``pT = E / cosh(eta)`` and charge 0, a track keeps its charge). Where
    ``detector_view`` adds a ``layer``, this gives each particle the ``pid`` of :data:`PF_PID`, so
    an encoder trained on particles with a ``pid`` gets the same input columns. The jet record is
    the calorimeter jet (the sum of the replica's cells: tracks would count charged energy twice);
    the truth jet and the label are kept.
    """
    tracks, cells = jets.tracks[:, replica], jets.cells[:, replica]
    cell_pt = cells.energy / np.cosh(cells.eta)
    pt = ak.concatenate([cell_pt, tracks.pt], axis=1)  # cells first, as detector_view orders them
    eta = ak.concatenate([cells.eta, tracks.eta], axis=1)
    phi = ak.concatenate([cells.phi, tracks.phi], axis=1)
    charge = ak.concatenate([ak.zeros_like(cells.energy), tracks.charge], axis=1)
    cell_pid = ak.where(cells.layer == 0, PF_PID["ecal"], PF_PID["hcal"])
    pid = ak.concatenate([cell_pid, ak.values_astype(np.sign(tracks.charge), np.int32) * PF_PID["track"]], axis=1)
    part = {"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta), "energy": pt * np.cosh(eta)}
    calorimeter = jetgraph.schema.build(cells={field: cells[field] for field in cells.fields}).jet
    return jetgraph.schema.build(
        part={**part, "pid": pid, "charge": charge},
        jet={field: calorimeter[field] for field in ("pt", "eta", "phi", "energy", "mass")},
        truth={field: jets.truth[field] for field in jets.truth.fields} if "truth" in jets.fields else None,
        label=jets.label if "label" in jets.fields else None,
        label_names=jets.attrs.get("label_names"),
    )


def make_detector_level(source: Path, out: Path) -> None:
    """Write ``source``'s jets at detector level (:func:`detector_level`) to ``out`` (atomically), once."""
    if out.exists():
        return
    jets = jetgraph.read(source)
    if "cells" not in jets.fields:
        raise SystemExit(f"{source}: a detector_of shift needs detector replicas (generate it with --replicas 1)")
    print(f"$ detector level of {source.name} -> {out.name}", flush=True)
    jetgraph.write(detector_level(jets), out, label_names=jets.attrs.get("label_names"))


def _probed_copy(
    run_dir: Path, copy_dir: Path, sample: Path, task: str, seed: int, bootstraps: int, working_point: float
) -> dict[str, float]:
    """Probe a copy of ``run_dir`` on ``sample`` (once: the copy keeps its result)."""
    done = copy_dir / "probe" / f"{task}.json"
    if not done.exists():
        shutil.rmtree(copy_dir, ignore_errors=True)
        copy_dir.mkdir(parents=True)
        shutil.copyfile(run_dir / runs.CONFIG, copy_dir / runs.CONFIG)
        shutil.copytree(run_dir / runs.CHECKPOINTS, copy_dir / runs.CHECKPOINTS)
        print(f"  probing {run_dir} on {sample.name}", flush=True)
        settings = {"label_fractions": [1.0], "supervised": False, "seed": seed, "bootstraps": bootstraps}
        probe(copy_dir, task, sample, threads=1, **settings)  # one thread: the fastest probe (benchmarks/probe.py)
    return _numbers(json.loads(done.read_text()), working_point)


def paired_seeds(controls: dict[str, str], run_seeds: dict[str, list[int]]) -> dict[str, list[int]]:
    """The seeds each control is probed on: those of its own that a run paired with it has too."""
    return {
        control: [s for s in run_seeds[control] if any(s in run_seeds[r] for r, c in controls.items() if c == control)]
        for control in set(controls.values())
    }


def table(
    rows: dict[str, dict[str, dict[int, dict[str, float]]]],
    texts: dict[str, str],
    controls: dict[str, str],
    working_point: float,
) -> tuple[list[str], list[str]]:
    """The markdown table and the TARGET lines: a row per shift (per shift and pretrained run when several).

    ``rows`` holds, per shift, run and seed, the :func:`_numbers` of a probe. Each pretrained run (the keys
    of ``controls``, in order) is paired, seed by seed, with its random-init control on the seeds both
    have; a run without such a seed gets no row, and its TARGET lines say ``not run``. When the runs have
    different controls, each row names its own.
    """
    pretrained = list(controls)
    lines = [
        "| probed on | SSL linear AUC | random init linear AUC | best observables AUC | SSL − random init "
        f"| SSL − best observables | SSL 1/ε_B at ε_S={working_point:g} | random init 1/ε_B at ε_S={working_point:g} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    targets, shown = [], []
    for name, by_run in rows.items():
        for ssl in pretrained:
            control = by_run[controls[ssl]]
            seeds = [s for s in by_run[ssl] if s in control]
            pairs = [(by_run[ssl][s], control[s]) for s in seeds]
            label, which = texts[name], ""
            if len(pretrained) > 1:  # say which run, and on which seeds its row rests
                on = f"seed {seeds[0]}" if len(seeds) == 1 else f"seeds {', '.join(map(str, seeds))}"
                against = f" against {controls[ssl]}" if len(set(controls.values())) > 1 else ""
                label, which = f"{texts[name]}: {ssl}{against} ({on})", f" {ssl}"
            over_random = [a["auc"] - b["auc"] for a, b in pairs]
            over_observables = [a["auc"] - a["observables"] for a, _ in pairs]
            if pairs:
                shown += pairs
                lines.append(
                    f"| {label} | {_spread([a['auc'] for a, _ in pairs])} | {_spread([b['auc'] for _, b in pairs])} "
                    f"| {_spread([a['observables'] for a, _ in pairs])} | {_signed(over_random)} "
                    f"| {_signed(over_observables)} | {_rejections([a for a, _ in pairs])} "
                    f"| {_rejections([b for _, b in pairs])} |"
                )
            for what, values in (("random init", over_random), ("the best observables", over_observables)):
                verdict = ": not run"
                if values:
                    verdict = f" ({seed_count(len(values))}) -> {'MET' if clears(values, 0.0) else 'NOT MET'}"
                targets.append(f"TARGET [{name}]{which} SSL linear AUC beats {what}{verdict}")
    if any(a.get("few") or b.get("few") for a, b in shown):
        lines += [
            "",
            f"\\* rests, in some seed, on fewer than {MIN_PASSING_BACKGROUND} passing background jets: not a result.",
        ]
    return lines, targets


def main() -> None:
    args = _arguments()
    config = yaml.safe_load(args.config.read_text())
    spec = config["transfer"]
    budget = args.budget_minutes if args.budget_minutes is not None else config["budget_minutes"]
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else list(config["seeds"])
    workdir = ROOT / config["workdir"]
    quality_dir = workdir / f"budget{budget:g}min_{args.threads}threads"
    task, working_point = spec.get("task", "top"), float(spec.get("working_point", 0.3))
    if working_point not in WORKING_POINTS:
        raise SystemExit(f"{args.config}: transfer.working_point {working_point:g}; expected one of {WORKING_POINTS}")
    for name, shift in spec["shifts"].items():
        if "detector_of" in shift and shift["detector_of"] not in config["samples"]:
            raise SystemExit(
                f"{args.config}: transfer.shifts.{name}.detector_of {shift['detector_of']!r}; "
                f"expected a sample of the config: {list(config['samples'])}"
            )
    all_runs = resolve_runs(config)
    if len(spec["runs"]) < 2 or not set(spec["runs"]) <= set(all_runs):
        raise SystemExit(
            f"{args.config}: transfer.runs {spec['runs']}; expected pretrained runs of the config, then their "
            f"random-init control: {list(all_runs)}"
        )
    *pretrained, random = spec["runs"]
    own_controls = spec.get("controls", {})
    if (
        not isinstance(own_controls, dict)
        or not set(own_controls) <= set(pretrained)
        or any(all_runs.get(c, {}).get("steps") != 0 for c in own_controls.values())
    ):
        raise SystemExit(
            f"{args.config}: transfer.controls {own_controls}; expected runs of transfer.runs {pretrained} mapped to "
            f"their random-init control, a run of the config with steps: 0: {list(all_runs)}"
        )
    run_seeds = {run: seeds_of(all_runs[run], seeds) for run in all_runs}  # the seeds each run was trained for
    if left_out := [run for run in pretrained if not run_seeds[run]]:
        print(f"{', '.join(left_out)}: trained for none of seeds {seeds}, left out", flush=True)
        pretrained = [run for run in pretrained if run_seeds[run]]
    if not pretrained:
        raise SystemExit(f"--seeds {args.seeds}: no pretrained run of transfer.runs is trained for these seeds")
    controls = {run: own_controls.get(run, random) for run in pretrained}
    run_seeds |= paired_seeds(controls, run_seeds)
    probed = list(dict.fromkeys([*pretrained, *controls.values()]))

    unfinished = {
        run: [s for s in run_seeds[run] if not (seed_dir(quality_dir, run, s) / "quality.json").exists()]
        for run in probed
    }
    if any(unfinished.values()):
        runs_left = ",".join(run for run, left in unfinished.items() if left)
        seeds_left = ",".join(str(s) for s in sorted({s for left in unfinished.values() for s in left}))
        raise SystemExit(
            f"{quality_dir}: runs {runs_left} are not finished for seeds {seeds_left} (--budget-minutes and --threads "
            f"name the folder); first: .venv/bin/python benchmarks/quality.py --config {_shown(args.config)} "
            f"--budget-minutes {budget:g} --threads {args.threads} --seeds {seeds_left} --only {runs_left}"
        )
    fresh = config["samples"]["probe"]
    shifts, paths, sources = {}, {}, {}  # name -> its jets and seed (for the table); its file; what it is made of
    for name, shift in spec["shifts"].items():
        if "detector_of" in shift:  # the jets of a sample of the config, as its detector saw them
            sources[name] = sample_paths(config["samples"], workdir)[shift["detector_of"]]
            shifts[name] = {**shift, **{k: config["samples"][shift["detector_of"]][k] for k in ("jets", "seed")}}
            paths[name] = workdir / "samples" / f"transfer_{name}_{sources[name].name}"
        else:
            shifts[name] = {**shift, "jets": spec["jets"], "seed": spec["seed"], "sample": str(ROOT / shift["sample"])}
            paths[name] = workdir / "samples" / f"transfer_{name}_{spec['jets']}_seed{spec['seed']}.root"
    make_samples({k: v for k, v in shifts.items() if k not in sources}, paths, args.workers)
    for name, source in sources.items():
        make_detector_level(source, paths[name])
    rows: dict[str, dict[str, dict[int, dict[str, float]]]] = {}  # shift -> run -> seed -> numbers
    rows["fresh"] = {
        run: {
            seed: _numbers(
                json.loads((seed_dir(quality_dir, run, seed) / "quality.json").read_text())[task],
                working_point,
            )
            for seed in run_seeds[run]
        }
        for run in probed
    }
    for name, path in paths.items():
        rows[name] = {
            run: {
                seed: _probed_copy(
                    seed_dir(quality_dir, run, seed),
                    quality_dir / "transfer" / name / run / f"seed{seed}",
                    path,
                    task,
                    seed,
                    config["probe"]["bootstraps"],
                    working_point,
                )
                for seed in run_seeds[run]
            }
            for run in probed
        }
    texts = {"fresh": f"the quality runs' test sample ({fresh['jets']:,} jets, seed {fresh['seed']})"}
    texts |= {name: f"{shift['text']} ({shift['jets']:,} jets, seed {shift['seed']})" for name, shift in shifts.items()}
    header = (
        f"Generated by `.venv/bin/python benchmarks/transfer.py --config {_shown(args.config)} --budget-minutes "
        f"{budget:g} --threads {args.threads}` from the runs in {_shown(quality_dir)} (seeds {seeds}); the shifted "
        f"samples are the `transfer` section of {_shown(args.config)}. Linear probe and observables trained on 60% of "
        "each sample with every label, scored on its 20% test split; mean ± standard deviation over pretraining "
        "seeds; differences paired per seed, on the same test jets."
    )
    lines, targets = table(rows, texts, controls, working_point)
    text = "\n".join([header, "", *lines, "", "```", *targets, "```", ""])
    out = quality_dir / "transfer.md"
    _write(out, text)
    if args.report:
        _write(args.report, text)
    print("\n" + text)
    print(out, args.report or "")


if __name__ == "__main__":
    main()
