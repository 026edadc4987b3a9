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

Results go to ``RUN/probe/<task>.json`` (valid JSON: a rejection with no passing background is
``null``), figures to ``RUN/probe/<task>_*.png``, and for classification the score of every probe for
every test jet at the largest label fraction to ``RUN/probe/<task>_scores.npz``, so that
``jetgraph compare`` can pair two runs on the same test jets. A number that rests on too few jets (a
small test set, a handful of training labels, a rejection from a few passing background jets) is
warned about (:class:`~jetgraph.probes.metrics.ProbeWarning`) and marked ``*`` by :func:`format_table`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from jetgraph import runs
from jetgraph.batch import JetBatch
from jetgraph.data import JetDataset
from jetgraph.inputs import Inputs
from jetgraph.io import iterate
from jetgraph.outputs import locked, written_atomically
from jetgraph.paths import expand_paths, is_remote
from jetgraph.probes.classify import fit_score, label_fraction_indices, split_indices
from jetgraph.probes.embed import embed
from jetgraph.probes.metrics import (
    ProbeError,
    ProbeWarning,
    bootstrap,
    paired_bootstrap,
    passing_background,
    response_resolution,
)
from jetgraph.probes.observables import cell_energy_sum, names_of, observable_matrix
from jetgraph.probes.plots import class_names, label_fraction_figure, map_figure, response_figure, roc_figure
from jetgraph.probes.regress import calibrate_sum, fit_predict_energy
from jetgraph.probes.supervised import train_classifier
from jetgraph.settings import from_mapping, read_yaml
from jetgraph.version import __version__

TASKS = ("qg", "top", "energy")
REPRESENTATION_PROBES = ("linear", "mlp", "knn")
BASELINE_PROBES = {"observables (logistic)": "linear", "observables (GBDT)": "gbdt"}
DEFAULT_FRACTIONS = (0.01, 0.1, 1.0)
WORKING_POINTS = (0.3, 0.5)
"""Signal efficiencies ε_S at which the background rejection 1/ε_B is measured."""

MIN_TEST_JETS = 100
"""A test set smaller than this makes every number a rough estimate: warned about and marked ``*``."""
MIN_TRAINING_LABELS = 20
"""A probe trained on fewer labels than this (at a label fraction) is warned about and marked ``*``."""
MIN_PASSING_BACKGROUND = 10
"""A rejection 1/ε_B from fewer passing background jets than this is warned about and marked ``*``."""


@contextmanager
def limited_threads(threads: int | None) -> Iterator[None]:
    """Hold torch's intra-op threads and the BLAS/OpenMP pools (scikit-learn's) to ``threads``; restore them after.

    On a small or busy machine torch, OpenMP and BLAS each start a thread per core, and their
    barriers then wait on threads the OS has descheduled: a gradient-boosting fit that takes 0.3 s
    alone took 56 s inside a probe on two busy cores. ``None`` leaves every pool as it is.

    Raises:
        ProbeError: ``threads`` that is not a positive whole number.
    """
    if threads is None:
        yield
        return
    if isinstance(threads, bool) or not isinstance(threads, int | np.integer) or threads < 1:
        raise ProbeError(f"--threads {threads!r}; expected a positive number of threads, e.g. 1")
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        with threadpool_limits(limits=int(threads)):
            yield
    finally:
        torch.set_num_threads(previous)


class _Stages:
    """One progress bar over the stages of a probe, the stage's name in its description; each stage timed."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.bar = tqdm(total=total, desc="probe", unit="stage", disable=not enabled, dynamic_ncols=True)
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        self.bar.set_description(name)  # drawn now: a stage can take minutes
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)
            self.bar.update(1)

    def close(self) -> None:
        self.bar.set_description("probe done", refresh=False)
        self.bar.close()


def _percent(fraction: float) -> str:
    return f"{100 * float(fraction):g}%"


def _sample(files: Sequence[str]) -> str:
    """The files in a figure's corner: the first one's name, and how many more."""
    more = f" + {len(files) - 1} more" if len(files) > 1 else ""
    return f"{Path(files[0]).name}{more}"


def _plain(value: Any) -> Any:
    """``value`` as plain JSON: numpy numbers and arrays as Python ones, NaN and ±inf as None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return value


