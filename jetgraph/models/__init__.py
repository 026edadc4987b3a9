"""Encoders (jet -> representation ``h``) found by name, and the projection head (``h`` -> ``z``).

An encoder is a ``torch.nn.Module`` whose ``forward(inputs)`` returns (num_jets, ``rep_dim``): the
representation *before* any projection head, the one probes use. Its class attribute ``input_kind`` says
what it takes: ``"graph"``, a :class:`~jetgraph.batch.JetBatch` (it computes its node features itself), or
``"image"``, (B, 3, H, W) jet images from :func:`jetgraph.images.pixelise`. Every constructor takes
``in_features`` first (node feature columns, :func:`jetgraph.features.num_node_features`, or image
channels), then keyword parameters, and raises :class:`ModelError` for a bad one.

- ``transformer`` (:class:`ParticleTransformer`): self-attention over each jet's particles, the JetCLR
  encoder; ``pair_bias=True`` makes it a Particle Transformer (pairwise kinematic attention bias),
  ``pt_weighted=True`` an IR-safe pooling. The strongest, and the costliest in memory (padded to
  ``max_particles``).
- ``edgeconv`` (:class:`ParticleNet`): a dynamic graph CNN on kNN graphs within each jet (ParticleNet),
  on flat particles without padding; local structure first.
- ``resnet`` (:class:`JetResNet`): a small ResNet on jet images, the image baseline to compare a graph
  representation with.

:class:`ProjectionHead` maps ``h`` to the embedding the contrastive loss sees.

Example:
    >>> encoder = build_encoder("transformer", num_node_features(batch), dim=64, pair_bias=True)
    >>> h = encoder(batch)  # (batch.num_jets, encoder.rep_dim)
"""

from __future__ import annotations

from typing import Any

from torch import nn

from jetgraph.models.base import ModelError, count_parameters
from jetgraph.models.edgeconv import ParticleNet
from jetgraph.models.heads import HeadLayers, ProjectionHead
from jetgraph.models.resnet import JetResNet
from jetgraph.models.transformer import ParticleTransformer, pair_features
from jetgraph.registry import Registry

ENCODERS = Registry(
    "encoder",
    ModelError,
    {
        "transformer": ParticleTransformer,
        "edgeconv": ParticleNet,
        "resnet": JetResNet,
    },
    positional=("in_features",),
)
"""Every encoder by the name configs use for it (``model.encoder``)."""


def build_encoder(name: str, in_features: int, **params: Any) -> nn.Module:
    """The encoder called ``name`` with ``in_features`` inputs and ``params`` (:meth:`Registry.build`).

    Example:
        >>> build_encoder("edgeconv", 13, k=8, channels=[32, 64])

    Raises:
        ModelError: an unknown encoder or parameter name (with the nearest known one and the accepted
            ones), or a bad parameter value.
    """
    return ENCODERS.build(name, in_features, **params)


__all__ = [
    "ENCODERS",
    "HeadLayers",
    "JetResNet",
    "ModelError",
    "ParticleNet",
    "ParticleTransformer",
    "ProjectionHead",
    "build_encoder",
    "count_parameters",
    "pair_features",
]
