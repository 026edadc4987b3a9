"""``jetgraph probe``: what a frozen representation knows, measured as the SSL-for-jets papers do.

For a run and a labelled jet file: embed every jet once with the frozen encoder (cached in
``RUN/probe/``), split the jets 60/20/20 with a seed, then on the same test jets

- ``qg`` / ``top`` (classification): linear, MLP and kNN probes on the representation, at each
  label fraction (1%, 10%, 100% of the training labels by default), next to the classic
  observables (multiplicity, girth, pT_D, mass/pT, ECFs, τ21) in a logistic regression and a
  gradient-boosted classifier, and the encoder's own architecture trained on the same labels from
  scratch and fine-tuned from the pretrained weights; AUC, accuracy and background rejection
  1/ε_B at ε_S = 0.3 and 0.5 with bootstrap intervals;
- ``energy`` (regression, detector-level jets with a truth jet): linear and MLP regressions of the
  truth jet energy from the representation, next to the calibrated sum of cell energies; response
  and resolution in bins of truth energy; the same probes for the truth jet's pT and mass.

Results go to ``RUN/probe/<task>.json`` and figures to ``RUN/probe/<task>_*.png``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from jetgraph import runs
from jetgraph.batch import JetBatch
from jetgraph.data import JetDataset
from jetgraph.inputs import Inputs
from jetgraph.outputs import locked, written_atomically
from jetgraph.paths import expand_paths
from jetgraph.probes.classify import fit_score, label_fraction_indices, split_indices
from jetgraph.probes.embed import embed
from jetgraph.probes.metrics import ProbeError, bootstrap, response_resolution
from jetgraph.probes.observables import OBSERVABLES, cell_energy_sum, observable_matrix
from jetgraph.probes.plots import label_fraction_figure, map_figure, response_figure, roc_figure
from jetgraph.probes.regress import calibrate_sum, fit_predict_energy
from jetgraph.probes.supervised import train_classifier
from jetgraph.settings import from_mapping, read_yaml
from jetgraph.version import __version__

TASKS = ("qg", "top", "energy")
REPRESENTATION_PROBES = ("linear", "mlp", "knn")
BASELINE_PROBES = {"observables (logistic)": "linear", "observables (GBDT)": "gbdt"}
DEFAULT_FRACTIONS = (0.01, 0.1, 1.0)


def _cache_key(files: Sequence[str], checkpoint: str) -> str:
    stamp = [checkpoint, *(f"{f}:{os.path.getsize(f)}:{os.path.getmtime(f)}" for f in files)]
    return hashlib.sha1("|".join(stamp).encode()).hexdigest()[:12]


def _embedding(
    run_dir: Path, checkpoint: Path, files: list[str], recipe: str | None, progress: bool
) -> dict[str, np.ndarray]:
    """The frozen representations and jet columns of ``files`` (computed once, then read from the cache)."""
    path = run_dir / "probe" / f"embedding-{_cache_key(files, str(checkpoint))}.h5"
    if not path.exists():
        embed(run_dir, files, path, recipe=recipe, checkpoint=checkpoint, progress=progress)
    with h5py.File(path, "r") as handle:
        return {name: handle[name][:] for name in handle}


def _jets(files: list[str], recipe: str | None, task: str) -> tuple[JetBatch, np.ndarray]:
    """All jets as one batch, in file order, and per jet the classic observables or the raw cell-energy sum."""
    batches, parts = [], []
    source = ", ".join(files)
    for batch in JetDataset(files, 4096, recipe=recipe, rank=0, world_size=1):
        if not batches:
            _check_task(task, batch, source)
        batches.append(batch)
        if task == "energy":
            parts.append(cell_energy_sum(batch).double().numpy()[:, None])
        else:
            parts.append(observable_matrix(batch))
    return JetBatch.cat(batches), np.concatenate(parts)


def _check_task(task: str, batch: JetBatch, source: str) -> None:
    """Jets that the task cannot use, found on the first batch, before anything is embedded."""
    if task == "energy":
        absent = [
            what for key, what in (("cells_energy", "cells"), ("truth_energy", "truth.energy")) if key not in batch
        ]
        if absent:
            raise ProbeError(
                f"{source}: --task energy needs detector-level jets (cells) with a truth jet (truth.energy); "
                f"these jets have no {' and no '.join(absent)}"
            )
        return
    if "label" not in batch or bool((batch.label < 0).any()):
        raise ProbeError(f"{source}: --task {task} needs labelled jets; these have no label")


def _supervised_scores(
    run: tuple[Path, Path],
    epochs: int,
    jets: JetBatch,
    labels: np.ndarray,
    chosen: np.ndarray,
    test: np.ndarray,
    seed: int,
) -> dict[str, np.ndarray]:
    """The encoder's architecture trained on the chosen labels: from scratch, and fine-tuned from pretraining."""
    pretrained, config, _ = runs.load_encoder(*run)
    torch.manual_seed(seed)
    fresh, _ = config.model.build()
    inputs = Inputs(config.augment, pretrained.input_kind)
    return {
        "supervised (scratch)": train_classifier(fresh, inputs, jets, labels, chosen, test, seed=seed, epochs=epochs),
        "fine-tuned": train_classifier(
            pretrained, inputs, jets, labels, chosen, test, seed=seed, epochs=epochs, lr=1e-4, head_from_probe=True
        ),
    }