def _label_names(files: Sequence[str], recipe: str | None) -> list[str] | None:
    """The class names the files give their labels (``attrs["label_names"]`` of the jets read), or None.

    :class:`~jetgraph.batch.JetBatch` keeps tensors only, so the names are read here from the first
    jets of each file; the first file's names win when files disagree (with a warning).
    """
    found: list[tuple[str, list[str]]] = []
    for path in files:
        jets = iterate(path, recipe, 16)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # bad jets among the first 16: the full read has warned
                chunk = next(jets, None)
        finally:
            jets.close()
        names = None if chunk is None else (chunk.attrs or {}).get("label_names")
        if names:
            found.append((path, [str(n) for n in names]))
    if not found:
        return None
    for path, names in found[1:]:
        if names != found[0][1]:
            warnings.warn(
                f"{path}: label names {names}, unlike {found[0][1]} of {found[0][0]}; the figures use the latter",
                ProbeWarning,
                stacklevel=3,
            )
    return found[0][1]


def _class_label(label: int, label_names: Sequence[str] | None) -> str:
    if label_names is not None and 0 <= label < len(label_names):
        return str(label_names[label])
    return f"class {label}"


def _cache_key(files: Sequence[str], checkpoint: str, recipe: str | None) -> str:
    """What an embedding depends on: the checkpoint, the recipe that read the files, and the files as they are."""
    stamp = [checkpoint, str(recipe), *(f"{f}:{os.path.getsize(f)}:{os.path.getmtime(f)}" for f in files)]
    return hashlib.sha1("|".join(stamp).encode()).hexdigest()[:12]


def _embedding(
    run_dir: Path, checkpoint: Path, files: list[str], recipe: str | None, progress: bool
) -> dict[str, np.ndarray]:
    """The frozen representations and jet columns of ``files`` (computed once, then read from the cache)."""
    path = run_dir / "probe" / f"embedding-{_cache_key(files, str(checkpoint), recipe)}.h5"
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
            parts.append(observable_matrix(batch, task))
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


def _references(run: tuple[Path, Path]) -> tuple[torch.nn.Module, Any, Inputs]:
    """The pretrained encoder, the run's config and the inputs it saw: what the supervised references start from."""
    pretrained, config, _ = runs.load_encoder(*run)
    return pretrained, config, Inputs(config.augment, pretrained.input_kind)


def _reference_score(
    name: str,
    reference: tuple[torch.nn.Module, Any, Inputs],
    epochs: int,
    jets: JetBatch,
    labels: np.ndarray,
    chosen: np.ndarray,
    test: np.ndarray,
    seed: int,
) -> np.ndarray:
    """The encoder's architecture trained on the chosen labels: from scratch, or fine-tuned from pretraining."""
    pretrained, config, inputs = reference
    if name == "supervised (scratch)":
        torch.manual_seed(seed)
        fresh, _ = config.model.build()
        return train_classifier(fresh, inputs, jets, labels, chosen, test, seed=seed, epochs=epochs)
    return train_classifier(
        pretrained, inputs, jets, labels, chosen, test, seed=seed, epochs=epochs, lr=1e-4, head_from_probe=True
    )


REFERENCES = ("supervised (scratch)", "fine-tuned")


def _measured(labels: np.ndarray, score: np.ndarray, bootstraps: int, seed: int) -> dict[str, Any]:
    """The bootstrap metrics of one probe, with what they rest on: the background jets passing at each
    working point (``passing_background`` in each rejection) and a constant score (``constant_score``)."""
    m = bootstrap(labels, score, n=bootstraps, seed=seed)
    for e in WORKING_POINTS:
        m[f"rejection_at_{e:g}"]["passing_background"] = round(passing_background(labels, score, e), 2)
    if np.ptp(score) == 0:  # e.g. gradient boosting on a handful of jets: no split, one score for all
        m["auc"]["constant_score"] = True
    return m


