"""A run directory: its layout, checkpoints written atomically, and the trained encoder read back.

    RUN/config.yaml            the resolved config, with the jetgraph and torch versions
    RUN/checkpoints/step-00000500.pt   model, head, loss, optimiser, schedule, RNG states, position
    RUN/metrics.csv            one row per logged step and per evaluation
    RUN/events.out.tfevents.*  the same for TensorBoard

A checkpoint is written to ``.partial`` and renamed, so a run killed mid-write leaves the previous
checkpoint as the latest complete one. Checkpoints hold tensors and plain Python values only and are
read with ``torch.load(weights_only=True)``: a checkpoint from elsewhere (a collaborator's run, a
download) is data, and one that would run code when unpickled is refused. When the newest checkpoint
of a run does not load (a copy cut short, a full disk), the next older one is used, with a warning.

One process writes a run: ``pretrain`` holds ``RUN/.lock`` and a probe ``RUN/probe/.lock``
(:func:`jetgraph.outputs.lock`).
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch

from jetgraph.config import PretrainConfig, load_config
from jetgraph.errors import JetGraphError
from jetgraph.outputs import written_atomically

CONFIG = "config.yaml"
RECIPE = "recipe.yaml"
"""The copy of the data recipe a run was pretrained with (when it was a file)."""
CHECKPOINTS = "checkpoints"
METRICS = "metrics.csv"
_STEP = re.compile(r"^step-(\d+)\.pt$")


class RunError(JetGraphError):
    """A run directory without a config or a checkpoint, or with one that cannot be read."""


def checkpoint_path(run_dir: str | os.PathLike, step: int) -> Path:
    return Path(run_dir) / CHECKPOINTS / f"step-{step:08d}.pt"


def checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The complete checkpoints of a run, oldest first."""
    folder = Path(run_dir) / CHECKPOINTS
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _STEP.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    found = checkpoints(run_dir)
    return found[-1] if found else None