def _classification(
    data: dict[str, np.ndarray],
    observables: np.ndarray,
    fractions: Sequence[float],
    seed: int,
    bootstraps: int,
    supervised: tuple[tuple[Path, Path], int, JetBatch] | None,
    supervised_fractions: Sequence[float],
) -> tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]:
    labels = data["label"]
    train, _, test = split_indices(len(labels), seed=seed)
    inputs = {name: data["representation"] for name in REPRESENTATION_PROBES}
    inputs.update({name: observables for name in BASELINE_PROBES})
    kinds = {**{name: name for name in REPRESENTATION_PROBES}, **BASELINE_PROBES}
    scan: dict[str, dict[float, Any]] = {name: {} for name in kinds}
    if supervised is not None:
        scan.update({"supervised (scratch)": {}, "fine-tuned": {}})
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # an MLP on a handful of labels never converges
    for fraction in fractions:
        chosen = train[label_fraction_indices(labels[train], fraction, seed)]
        for name, kind in kinds.items():
            x = inputs[name]
            params = {"k": min(25, max(3, len(chosen) // 5))} if kind == "knn" else {}  # 1% of labels: few jets
            score = fit_score(kind, x[chosen], labels[chosen], x[test], seed=seed, **params)
            scan[name][fraction] = bootstrap(labels[test], score, n=bootstraps, seed=seed)
            if fraction == max(fractions):
                curves[name] = (labels[test], score)
        if supervised is not None and fraction in supervised_fractions:
            for name, score in _supervised_scores(*supervised, labels, chosen, test, seed).items():
                scan[name][fraction] = bootstrap(labels[test], score, n=bootstraps, seed=seed)
                if fraction == max(supervised_fractions):
                    curves[name] = (labels[test], score)
    results = {
        "jets": {"train": len(train), "test": len(test)},
        "probes": {name: {str(f): m for f, m in values.items()} for name, values in scan.items()},
    }
    return results, curves


def _energy(data: dict[str, np.ndarray], raw: np.ndarray, seed: int) -> tuple[dict[str, Any], dict[str, dict]]:
    truth = data["truth_energy"].astype(np.float64)
    keep = np.flatnonzero((truth > 0) & (raw[:, 0] > 0))
    train, _, test = (keep[i] for i in split_indices(len(keep), seed=seed))
    x = data["representation"]
    predictions = {
        "linear": fit_predict_energy("linear", x[train], truth[train], x[test], seed=seed),
        "mlp": fit_predict_energy("mlp", x[train], truth[train], x[test], seed=seed),
        "calibrated cell sum": calibrate_sum(raw[train, 0], truth[train], raw[test, 0]),
    }
    edges = np.quantile(truth[test], np.linspace(0, 1, 7))
    binned = {name: response_resolution(p, truth[test], edges) for name, p in predictions.items()}
    results = {
        "jets": {"train": len(train), "test": len(test)},
        "probes": {name: {k: np.asarray(v).tolist() for k, v in r.items()} for name, r in binned.items()},
        "other_targets": {},
    }
    figures = {"energy": binned}
    for target in ("pt", "mass"):  # the same probes for the truth jet's pT and mass, on the same split
        values = data.get(f"truth_{target}")
        if values is None:
            continue
        values = values.astype(np.float64)
        fit, held = train[values[train] > 0], test[values[test] > 0]
        if len(fit) < 10 or len(held) < 10:
            continue
        edges = np.quantile(values[held], np.linspace(0, 1, 7))
        figures[target] = {
            kind: response_resolution(
                fit_predict_energy(kind, x[fit], values[fit], x[held], seed=seed), values[held], edges
            )
            for kind in ("linear", "mlp")
        }
        results["other_targets"][target] = {
            name: {k: np.asarray(v).tolist() for k, v in r.items()} for name, r in figures[target].items()
        }
    return results, figures


def probe(
    run_dir: str | os.PathLike,
    task: str,
    data: str | os.PathLike | list[str | os.PathLike] | None = None,
    *,
    label_fractions: Sequence[float] = DEFAULT_FRACTIONS,
    recipe: str | None = None,
    seed: int = 0,
    bootstraps: int = 200,
    supervised: bool = True,
    supervised_fractions: Sequence[float] | None = None,
    supervised_epochs: int = 20,
    progress: bool = False,
) -> dict[str, Any]:
    """Probe the frozen encoder of ``run_dir`` on ``task``; write ``probe/<task>.json`` and figures.

    Args:
        run_dir: a pretraining run.
        task: ``qg``, ``top`` (classification) or ``energy`` (regression of the truth jet energy).
        data: labelled jet files; by default the run's held-out files (``data.val``).
        label_fractions: fractions of the training labels the probes see (classification).
        supervised: also train the encoder's architecture on the same labels, from scratch and
            fine-tuned from the pretrained weights (classification; the slow part).
        supervised_fractions: the label fractions at which to train those references (default:
            all of ``label_fractions``); at 100% of many labels they take minutes each.
        supervised_epochs: epochs over the chosen labels for those references (small label sets
            train for more, at least ``MIN_STEPS`` steps; see :func:`train_classifier`).

    Returns:
        The results as written to the JSON file, with ``figures`` listing the PNGs.
    """
    run_dir = Path(run_dir)
    if task not in TASKS:
        raise ProbeError(f"--task {task!r}; expected one of {list(TASKS)}")
    fractions = sorted({float(f) for f in label_fractions})
    if not fractions or not all(0 < f <= 1 for f in fractions):
        raise ProbeError(f"--label-fractions {list(label_fractions)!r}; expected fractions in (0, 1], e.g. 0.01,0.1,1")
    chosen = fractions if supervised_fractions is None else sorted({float(f) for f in supervised_fractions})
    if int(supervised_epochs) != supervised_epochs or supervised_epochs < 1:
        raise ProbeError(f"supervised_epochs: {supervised_epochs!r}; expected a whole number of epochs, at least 1")
    if not chosen or not set(chosen) <= set(fractions):
        raise ProbeError(
            f"supervised_fractions: {supervised_fractions!r}; expected some of the label fractions {fractions}"
        )
    config = runs.run_config(run_dir)
    files = expand_paths(data if data is not None else (config.data.val or config.data.train))
    source = ", ".join(files)
    with locked(run_dir / "probe", "probe"):  # two probes of one run would mix their cache and results
        checkpoint, _ = runs.load_latest(run_dir)
        torch.set_grad_enabled(False)
        try:
            jets, quantities = _jets(files, recipe, task)
            if task != "energy" and len(classes := torch.unique(jets.label).tolist()) != 2:
                raise ProbeError(f"{source}: --task {task} needs jets of two classes; these hold class(es) {classes}")
            embedded = _embedding(run_dir, checkpoint, files, recipe, progress)
        finally:
            torch.set_grad_enabled(True)
        if len(quantities) != len(embedded["representation"]):
            raise ProbeError(
                f"{source}: {len(quantities)} jets read for the baselines, {len(embedded['label'])} embedded"
            )
        out = run_dir / "probe"
        figures = []
        if task == "energy":
            results, binned = _energy(embedded, quantities, seed)
            figures.append(response_figure(binned["energy"], out / f"{task}_response.png"))
            for target in ("pt", "mass"):
                if target in binned:
                    label = f"Truth jet {'p_T' if target == 'pt' else 'mass'} [GeV]"
                    path = out / f"{task}_{target}_response.png"
                    figures.append(response_figure(binned[target], path, xlabel=label))
        else:
            reference = ((run_dir, checkpoint), supervised_epochs, jets) if supervised else None
            results, curves = _classification(embedded, quantities, fractions, seed, bootstraps, reference, chosen)
            figures.append(roc_figure(curves, out / f"{task}_roc.png"))
            scan = {name: {float(f): m["auc"] for f, m in v.items()} for name, v in results["probes"].items()}
            figures.append(label_fraction_figure(scan, out / f"{task}_label_fractions.png"))
            representation, labels = embedded["representation"], embedded["label"]
            figures.append(map_figure(representation, labels, out / f"{task}_map.png", seed=seed))
            results["observables"] = list(OBSERVABLES)
            results["label_fractions"] = fractions
        results.update(
            task=task,
            run=str(run_dir),
            checkpoint=str(checkpoint),
            encoder=config.model.encoder,
            files=files,
            seed=seed,
            version=__version__,
            figures=[str(f) for f in figures],
        )
        with written_atomically(out / f"{task}.json") as partial:
            partial.write_text(json.dumps(results, indent=2))
    return results


@dataclass
class ProbeConfig:
    """What ``jetgraph probe`` measures: the keyword arguments of :func:`probe`, as a probe config file
    (``configs/probe/*.yaml``) gives them; options on the command line replace the file's."""

    task: str = "qg"
    data: list[str] = field(default_factory=list)
    """Labelled jet files; empty: the run's ``data.val``."""
    label_fractions: list[float] = field(default_factory=lambda: list(DEFAULT_FRACTIONS))
    recipe: str | None = None
    seed: int = 0
    bootstraps: int = 200
    supervised: bool = True
    supervised_fractions: list[float] | None = None
    supervised_epochs: int = 20

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments of :func:`probe`."""
        return {**dataclasses.asdict(self), "data": self.data or None}


def load_probe_config(path: str | os.PathLike) -> ProbeConfig:
    """A probe config file (``configs/probe/*.yaml``).

    Raises:
        ProbeError: an unreadable file, invalid YAML, an unknown key (with the nearest known one) or a
            value of the wrong type.
    """
    return from_mapping(ProbeConfig, read_yaml(path, "probe config", ProbeError), str(path), ProbeError)


def format_table(results: dict[str, Any]) -> str:
    """A Markdown table of a probe result (classification: at each label fraction; energy: per bin)."""
    if results["task"] == "energy":
        lines = ["| probe | truth E (GeV) | response | resolution |", "|---|---|---|---|"]
        for name, r in results["probes"].items():
            for centre, response, resolution in zip(r["centre"], r["response"], r["resolution"], strict=True):
                lines.append(f"| {name} | {centre:.0f} | {response:.3f} | {resolution:.3f} |")
        return "\n".join(lines)
    fractions = results["label_fractions"]
    header = "| probe | " + " | ".join(f"AUC ({f:g} of labels)" for f in fractions) + " | 1/ε_B at ε_S=0.5 |"
    lines = [header, "|---" * (len(fractions) + 2) + "|"]
    for name, values in results["probes"].items():
        cells = []
        for f in fractions:
            m = values[str(f)]["auc"] if str(f) in values else None  # supervised references: only some fractions
            cells.append("–" if m is None else f"{m['value']:.3f} [{m['low']:.3f}, {m['high']:.3f}]")
        top = str(max(fractions))
        rejection = f"{values[top]['rejection_at_0.5']['value']:.1f}" if top in values else "–"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {rejection} |")
    return "\n".join(lines)


__all__ = ["DEFAULT_FRACTIONS", "TASKS", "ProbeConfig", "format_table", "load_probe_config", "probe"]
