"""jetgraph: self-supervised jet representations from the files physicists already have.

Submodules, in the order data flows through them (``docs/design.md`` has the whole map):

- :mod:`jetgraph.schema`: the canonical jet record (awkward), its validation, particle-type tables.
- :mod:`jetgraph.io`: ``read``/``iterate`` ROOT, HDF5 and NPZ jet files through recipes; ``write``.
- :mod:`jetgraph.generate`: labelled jets from Pythia 8 + FastJet, and detector replicas.
- :mod:`jetgraph.batch`: ``JetBatch``, many jets as one torch_geometric batch of flat tensors.
- :mod:`jetgraph.data`: ``JetDataset``, files streamed as shuffled batches, sharded over workers and ranks.
- :mod:`jetgraph.augment`: batched physics augmentations and view makers for contrastive learning.
- :mod:`jetgraph.features`: raw kinematics to model inputs: node features, edges, padding.
- :mod:`jetgraph.images`: the jet-image grid, the one pixeliser, and jet-image files.
- :mod:`jetgraph.inputs`: what an encoder sees: augmented positive pairs, or plain inputs.
- :mod:`jetgraph.models`: encoders by name (transformer, edgeconv, resnet) and the projection head.
- :mod:`jetgraph.losses`: NT-Xent (negatives gathered across DDP ranks), VICReg, alignment, uniformity.
- :mod:`jetgraph.config`: pretraining configs; :mod:`jetgraph.runs`: run directories and checkpoints.
- :mod:`jetgraph.train`: ``Trainer`` and ``pretrain``, one core or many GPUs under torchrun.
- :mod:`jetgraph.probes`: ``embed`` and ``probe``: what a frozen representation knows.
- :mod:`jetgraph.cli`: the ``jetgraph`` command.

Shared pieces: :mod:`jetgraph.errors` (every user-facing failure), :mod:`jetgraph.settings` (every
settings file), :mod:`jetgraph.registry` and :mod:`jetgraph.checks` (things by name, parameter
checks), :mod:`jetgraph.paths` (globs) and :mod:`jetgraph.outputs` (atomic writes, locks).
"""

from __future__ import annotations

import importlib
from typing import Any

from jetgraph.errors import FileFormatError, JetGraphError, MissingFieldError, RecipeError, SchemaError
from jetgraph.version import __version__

_PUBLIC = {
    "jetgraph.io": ("read", "iterate", "count", "detect", "load_recipe", "write"),
    "jetgraph.schema": ("build", "validate"),
    "jetgraph.config": ("load_config",),
    "jetgraph.train": ("pretrain",),
    "jetgraph.probes": ("embed", "probe"),
}
_LAZY = {name: module for module, names in _PUBLIC.items() for name in names}
"""The public functions, imported when first used: ``import jetgraph`` stays light (no uproot, no torch)."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'jetgraph' has no attribute {name!r}")


__all__ = [
    "FileFormatError",
    "JetGraphError",
    "MissingFieldError",
    "RecipeError",
    "SchemaError",
    "__version__",
    *_LAZY,
]