def save_checkpoint(run_dir: str | os.PathLike, step: int, state: dict[str, Any], keep: int) -> Path:
    """Write ``state`` as the checkpoint of ``step`` (atomically) and delete all but the ``keep`` newest."""
    path = checkpoint_path(run_dir, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    with written_atomically(path) as partial:
        torch.save(state, partial)
    for old in checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The state saved in one checkpoint file, read as weights only (nothing in it is executed).

    Raises:
        RunError: the file is missing, damaged, not a checkpoint, or holds Python objects other than
            tensors and plain values (a pickle that would run code when loaded).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many types for damaged or foreign files
        raise RunError(f"{path}: not a loadable checkpoint ({_first_line(err)})") from None
    if not isinstance(state, dict) or not {"step", "encoder"} <= state.keys():
        raise RunError(f"{path}: not a jetgraph checkpoint (expected a mapping with 'step' and 'encoder')")
    return state


def _first_line(err: Exception) -> str:
    """What went wrong in ``torch.load``, in one line (its own messages run over several paragraphs)."""
    text = str(err).strip()
    if "Weights only load failed" in text:
        unsafe = re.search(r"GLOBAL (\S+)", text)
        what = f" ({unsafe.group(1)})" if unsafe else ""
        return f"it holds Python objects{what}, not only weights; refused: checkpoints are loaded as weights only"
    if isinstance(err, KeyError) or "legacy .tar format" in text:
        return "not a checkpoint written by torch.save: damaged or another kind of file"
    return (text.splitlines()[0] if text else type(err).__name__)[:200]


def load_latest(run_dir: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """The newest checkpoint of a run that loads, and its state.

    A damaged newest checkpoint is skipped with a warning that names it, so a run keeps working from
    the ones before it (``train.keep_checkpoints`` of them are kept for this).

    Raises:
        RunError: the run has no checkpoint, or none of them loads.
    """
    found = checkpoints(run_dir)
    if not found:
        raise RunError(f"{run_dir}: no checkpoint in {CHECKPOINTS}/; the run has not saved one yet")
    problems = []
    for path in reversed(found):
        try:
            state = load_checkpoint(path)
        except RunError as err:
            problems.append(str(err))
            continue
        for problem in problems:
            warnings.warn(f"skipped {problem}; using {path.name}", stacklevel=2)
        return path, state
    raise RunError(f"{run_dir}: none of its {len(found)} checkpoint(s) loads; the newest: {problems[0]}")


def run_config(run_dir: str | os.PathLike) -> PretrainConfig:
    """The resolved config of a run (``data.recipe``: the copy the run keeps, wherever the run was moved).

    Raises:
        RunError: the directory has no ``config.yaml`` (not a pretraining run).
    """
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise RunError(f"{run_dir}: not a run directory (no {CONFIG}); expected the --out of jetgraph pretrain")
    config = load_config(path)
    if (Path(run_dir) / RECIPE).is_file():
        config.data.recipe = str((Path(run_dir) / RECIPE).absolute())
    return config


def keep_recipe(run_dir: str | os.PathLike, recipe: str | None) -> str | None:
    """Copy a recipe file into the run (``RUN/recipe.yaml``) and return the copy's path; a built-in name
    or None is returned as it is. The run then reads its data the same way wherever it is probed from."""
    if recipe is None or not recipe.endswith((".yaml", ".yml")):
        return recipe
    copy = (Path(run_dir) / RECIPE).absolute()
    if Path(recipe).absolute() != copy:
        from jetgraph.io.recipe import load_recipe

        load_recipe(recipe)  # a recipe that does not parse is refused before it is kept
        copy.parent.mkdir(parents=True, exist_ok=True)
        with written_atomically(copy) as partial:
            shutil.copyfile(recipe, partial)
    return str(copy)


def _load(
    run_dir: str | os.PathLike, checkpoint: str | os.PathLike | None
) -> tuple[torch.nn.Module, torch.nn.Module, PretrainConfig, dict[str, Any]]:
    """The run's encoder and projection head from one read of its checkpoint, in eval mode on the CPU."""
    config = run_config(run_dir)
    if checkpoint is None:
        path, state = load_latest(run_dir)
    else:
        path, state = Path(checkpoint), load_checkpoint(checkpoint)
    encoder, head = config.model.build(state.get("in_features"))
    try:
        encoder.load_state_dict(state["encoder"])
        head.load_state_dict(state["head"])
    except (KeyError, RuntimeError) as err:
        first = str(err).strip().splitlines()[0][:200]
        raise RunError(f"{path}: does not match the model of {run_dir}/{CONFIG} ({first})") from None
    info = {"step": int(state["step"]), "path": str(path)}
    return encoder.eval(), head.eval(), config, info


def load_encoder(
    run_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None
) -> tuple[torch.nn.Module, PretrainConfig, dict[str, Any]]:
    """The trained encoder of a run (latest checkpoint unless one is named), in eval mode on the CPU.

    Returns:
        ``(encoder, config, checkpoint info)``, the info holding ``step`` and ``path``.

    Raises:
        RunError: no config, no checkpoint, or a checkpoint of another model.
    """
    encoder, _, config, info = _load(run_dir, checkpoint)
    return encoder, config, info


# fmt: off
METRIC_FIELDS = ("step", "epoch", "split", "loss", "lr", "jets_per_s", "alignment", "uniformity", "pair_accuracy",
                 "temperature", "resident_gb")
# fmt: on
"""Columns of ``metrics.csv``; from ``loss`` on they are TensorBoard scalars too (``train/loss``, ``val/loss``...).
``resident_gb`` is the writing process's resident memory when the row was logged."""


class MetricsLog:
    """A run's ``metrics.csv`` and TensorBoard events: one row per logged step and per evaluation.

    Only the writing process (rank 0) has ``enabled``; the others log nothing. ``rows`` counts the rows
    written, which a checkpoint stores so that a resumed run can drop the rows logged after it.
    """

    def __init__(self, run_dir: str | os.PathLike, enabled: bool = True) -> None:
        self.path = Path(run_dir) / METRICS
        self.enabled = enabled
        self.rows = 0
        self._purge_step: int | None = None
        self._writer: Any = None

    def start(self) -> None:
        """A new run: no rows yet."""
        if self.enabled:
            self.path.unlink(missing_ok=True)

    def resume(self, rows: int, step: int) -> None:
        """A resumed run: keep the first ``rows`` rows, and TensorBoard's events up to ``step``."""
        self.rows, self._purge_step = rows, step + 1
        if self.enabled and self.path.exists():
            with self.path.open() as handle:
                kept = list(csv.DictReader(handle))[:rows]
            with self.path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, METRIC_FIELDS)
                writer.writeheader()
                writer.writerows(kept)

    def write(self, row: dict[str, Any]) -> None:
        """One row (``step``, ``epoch``, ``split`` and any of the metric columns)."""
        if not self.enabled:
            return
        new = not self.path.exists()
        with self.path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, METRIC_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow({k: row.get(k, "") for k in METRIC_FIELDS})
        self.rows += 1
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.path.parent), purge_step=self._purge_step)
        for key in METRIC_FIELDS[3:]:
            if row.get(key) not in (None, ""):
                self._writer.add_scalar(f"{row['split']}/{key}", float(row[key]), int(row["step"]))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def load_representation(
    run_dir: str | os.PathLike, checkpoint: str | os.PathLike | None = None
) -> tuple[torch.nn.Module, PretrainConfig, dict[str, Any]]:
    """What probes and ``jetgraph embed`` read: the encoder, or with ``model.probe_layer = k`` the encoder
    followed by the first k layers of the trained projection head (:class:`~jetgraph.models.HeadLayers`).

    Raises:
        RunError: as :func:`load_encoder`.
    """
    from jetgraph.models import HeadLayers

    encoder, head, config, info = _load(run_dir, checkpoint)
    layer = config.model.probe_layer
    if layer == 0:
        return encoder, config, info
    return HeadLayers(encoder, head.upto(layer), head.width(layer)).eval(), config, info


__all__ = [
    "METRIC_FIELDS",
    "MetricsLog",
    "RunError",
    "checkpoint_path",
    "checkpoints",
    "latest_checkpoint",
    "load_checkpoint",
    "load_encoder",
    "load_latest",
    "load_representation",
    "run_config",
    "save_checkpoint",
]
