"""jetgraph: self-supervised jet representations from the files physicists already have.

Submodules, in the order data flows through them:

- :mod:`jetgraph.schema`: the canonical jet record (awkward) and its validation.
- :mod:`jetgraph.io`: ``read``/``iterate`` ROOT, HDF5 and NPZ jet files through recipes; ``write``.
- :mod:`jetgraph.generate`: labelled jets from Pythia 8 + FastJet, detector replicas, jet images.
- :mod:`jetgraph.batch`: ``JetBatch``, many jets as one torch_geometric batch of flat tensors.
- :mod:`jetgraph.data`: ``JetDataset``, files streamed as shuffled batches, sharded over workers and ranks.
- :mod:`jetgraph.augment`: batched physics augmentations and view makers for contrastive learning.
- :mod:`jetgraph.features`: raw kinematics to model inputs: node features, edges, padding, images.
- :mod:`jetgraph.inputs`: what an encoder sees: augmented positive pairs, or plain inputs.
- :mod:`jetgraph.models`: encoders by name (transformer, edgeconv, resnet) and the projection head.
- :mod:`jetgraph.losses`: NT-Xent (negatives gathered across DDP ranks), VICReg, alignment, uniformity.
- :mod:`jetgraph.config`: pretraining configs (YAML, ``--set`` overrides); :mod:`jetgraph.runs`: run directories.
- :mod:`jetgraph.train`: ``Trainer`` and ``pretrain``, one core or many GPUs under torchrun.
- :mod:`jetgraph.probes`: ``embed``, frozen representations of any jet file.
- :mod:`jetgraph.errors`: :class:`JetGraphError` and its children, every user-facing failure.
- :mod:`jetgraph.cli`: the ``jetgraph`` command (``inspect``, ``generate``, ``images``, ``pretrain``, ``embed``).
"""

from __future__ import annotations

__version__ = "0.1.0"

from jetgraph.errors import FileFormatError, JetGraphError, MissingFieldError, RecipeError, SchemaError
from jetgraph.io import count, detect, iterate, load_recipe, read, write
from jetgraph.schema import build, validate

__all__ = [
    "FileFormatError",
    "JetGraphError",
    "MissingFieldError",
    "RecipeError",
    "SchemaError",
    "__version__",
    "build",
    "count",
    "detect",
    "iterate",
    "load_recipe",
    "read",
    "validate",
    "write",
]
