"""Encoders shipped with jetgraph, pretrained once: ``jetgraph embed --model NAME`` and ``probe --model NAME``.

Each shipped model is a small run directory inside the package::

    jetgraph/pretrained/NAME/config.yaml                 the run's resolved config (no data paths: they were local)
    jetgraph/pretrained/NAME/checkpoints/step-*.pt       encoder and projection-head weights, nothing else
    jetgraph/pretrained/NAME/metrics.csv                 how the run trained
    jetgraph/pretrained/NAME/MODEL.md                    the model card: data, budget, probe table, commands

so everything that reads a run (``embed``, ``probe``, ``compare``) reads a shipped model the same way,
and its weights load as weights only, like any checkpoint. :func:`ship` makes one from a run;
``benchmarks/ship_model.py`` writes its card.
"""

from __future__ import annotations

import filecmp
import os
import shutil
import tempfile
from pathlib import Path

import torch

from jetgraph import runs
from jetgraph.config import save_config
from jetgraph.errors import suggest
from jetgraph.version import __version__

HERE = Path(__file__).parent
CARD = "MODEL.md"
MAX_BYTES = 1_000_000
"""A shipped checkpoint stays well under 1 MB (it is in git and in every install)."""


def available() -> list[str]:
    """The names of the shipped models (folders with a config, a checkpoint and a card)."""
    return sorted(
        p.name for p in HERE.iterdir() if (p / runs.CONFIG).is_file() and (p / CARD).is_file() and runs.checkpoints(p)
    )


def model_dir(name: str) -> Path:
    """The run directory of the shipped model ``name`` (read it, never write into it).

    Raises:
        RunError: no shipped model of that name; names the nearest ones and lists them all.
    """
    names = available()
    if name not in names:
        shipped = "shipped: " + (", ".join(names) or "none")
        raise runs.RunError(f"--model {name!r}: no shipped model by that name{suggest(name, names)} ({shipped})")
    return HERE / name


def _same_model(copy: Path, source: Path) -> bool:
    """Whether ``copy`` holds the weights and config of ``source`` (its probe results may differ)."""
    kept = [runs.CONFIG, *(str(p.relative_to(source)) for p in runs.checkpoints(source))]
    return all((copy / name).is_file() and filecmp.cmp(copy / name, source / name, shallow=False) for name in kept)


def copy_model(name: str, out: str | os.PathLike) -> Path:
    """A working copy of the shipped model ``name`` at ``out``: a run directory a probe can write into.

    A copy of the same weights already at ``out`` is kept (with its earlier probe results); anything
    else at ``out`` is refused. The copy is made in a temporary folder beside ``out`` and renamed, so
    a copy cut short never looks complete, and it is writable even when the package is not.

    Raises:
        RunError: unknown model, or ``out`` holds something else.
    """
    source, out = model_dir(name), Path(out)
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
        try:
            shutil.copytree(source, partial, dirs_exist_ok=True, copy_function=shutil.copyfile)
            for folder in (partial, partial / runs.CHECKPOINTS):
                folder.chmod(0o755)
            partial.rename(out)
        except OSError as err:
            if not out.exists():
                raise runs.RunError(f"--out {out}: cannot copy model {name!r} there ({err.strerror})") from None
            # another process made the copy first: it is checked below like any other
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    if not _same_model(out, source):
        raise runs.RunError(f"--out {out}: exists and is not a copy of model {name!r}; choose another --out")
    return out


def ship(run_dir: str | os.PathLike, name: str, card: str, into: str | os.PathLike = HERE) -> Path:
    """Make the shipped model ``name`` from a run: its latest loadable checkpoint stripped to the weights
    (no optimiser, no RNG states), its config without data paths, its metrics, recipe and ``card``.

    Built in a temporary folder and renamed into place, so a failure leaves the model that was there.

    Raises:
        RunError: the run has no loadable checkpoint, or the stripped checkpoint is over ``MAX_BYTES``.
    """
    path, state = runs.load_latest(run_dir)
    config = runs.run_config(run_dir)
    config.data.train, config.data.val = [], []  # local paths: the card says what the model was trained on
    target = Path(into) / name
    partial = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=into))
    try:
        weights = {k: state[k] for k in ("step", "encoder", "head", "in_features") if k in state}
        checkpoint = runs.checkpoint_path(partial, int(state["step"]))
        checkpoint.parent.mkdir()
        torch.save(weights, checkpoint)
        if (size := checkpoint.stat().st_size) > MAX_BYTES:
            raise runs.RunError(f"{path}: {size:,} bytes of weights; a shipped model stays under {MAX_BYTES:,}")
        for kept in (runs.METRICS, runs.RECIPE):
            if (Path(run_dir) / kept).is_file():
                shutil.copyfile(Path(run_dir) / kept, partial / kept)
        if config.data.recipe is not None and config.data.recipe.endswith((".yaml", ".yml")):
            if not (partial / runs.RECIPE).is_file():
                raise runs.RunError(f"{run_dir}: its recipe {config.data.recipe} is not kept in it ({runs.RECIPE})")
            config.data.recipe = runs.RECIPE  # the copy beside the config (run_config reads it from there)
        save_config(config, partial / runs.CONFIG, version=__version__, torch=torch.__version__.split("+")[0])
        (partial / CARD).write_text(card)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


__all__ = ["CARD", "HERE", "MAX_BYTES", "available", "copy_model", "model_dir", "ship"]
