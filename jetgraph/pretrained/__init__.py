"""Encoders shipped with jetgraph, pretrained once: ``jetgraph embed --model NAME`` and ``probe --model NAME``.

Each shipped model is a small run directory inside the package::

    jetgraph/pretrained/NAME/config.yaml                 the run's resolved config (data paths: file names only)
    jetgraph/pretrained/NAME/checkpoints/step-*.pt       encoder and projection-head weights, nothing else
    jetgraph/pretrained/NAME/metrics.csv                 how the run trained
    jetgraph/pretrained/NAME/MODEL.md                    the model card: data, budget, probe table, command

so everything that reads a run (``embed``, ``probe``, ``compare``) reads a shipped model the same way,
and its weights load as weights only, like any checkpoint. :func:`ship` makes one from a run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import torch

from jetgraph import runs
from jetgraph.config import save_config
from jetgraph.errors import suggest
from jetgraph.outputs import written_atomically
from jetgraph.version import __version__

HERE = Path(__file__).parent
CARD = "MODEL.md"
MAX_BYTES = 1_000_000
"""A shipped checkpoint stays well under 1 MB (it is in git and in every install)."""


def available() -> list[str]:
    """The names of the shipped models."""
    return sorted(p.name for p in HERE.iterdir() if (p / runs.CONFIG).is_file())


def model_dir(name: str) -> Path:
    """The run directory of the shipped model ``name`` (read it, never write into it).

    Raises:
        RunError: no shipped model of that name; names the nearest ones and lists them all.
    """
    if name not in available():
        shown = ", ".join(available()) or "none"
        raise runs.RunError(f"--model {name!r}: no shipped model of that name{suggest(name, available())} ({shown})")
    return HERE / name


def copy_model(name: str, out: str | os.PathLike) -> Path:
    """A working copy of the shipped model ``name`` at ``out`` (a run directory a probe can write into).

    An existing copy of the same model is kept (its earlier probes with it); anything else at ``out`` is refused.

    Raises:
        RunError: unknown model, or ``out`` holds something else.
    """
    source, out = model_dir(name), Path(out)
    if out.exists():
        same = (out / runs.CONFIG).is_file() and (out / runs.CONFIG).read_bytes() == (source / runs.CONFIG).read_bytes()
        if not same:
            raise runs.RunError(f"--out {out}: exists and is not a copy of model {name!r}; choose another --out")
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(source, partial)
    partial.rename(out)
    return out


def ship(run_dir: str | os.PathLike, name: str, card: str, into: str | os.PathLike = HERE) -> Path:
    """Make the shipped model ``name`` from a run: its latest loadable checkpoint stripped to the weights
    (no optimiser, no RNG states), its config with data paths cut to file names, its metrics and ``card``.

    Raises:
        RunError: the run has no loadable checkpoint, or the stripped checkpoint is over ``MAX_BYTES``.
    """
    path, state = runs.load_latest(run_dir)
    config = runs.run_config(run_dir)
    config.data.train = [Path(p).name for p in config.data.train]
    config.data.val = [Path(p).name for p in config.data.val]
    config.data.recipe = None if config.data.recipe is None else Path(config.data.recipe).name
    target = Path(into) / name
    shutil.rmtree(target, ignore_errors=True)
    weights = {k: state[k] for k in ("step", "encoder", "head", "in_features") if k in state}
    checkpoint = runs.checkpoint_path(target, int(state["step"]))
    checkpoint.parent.mkdir(parents=True)
    with written_atomically(checkpoint) as partial:
        torch.save(weights, partial)
    if checkpoint.stat().st_size > MAX_BYTES:
        raise runs.RunError(f"{path}: {checkpoint.stat().st_size} bytes of weights; a shipped model stays under 1 MB")
    save_config(config, target / runs.CONFIG, version=__version__, torch=torch.__version__.split("+")[0])
    for kept in (runs.METRICS, runs.RECIPE):
        if (Path(run_dir) / kept).is_file():
            shutil.copyfile(Path(run_dir) / kept, target / kept)
    (target / CARD).write_text(card)
    return target


__all__ = ["CARD", "HERE", "MAX_BYTES", "available", "copy_model", "model_dir", "ship"]
