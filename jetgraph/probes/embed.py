"""Frozen representations of any jet file, written to HDF5 for analysis inside or outside jetgraph.

The file holds, one row per jet in the order the files are read (jets the reader drops as invalid
are counted in its warning and are not in the file):

- ``representation`` (N, rep_dim) float32: the encoder's output, before the projection head (or, with
  the run's ``model.probe_layer = k``, the output of the head's first k layers);
- ``jet_index`` (N,) int64: the position of the jet in the stream of valid jets, from 0;
- ``label`` (N,) int64 (-1 where unknown), ``jet_pt``, ``jet_eta``, ``jet_phi``, ``jet_energy``,
  ``jet_mass`` and, when the files have them, ``truth_*`` (float32): what probes regress or tag;
- attributes: ``run``, ``checkpoint``, ``step``, ``encoder``, ``rep_dim``, ``files``, jetgraph ``version``.
"""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import torch
from tqdm.auto import tqdm

import jetgraph
from jetgraph import runs
from jetgraph.batch import JetBatch
from jetgraph.data import JetDataset
from jetgraph.inputs import Inputs
from jetgraph.outputs import check_writable, written_atomically
from jetgraph.paths import expand_paths
from jetgraph.version import __version__

JET_COLUMNS = ("label", "jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_mass")


def _columns(batch: JetBatch) -> dict[str, np.ndarray]:
    names = [*JET_COLUMNS, *(k for k in batch.keys() if k.startswith("truth_"))]
    return {name: batch[name].cpu().numpy() for name in names}


@torch.no_grad()
def embed(
    run_dir: str | os.PathLike,
    data: str | os.PathLike | list[str | os.PathLike],
    out: str | os.PathLike,
    *,
    recipe: str | None = None,
    batch_size: int = 1024,
    checkpoint: str | os.PathLike | None = None,
    device: str = "cpu",
    progress: bool = False,
) -> Path:
    """Write the frozen representation of every jet in ``data`` to ``out`` (HDF5, atomically).

    Jets go in as the encoder saw them in pretraining without augmentation: the particles, replica 0
    for a run on detector replicas, or the jet image for an image encoder.

    Raises:
        OutputError: ``out`` cannot be written (checked first, before anything is computed).
        RunError: ``run_dir`` is not a run or has no checkpoint that loads.
        FileFormatError: ``data`` matches no readable file.
    """
    out = check_writable(out, "--out")
    encoder, config, info = runs.load_representation(run_dir, checkpoint)
    recipe = recipe if recipe is not None else config.data.recipe  # the run's, unless told otherwise
    encoder.to(device)
    inputs = Inputs(config.augment, encoder.input_kind)
    files = expand_paths(data)
    dataset = JetDataset(files, batch_size, recipe=recipe, rank=0, world_size=1)
    total = sum(jetgraph.count(path, recipe) for path in dataset.files)
    parts: list[np.ndarray] = []
    columns: dict[str, list[np.ndarray]] = {}
    with tqdm(total=total, desc="embed", unit="jets", disable=not progress) as bar:
        for batch in dataset:
            rep = encoder(inputs.plain(batch.to(device)))
            parts.append(rep.float().cpu().numpy())
            for name, values in _columns(batch).items():
                columns.setdefault(name, []).append(values)
            bar.update(batch.num_jets)
    representation = np.concatenate(parts) if parts else np.zeros((0, encoder.rep_dim), np.float32)
    with written_atomically(out) as partial, h5py.File(partial, "w") as handle:
        handle.create_dataset("representation", data=representation.astype(np.float32))
        handle.create_dataset("jet_index", data=np.arange(len(representation), dtype=np.int64))
        for name, values in columns.items():
            handle.create_dataset(name, data=np.concatenate(values))
        handle.attrs.update(
            run=str(run_dir),
            checkpoint=info["path"],
            step=info["step"],
            encoder=config.model.encoder,
            rep_dim=int(representation.shape[1]),
            files=[str(f) for f in files],
            version=__version__,
        )
    return out


__all__ = ["JET_COLUMNS", "embed"]