def _classification(
    data: dict[str, np.ndarray],
    observables: np.ndarray,
    fractions: Sequence[float],
    seed: int,
    bootstraps: int,
    supervised: tuple[tuple[Path, Path], int, JetBatch] | None,
    supervised_fractions: Sequence[float],
    label_names: Sequence[str] | None,
    stage: _Stages,
) -> tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]], dict[str, Any]]:
    """The probes at each label fraction; returns the results, the ROC curves and the test jets' scores."""
    labels = data["label"]
    train, _, test = split_indices(len(labels), seed=seed)
    inputs = {name: data["representation"] for name in REPRESENTATION_PROBES}
    inputs.update({name: observables for name in BASELINE_PROBES})
    kinds = {**{name: name for name in REPRESENTATION_PROBES}, **BASELINE_PROBES}
    scan: dict[str, dict[float, Any]] = {name: {} for name in kinds}
    reference = None
    if supervised is not None:
        scan.update({name: {} for name in REFERENCES})
        reference = _references(supervised[0])
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    scores: dict[str, tuple[float, np.ndarray]] = {}  # each probe at its largest label fraction
    per_fraction = {}
    y_test = labels[test]
    for fraction in fractions:
        chosen = train[label_fraction_indices(labels[train], fraction, seed)]
        per_fraction[str(fraction)] = len(chosen)
        for name, kind in kinds.items():
            with stage(f"{name}, {_percent(fraction)} of labels"), warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)  # an MLP on a few labels never converges
                x = inputs[name]
                params = {"k": min(25, max(3, len(chosen) // 5))} if kind == "knn" else {}  # 1% of labels: few jets
                score = fit_score(kind, x[chosen], labels[chosen], x[test], seed=seed, **params)
                scan[name][fraction] = _measured(y_test, score, bootstraps, seed)
            if fraction == max(fractions):
                curves[name] = (y_test, score)
                scores[name] = (fraction, score)
        if reference is not None and supervised is not None and fraction in supervised_fractions:
            for name in REFERENCES:
                with stage(f"{name}, {_percent(fraction)} of labels"), warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)  # the linear probe that starts LP-FT's head
                    score = _reference_score(name, reference, supervised[1], supervised[2], labels, chosen, test, seed)
                    scan[name][fraction] = _measured(y_test, score, bootstraps, seed)
                if fraction == max(supervised_fractions):
                    curves[name] = (y_test, score)
                    scores[name] = (fraction, score)
    classes, counts = np.unique(y_test, return_counts=True)
    fingerprint = hashlib.sha1(test.astype(np.int64).tobytes() + y_test.astype(np.int8).tobytes()).hexdigest()
    results = {
        "jets": {
            "train": len(train),
            "test": len(test),
            "test_per_class": {_class_label(int(c), label_names): int(n) for c, n in zip(classes, counts, strict=True)},
            "labels_per_fraction": per_fraction,
            "test_sha1": fingerprint[:16],
        },
        "probes": {name: {str(f): m for f, m in values.items()} for name, values in scan.items()},
    }
    results["versus_observables"] = _versus_observables(results["probes"], y_test, scores, bootstraps, seed)
    paired = {
        "test_index": test.astype(np.int64),  # rows of the embedding: positions in the stream of valid jets
        "label": y_test.astype(np.int8),
        "probe": np.array(list(scores), dtype=str),
        "fraction": np.array([f for f, _ in scores.values()], dtype=np.float64),
        "score": np.array([s for _, s in scores.values()], dtype=np.float64).reshape(len(scores), len(test)),
    }
    return results, curves, paired


def _versus_observables(
    probes: dict[str, dict[str, Any]],
    y_test: np.ndarray,
    scores: dict[str, tuple[float, np.ndarray]],
    bootstraps: int,
    seed: int,
) -> dict[str, Any]:
    """AUC of each probe minus AUC of the best observable baseline, on the same test jets (paired bootstrap).

    At the largest label fraction, against whichever of the two observable baselines has the higher AUC
    on these test jets: a choice made on the test jets, in the baseline's favour, so that "beats the
    observables" is never the luck of picking the weaker one.
    """
    fraction = max(f for f, _ in scores.values())  # the probes' own largest fraction
    key = str(fraction)
    baseline = max(BASELINE_PROBES, key=lambda name: probes[name][key]["auc"]["value"])
    versus = {}
    for name, (f, score) in scores.items():
        if name in BASELINE_PROBES or f != fraction:
            continue  # a reference trained at a smaller fraction is not paired
        versus[name] = paired_bootstrap(y_test, scores[baseline][1], score, n=bootstraps, seed=seed)
    return {"baseline": baseline, "fraction": fraction, "probes": versus}


def _energy(
    data: dict[str, np.ndarray], raw: np.ndarray, seed: int, stage: _Stages
) -> tuple[dict[str, Any], dict[str, dict]]:
    truth = data["truth_energy"].astype(np.float64)
    keep = np.flatnonzero((truth > 0) & (raw[:, 0] > 0))
    train, _, test = (keep[i] for i in split_indices(len(keep), seed=seed))
    x = data["representation"]
    predictions = {}
    for name in ("linear", "mlp"):
        with stage(f"energy: {name}"):
            predictions[name] = fit_predict_energy(name, x[train], truth[train], x[test], seed=seed)
    with stage("energy: calibrated cell sum"):
        predictions["calibrated cell sum"] = calibrate_sum(raw[train, 0], truth[train], raw[test, 0])
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
        figures[target] = {}
        for kind in ("linear", "mlp"):
            with stage(f"{target}: {kind}"):
                predicted = fit_predict_energy(kind, x[fit], values[fit], x[held], seed=seed)
                figures[target][kind] = response_resolution(predicted, values[held], edges)
        results["other_targets"][target] = {
            name: {k: np.asarray(v).tolist() for k, v in r.items()} for name, r in figures[target].items()
        }
    return results, figures


def _caveats(results: dict[str, Any], source: str) -> list[str]:
    """One line for each kind of number that rests on too few jets (see :data:`MIN_TEST_JETS` and the others)."""
    out = []
    test = results["jets"]["test"]
    if test < MIN_TEST_JETS:
        out.append(
            f"{source}: the test set holds {test} jets (fewer than {MIN_TEST_JETS}); every number rests on them and"
            " is marked * in the table: probe more jets (--data) before reading them as results"
        )
    if results["task"] == "energy":
        return out
    few = [f"{_percent(f)}: {n}" for f, n in results["jets"]["labels_per_fraction"].items() if n < MIN_TRAINING_LABELS]
    if few:
        out.append(
            f"training labels per fraction {', '.join(few)} (fewer than {MIN_TRAINING_LABELS}): the probes at these"
            " fractions are marked * in the table, not results"
        )
    _, background = class_names(results.get("label_names"))
    top = str(max(results["label_fractions"]))
    for e in WORKING_POINTS:
        key = f"rejection_at_{e:g}"
        thin = [
            (name, values[top][key]["passing_background"])
            for name, values in results["probes"].items()
            if top in values and few_background(values[top][key])
        ]
        if thin:
            none = " (none passing: no rejection, null in the JSON)" if any(n == 0 for _, n in thin) else ""
            out.append(
                f"1/ε_B at ε_S={e:g} ({_percent(float(top))} of labels) rests on fewer than {MIN_PASSING_BACKGROUND}"
                f" passing {background} jets for {', '.join(f'{name} ({n:.2g})' for name, n in thin)}: marked * in"
                f" the table{none}"
            )
    constant = [
        f"{name} at {_percent(float(f))}"
        for name, values in results["probes"].items()
        for f, m in values.items()
        if m["auc"].get("constant_score")
    ]
    if constant:
        out.append(
            f"{', '.join(constant)}: the same score for every test jet (too few training jets to learn from):"
            " an AUC of 0.500 there means nothing"
        )
    return out


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
    threads: int | None = None,
    progress: bool = False,
    replace: bool = False,
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
        threads: torch's intra-op threads and scikit-learn's BLAS/OpenMP threads during the probe
            (restored after; :func:`limited_threads`); None leaves them as they are. 1 is fastest
            on a small or busy machine.
        progress: a progress bar over the stages on stderr (reading, embedding, each probe at each
            label fraction, the supervised references, the figures).
        replace: replace a ``probe/<task>.json`` that holds a probe of other files; without it such a
            result is kept and the probe refused (a probe of the same files is replaced: a rerun).

    Returns:
        The results as written to the JSON file (NaN and infinities as None), with ``figures``
        listing the PNGs, ``scores`` the per-test-jet scores (classification), ``warnings`` the
        numbers that rest on too few jets (each also a :class:`ProbeWarning`) and
        ``stage_seconds`` the time of each stage.
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
    with limited_threads(threads):  # checks threads first
        config = runs.run_config(run_dir)
        files = expand_paths(data if data is not None else (config.data.val or config.data.train))
        recipe = recipe if recipe is not None else config.data.recipe  # as embed reads them: the run's recipe
        if task == "energy":
            total = 10  # read, embed, 3 energy regressions, 2 each for pT and mass, figures
        else:
            total = 3 + len(fractions) * len(REPRESENTATION_PROBES + tuple(BASELINE_PROBES))
            total += len(REFERENCES) * len(chosen) if supervised else 0
        stage = _Stages(total, progress)
        try:
            settings = {"fractions": fractions, "chosen": chosen, "recipe": recipe, "seed": seed}
            settings.update(bootstraps=bootstraps, supervised=supervised, supervised_epochs=supervised_epochs)
            settings.update(replace=replace)
            results = _probe(run_dir, task, files, config, stage, progress=progress, **settings)
        finally:
            stage.close()
    return results


def _absolute(files: Sequence[str]) -> list[str]:
    """The files as absolute, resolved paths (remote ones as given), so that one file is one string."""
    return sorted(f if is_remote(f) else os.path.realpath(f) for f in files)


def _names_files(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(f, str) for f in value)


def _keep_other_probe(path: Path, files: Sequence[str]) -> None:
    """Refuse to replace ``path``, an earlier result, when it probed other files than ``files``."""
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return  # none, or not JSON: nothing of value to keep
    if not isinstance(earlier, dict):
        return
    named = earlier.get("files_absolute")
    if not _names_files(named) and _names_files(earlier.get("files")):  # from before files_absolute: resolved here
        named = _absolute(earlier["files"])
    if not _names_files(named):
        return  # not a result that says what it probed
    if named != _absolute(files):
        raise ProbeError(
            f"{path} holds the probe of {', '.join(named)}; probing {', '.join(files)} would replace it: give"
            " --replace, or probe a copy of the run without its probe/ folder (with --model: another --out)"
        )


def _probe(
    run_dir: Path,
    task: str,
    files: list[str],
    config: Any,
    stage: _Stages,
    *,
    fractions: list[float],
    chosen: list[float],
    recipe: str | None,
    seed: int,
    bootstraps: int,
    supervised: bool,
    supervised_epochs: int,
    progress: bool,
    replace: bool,
) -> dict[str, Any]:
    """:func:`probe` after its arguments are checked, with its threads limited and its stages counted."""
    source = ", ".join(files)
    with locked(run_dir / "probe", "probe"):  # two probes of one run would mix their cache and results
        checkpoint, _ = runs.load_latest(run_dir)
        torch.set_grad_enabled(False)
        try:
            with stage("read jets"):
                jets, quantities = _jets(files, recipe, task)
                if task != "energy" and len(classes := torch.unique(jets.label).tolist()) != 2:
                    raise ProbeError(
                        f"{source}: --task {task} needs jets of two classes; these hold class(es) {classes}"
                    )
                label_names = _label_names(files, recipe) if task != "energy" else None
            if not replace:  # after the checks of the jets, before the embedding and any file is written
                _keep_other_probe(run_dir / "probe" / f"{task}.json", files)
            cached = (run_dir / "probe" / f"embedding-{_cache_key(files, str(checkpoint), recipe)}.h5").exists()
            with stage("embed (cached)" if cached else "embed"):
                embedded = _embedding(run_dir, checkpoint, files, recipe, progress)
        finally:
            torch.set_grad_enabled(True)
        if len(quantities) != len(embedded["representation"]):
            raise ProbeError(
                f"{source}: {len(quantities)} jets read for the baselines, {len(embedded['label'])} embedded"
            )
        out = run_dir / "probe"
        figures = []
        sample = _sample(files)
        if task == "energy":
            results, binned = _energy(embedded, quantities, seed, stage)
            with stage("figures"):
                tested = f"{sample}, {results['jets']['test']} test jets"
                figures.append(response_figure(binned["energy"], out / f"{task}_response.png", sample=tested))
                for target in ("pt", "mass"):
                    if target in binned:
                        label = f"Truth jet {'p_T' if target == 'pt' else 'mass'} [GeV]"
                        path = out / f"{task}_{target}_response.png"
                        figures.append(response_figure(binned[target], path, xlabel=label, sample=tested))
        else:
            reference = ((run_dir, checkpoint), supervised_epochs, jets) if supervised else None
            results, curves, paired = _classification(
                embedded, quantities, fractions, seed, bootstraps, reference, chosen, label_names, stage
            )
            with stage("figures"):
                tested = f"{sample}, {results['jets']['test']} test jets"
                path = out / f"{task}_roc.png"
                figures.append(roc_figure(curves, path, label_names=label_names, sample=tested))
                scan = {name: {float(f): m["auc"] for f, m in v.items()} for name, v in results["probes"].items()}
                path = out / f"{task}_label_fractions.png"
                figures.append(label_fraction_figure(scan, path, label_names=label_names, sample=tested))
                representation, labels = embedded["representation"], embedded["label"]
                path = out / f"{task}_map.png"
                everything = f"{sample}, all {len(labels)} jets"
                figures.append(
                    map_figure(representation, labels, path, label_names=label_names, seed=seed, sample=everything)
                )
                scores = out / f"{task}_scores.npz"
                with written_atomically(scores) as partial, partial.open("wb") as handle:
                    np.savez_compressed(handle, **paired)
            results["observables"] = list(names_of(task))
            results["label_fractions"] = fractions
            results["label_names"] = label_names
            results["scores"] = str(scores)
        results.update(
            task=task,
            run=str(run_dir),
            checkpoint=str(checkpoint),
            encoder=config.model.encoder,
            files=files,
            files_absolute=_absolute(files),
            seed=seed,
            version=__version__,
            figures=[str(f) for f in figures],
        )
        results = _plain(results)
        results["warnings"] = _caveats(results, source)
        results["stage_seconds"] = stage.seconds
        for line in results["warnings"]:
            warnings.warn(line, ProbeWarning, stacklevel=3)
        with written_atomically(out / f"{task}.json") as partial:
            partial.write_text(json.dumps(results, indent=2, allow_nan=False))
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
    threads: int | None = None
    """torch and BLAS/OpenMP threads during the probe; None: as they are (1 is fastest on a busy machine)."""

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


def few_background(rejection: dict[str, Any]) -> bool:
    """Whether a rejection ``{"value", ..., "passing_background"}`` rests on too few passing background jets."""
    passing = rejection.get("passing_background")
    return rejection.get("value") is None or (passing is not None and passing < MIN_PASSING_BACKGROUND)


def _interval(m: dict[str, Any], digits: int = 3) -> str:
    def number(v: Any) -> str:
        return "–" if v is None else f"{v:.{digits}f}"

    return f"{number(m['value'])} [{number(m.get('low'))}, {number(m.get('high'))}]"


def format_auc(results: dict[str, Any], fraction: float | str, entry: dict[str, Any] | None) -> tuple[str, set[str]]:
    """The table cell of an AUC with its interval, and why it rests on too few jets (then it ends in ``*``).

    The reasons are ``"test"`` (a small test set), ``"labels"`` (few training labels at ``fraction``)
    and ``"constant"`` (one score for every test jet); :func:`footnote` says them in words.
    """
    if entry is None:
        return "–", set()  # a supervised reference trained at other label fractions only
    reasons = set()
    if results["jets"]["test"] < MIN_TEST_JETS:
        reasons.add("test")
    labels = results["jets"].get("labels_per_fraction", {}).get(str(float(fraction)))
    if labels is not None and labels < MIN_TRAINING_LABELS:
        reasons.add("labels")
    if entry["auc"].get("constant_score"):
        reasons.add("constant")
    return _interval(entry["auc"]) + ("*" if reasons else ""), reasons


def format_rejection(results: dict[str, Any], rejection: dict[str, Any] | None) -> tuple[str, set[str]]:
    """The table cell of a rejection 1/ε_B, and why it rests on too few jets (then it ends in ``*``).

    With no passing background jet there is no number: the cell says so, with the bound (more than
    the number of background test jets). The reasons are ``"test"`` and ``"background"``.
    """
    if rejection is None:
        return "–", set()
    reasons = {"test"} if results["jets"]["test"] < MIN_TEST_JETS else set()
    if few_background(rejection):
        reasons.add("background")
    mark = "*" if reasons else ""
    _, background = class_names(results.get("label_names"))
    if rejection["value"] is None:
        counts = list(results["jets"].get("test_per_class", {}).values())
        bound = f"> {counts[0]} " if len(counts) == 2 else ""  # class 0 is the background
        return f"{bound}(no {background} jet passes){mark}", reasons
    passing = rejection.get("passing_background")
    if "background" in reasons and passing is not None:
        jets = "jet" if passing == 1 else "jets"
        return f"{rejection['value']:.1f} (from {passing:.2g} {background} {jets}){mark}", reasons
    return f"{rejection['value']:.1f}{mark}", reasons


def counts_line(results: dict[str, Any]) -> str:
    """``test: 80 jets (41 quark = signal, 39 gluon = background); training labels per fraction: 1%: 4, ...``."""
    jets = results["jets"]
    counts = list(jets.get("test_per_class", {}).items())
    line = f"test: {jets['test']} jets"
    if len(counts) == 2:
        (background, n_background), (signal, n_signal) = counts
        line += f" ({n_signal} {signal} = signal, {n_background} {background} = background)"
    per_fraction = jets.get("labels_per_fraction")
    if per_fraction:
        line += "; training labels per fraction: " + ", ".join(f"{_percent(f)}: {n}" for f, n in per_fraction.items())
    else:
        line += f"; training: {jets['train']} jets"
    return line


def footnote(results: dict[str, Any], reasons: set[str]) -> list[str]:
    """The lines under a table that say why its cells marked ``*`` are not results (none if none is marked)."""
    if not reasons:
        return []
    words = []
    if "test" in reasons:
        words.append(f"a test set of {results['jets']['test']} jets (fewer than {MIN_TEST_JETS})")
    if "labels" in reasons:
        few = [
            f"{n} at {_percent(f)}"
            for f, n in results["jets"].get("labels_per_fraction", {}).items()
            if n < MIN_TRAINING_LABELS
        ]
        words.append(f"training labels {', '.join(few)} (fewer than {MIN_TRAINING_LABELS})")
    if "background" in reasons:
        _, background = class_names(results.get("label_names"))
        words.append(f"1/ε_B from fewer than {MIN_PASSING_BACKGROUND} passing {background} jets")
    if "constant" in reasons:
        words.append("one score for every test jet (nothing learnt)")
    return ["", "* not a result, it rests on too few jets: " + "; ".join(words) + "."]


def format_table(results: dict[str, Any]) -> str:
    """A Markdown table of a probe result (classification: at each label fraction; energy: per bin).

    Above it, the jets the numbers rest on (the test jets per class, the training labels per
    fraction); below it, why cells marked ``*`` are not results (see :data:`MIN_TEST_JETS`,
    :data:`MIN_TRAINING_LABELS`, :data:`MIN_PASSING_BACKGROUND`).
    """
    if results["task"] == "energy":
        reasons = {"test"} if results["jets"]["test"] < MIN_TEST_JETS else set()
        mark = "*" if reasons else ""
        lines = [counts_line(results), "", "| probe | truth E (GeV) | response | resolution |", "|---|---|---|---|"]
        for name, r in results["probes"].items():
            for centre, response, resolution in zip(r["centre"], r["response"], r["resolution"], strict=True):
                cells = ["–" if v is None else f"{v:.3f}{mark}" for v in (response, resolution)]
                lines.append(f"| {name} | {centre:.0f} | {cells[0]} | {cells[1]} |")
        return "\n".join(lines + footnote(results, reasons))
    fractions = results["label_fractions"]
    signal, background = class_names(results.get("label_names"))
    header = "| probe | " + " | ".join(f"AUC ({_percent(f)} of labels)" for f in fractions) + " | 1/ε_B at ε_S=0.5 |"
    lines = [counts_line(results), "", header, "|---" * (len(fractions) + 2) + "|"]
    reasons: set[str] = set()
    top = str(max(fractions))
    for name, values in results["probes"].items():
        cells = []
        for f in fractions:
            cell, why = format_auc(results, f, values.get(str(f)))
            cells.append(cell)
            reasons |= why
        rejection, why = format_rejection(results, values[top]["rejection_at_0.5"] if top in values else None)
        reasons |= why
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {rejection} |")
    lines += ["", f"ε_S: {signal} efficiency, ε_B: {background} efficiency; 68% bootstrap intervals in brackets"]
    lines += versus_observables_lines(results)
    return "\n".join(lines + footnote(results, reasons))


def versus_observables_lines(results: dict[str, Any]) -> list[str]:
    """The paired AUC differences to the better observable baseline, one line per probe (none if not measured).

    Four decimals, since these differences are often a few thousandths; ``*`` as in the table, where the
    test set or the training labels at that fraction are too few.
    """
    versus = results.get("versus_observables")
    if not versus or not versus["probes"]:
        return []
    labels = results["jets"].get("labels_per_fraction", {}).get(str(versus["fraction"]), MIN_TRAINING_LABELS)
    mark = "*" if results["jets"]["test"] < MIN_TEST_JETS or labels < MIN_TRAINING_LABELS else ""
    lines = [
        "",
        f"AUC minus the better observable baseline here ({versus['baseline']}), {_percent(versus['fraction'])} of"
        " labels, paired on the same test jets, with a 68% bootstrap interval:",
    ]
    for name, d in versus["probes"].items():
        if d["low"] is None or d["high"] is None:
            verdict = "no interval"
        else:
            verdict = "above" if d["low"] > 0 else "below" if d["high"] < 0 else "a tie"
        low, high = ("–" if v is None else f"{v:+.4f}" for v in (d["low"], d["high"]))  # a bound keeps its sign
        lines.append(f"- {name}: {_signed(d['value'])} [{low}, {high}]{mark}, {verdict}")
    return lines


def _signed(value: float) -> str:
    """``+0.0012``, ``-0.0034``; a difference that rounds to zero as ``+0.0000``, never ``-0.0000``."""
    return f"{value:+.4f}" if round(value, 4) != 0 else "+0.0000"


__all__ = [
    "DEFAULT_FRACTIONS",
    "MIN_PASSING_BACKGROUND",
    "MIN_TEST_JETS",
    "MIN_TRAINING_LABELS",
    "TASKS",
    "ProbeConfig",
    "format_table",
    "limited_threads",
    "load_probe_config",
    "probe",
    "versus_observables_lines",
]
