"""Encoders (jet -> representation ``h``) found by name, and the projection head (``h`` -> ``z``).

An encoder is a ``torch.nn.Module`` whose ``forward(inputs)`` returns (num_jets, ``rep_dim``): the
representation *before* any projection head, the one probes use. Its class attribute ``input_kind`` says
what it takes: ``"graph"``, a :class:`~jetgraph.batch.JetBatch` (it computes its node features itself), or
``"image"``, (B, 3, H, W) jet images from :func:`jetgraph.features.pixelise`. Every constructor takes
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

import inspect
from typing import Any

from torch import nn

from jetgraph.errors import suggest
from jetgraph.models.base import ModelError, count_parameters
from jetgraph.models.edgeconv import ParticleNet
from jetgraph.models.heads import HeadLayers, ProjectionHead
from jetgraph.models.resnet import JetResNet
from jetgraph.models.transformer import ParticleTransformer, pair_features

ENCODERS: dict[str, type[nn.Module]] = {
    "transformer": ParticleTransformer,
    "edgeconv": ParticleNet,
    "resnet": JetResNet,
}
"""Every encoder by the name configs use for it."""


def _encoder_class(name: str) -> type[nn.Module]:
    if not isinstance(name, str) or name not in ENCODERS:
        known = ", ".join(map(repr, ENCODERS))
        raise ModelError(f"unknown encoder {name!r}{suggest(str(name), ENCODERS)} (known: {known})")
    return ENCODERS[name]


def encoder_parameters(name: str) -> list[str]:
    """The keyword parameters of the encoder called ``name``, in order (``in_features`` aside).

    Raises:
        ModelError: an unknown encoder name (with the nearest known one).
    """
    parameters = inspect.signature(_encoder_class(name).__init__).parameters
    return [p for p in parameters if p not in ("self", "in_features")]


def build_encoder(name: str, in_features: int, **params: Any) -> nn.Module:
    """The encoder called ``name`` (a key of :data:`ENCODERS`) with ``in_features`` inputs and ``params``.

    Example:
        >>> build_encoder("edgeconv", 13, k=8, channels=[32, 64])

    Raises:
        ModelError: an unknown encoder or parameter name (with the nearest known one and the accepted
            ones), or a bad parameter value.
    """
    cls = _encoder_class(name)
    accepted = encoder_parameters(name)
    for key in params:
        if key not in accepted:
            hint = suggest(str(key), accepted)
            raise ModelError(
                f"encoder {name!r}: unknown parameter {key!r}{hint} (it takes {', '.join(map(repr, accepted))})"
            )
    return cls(in_features, **params)


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
    "encoder_parameters",
    "pair_features",
]
