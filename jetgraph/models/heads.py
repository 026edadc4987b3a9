"""The projection head: representation ``h`` -> embedding ``z`` that the contrastive loss sees (SimCLR).

Probes use ``h`` (the encoder's output), never ``z``: the head is thrown away after pretraining.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from jetgraph.models.base import ModelError, check


class ProjectionHead(nn.Module):
    """MLP ``Linear-GELU-...-Linear`` with ``layers`` Linear layers (one: a single Linear map).

    Args:
        in_dim: width of the representation (the encoder's ``rep_dim``).
        hidden: width of the hidden layers (unused with ``layers=1``).
        out_dim: width of the embedding given to the loss.
        layers: number of Linear layers.

    Shapes:
        input: (N, in_dim); output: (N, out_dim).

    Raises:
        ModelError: a parameter that is not a positive integer.
    """

    def __init__(self, in_dim: int, hidden: int = 512, out_dim: int = 128, layers: int = 2) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_dim = check.integer(owner, "in_dim", in_dim, low=1)
        self.hidden = check.integer(owner, "hidden", hidden, low=1)
        self.out_dim = check.integer(owner, "out_dim", out_dim, low=1)
        self.layers = check.integer(owner, "layers", layers, low=1)
        widths = [self.in_dim] + [self.hidden] * (self.layers - 1) + [self.out_dim]
        modules: list[nn.Module] = []
        for index, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            if index:
                modules.append(nn.GELU())
            modules.append(nn.Linear(a, b))
        self.mlp = nn.Sequential(*modules)

    def upto(self, layer: int) -> nn.Sequential:
        """The head's first ``layer`` Linear layers, each but the last with its activation (1 <= layer <= layers).

        JetCLR's linear classifier test reads the output of the first layer (``upto(1)``): after
        pretraining it separates classes better than the encoder's output does.
        """
        if not 1 <= layer <= self.layers:
            raise ModelError(f"ProjectionHead: layer={layer!r}; expected 1 to {self.layers} (its Linear layers)")
        end = 2 * layer - 1  # Linear, GELU, Linear, ...: the k-th Linear sits at 2k - 2
        return self.mlp[: end + (layer < self.layers)]

    def width(self, layer: int) -> int:
        """Columns of the output of :meth:`upto` ``(layer)``."""
        return self.out_dim if layer == self.layers else self.hidden

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        """The embedding of each representation.

        Shapes:
            h: (N, in_dim); returns (N, out_dim).
        """
        return self.mlp(h)


class HeadLayers(nn.Module):
    """An encoder followed by the first layers of its projection head (:meth:`ProjectionHead.upto`).

    What a run's ``model.probe_layer`` makes probes read. It has an encoder's ``rep_dim`` and
    ``input_kind``, so embedding and probes treat it as one.
    """

    def __init__(self, encoder: nn.Module, layers: nn.Module, rep_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.layers = layers
        self.rep_dim = rep_dim
        self.input_kind = encoder.input_kind

    def forward(self, inputs: Any) -> torch.Tensor:
        return self.layers(self.encoder(inputs))
