"""A ParticleNet-style dynamic graph CNN over each jet's particles (Qu, Gouskos 2020, arXiv:1902.08570).

Works on the flat particles of a :class:`~jetgraph.batch.JetBatch` (no padding): a Linear embedding of
the node features, then EdgeConv blocks whose kNN graph is built in (Δη, Δφ) for the first block and in
the block's input features for the others (a *dynamic* graph), then a pooling over each jet's particles.
Normalisation is LayerNorm, not BatchNorm: a particle's output must not depend on the other jets of its
batch, and small per-GPU batches under DDP make batch statistics noisy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn.inits import reset
from torch_geometric.utils import scatter

from jetgraph.batch import JetBatch
from jetgraph.features import knn_edges
from jetgraph.models.base import check, node_inputs

POOLINGS = ("mean", "sum", "max")


class _EdgeConv(nn.Module):
    """EdgeConv with the mean over each particle's neighbours of ``nn([x_i, x_j - x_i])``.

    The first Linear layer of ``nn`` is split by linearity, ``W [x_i, x_j - x_i] + b = (W_a - W_b) x_i + b +
    W_b x_j``, and applied to the N particles instead of the N k edges (then gathered and added per
    edge): the same numbers up to rounding, for a third to a half of the block's matmul work and without
    the (N k, 2C) concatenation (under bf16 autocast the two halves round separately: a relative error of
    about 5e-3 against 3e-3). Computes what ``torch_geometric.nn.EdgeConv(nn, aggr="mean")`` does (a
    test compares them) and keeps its parameter names (``nn.0.weight``, ...).
    """

    def __init__(self, mlp: nn.Sequential) -> None:
        super().__init__()
        self.nn = mlp
        reset(self.nn)  # as torch_geometric's EdgeConv does: a seed gives the weights it gave before

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """``h`` (N, C); ``edge_index`` (2, E): messages from ``edge_index[0]`` to ``edge_index[1]``."""
        first, rest = self.nn[0], self.nn[1:]
        own, other = first.weight.split(h.size(1), dim=1)
        target = F.linear(h, own - other, first.bias)
        source = F.linear(h, other)
        sender, receiver = edge_index
        messages = rest(target.index_select(0, receiver) + source.index_select(0, sender))
        return scatter(messages, receiver, dim=0, dim_size=h.size(0), reduce="mean")


class _EdgeBlock(nn.Module):
    """EdgeConv (mean over the k neighbours of ``MLP([x_i, x_j - x_i])``) plus a linear shortcut.

    The MLP is two Linear-LayerNorm-GELU layers.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        mlp = nn.Sequential(
            nn.Linear(2 * in_channels, out_channels),
            nn.LayerNorm(out_channels),
            nn.GELU(),
            nn.Linear(out_channels, out_channels),
            nn.LayerNorm(out_channels),
            nn.GELU(),
        )
        self.conv = _EdgeConv(mlp)
        self.shortcut = nn.Linear(in_channels, out_channels)

    def forward(self, h: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.conv(h, edge_index) + self.shortcut(h)


class ParticleNet(nn.Module):
    """Dynamic graph CNN over each jet's particles, invariant to their order; ``encoder: edgeconv``.

    ``embed``: Linear(in_features, channels[0]); block b maps ``channels[b-1]`` (``channels[0]`` for the
    first) to ``channels[b]`` with an EdgeConv on the ``k`` nearest neighbours of each particle within its
    jet: in (Δη, Δφ) to the jet axis for the first block (:func:`jetgraph.features.knn_edges`), in the
    block's input features for the others. A particle with no neighbour (a one-particle jet) keeps its
    shortcut. The jet is the ``pooling`` of its particles' last features
    (``torch_geometric.utils.scatter``).

    Args:
        in_features: node feature columns (:func:`jetgraph.features.num_node_features` of the batches).
        k: neighbours per particle.
        channels: output width of each EdgeConv block (a list in YAML).
        pooling: ``"mean"``, ``"sum"`` or ``"max"`` over each jet's particles.

    Shapes:
        input: a :class:`~jetgraph.batch.JetBatch` of ``num_jets`` jets and ``num_nodes`` particles;
        output: (num_jets, channels[-1]) float32, the representation before any projection head.

    Raises:
        ModelError: a bad parameter (at construction); a batch whose node features are not ``in_features``.
    """

    input_kind: ClassVar[str] = "graph"

    def __init__(
        self,
        in_features: int,
        k: int = 16,
        channels: Sequence[int] = (64, 128, 256),
        pooling: str = "mean",
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_features = check.integer(owner, "in_features", in_features, low=1)
        self.k = check.integer(owner, "k", k, low=1)
        self.channels = check.integers(owner, "channels", channels)
        self.pooling = check.choice(owner, "pooling", pooling, POOLINGS)
        self.rep_dim = self.channels[-1]
        self.embed = nn.Linear(self.in_features, self.channels[0])
        widths = (self.channels[0], *self.channels)
        self.blocks = nn.ModuleList(_EdgeBlock(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True))

    def forward(self, batch: JetBatch) -> torch.Tensor:
        """The representation of each jet.

        Shapes:
            returns (num_jets, channels[-1]).
        """
        h = self.embed(node_inputs(type(self).__name__, batch, self.in_features))
        for index, block in enumerate(self.blocks):
            # float32 distances even under autocast; the edges are indices, no gradient flows through them
            coordinates = None if index == 0 else h.detach().float()
            edges = knn_edges(batch, self.k, coordinates=coordinates)
            h = block(h, edges)
        return scatter(h, batch.batch, dim=0, dim_size=batch.num_jets, reduce=self.pooling)
