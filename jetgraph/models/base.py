"""The encoder error, the parameter checks every encoder's constructor shares, and node inputs."""

from __future__ import annotations

import torch

from jetgraph.batch import JetBatch
from jetgraph.checks import Checks
from jetgraph.errors import JetGraphError
from jetgraph.features import feature_names, node_features


class ModelError(JetGraphError, ValueError):
    """A bad encoder or head parameter, an unknown encoder name, or inputs an encoder cannot take."""


check = Checks(ModelError)
"""The parameter checks of every encoder and head (:class:`jetgraph.checks.Checks`)."""


def count_parameters(module: torch.nn.Module, trainable: bool = True) -> int:
    """Number of parameters of ``module`` (only those that require grad with ``trainable``)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable)


def node_inputs(owner: str, batch: JetBatch, in_features: int) -> torch.Tensor:
    """The node features of ``batch`` (:func:`jetgraph.features.node_features`), checked against ``in_features``.

    Shapes:
        returns (num_nodes, in_features) float32.

    Raises:
        ModelError: ``batch`` is not a :class:`~jetgraph.batch.JetBatch` or gives another number of columns.
    """
    if not isinstance(batch, JetBatch):
        raise ModelError(f"{owner} takes a JetBatch; got {type(batch).__name__}")
    x = node_features(batch)
    if x.size(1) != in_features:
        raise ModelError(
            f"{owner} was built for in_features={in_features} node features; this batch gives {x.size(1)} "
            f"({', '.join(feature_names(batch))}): build it with in_features=num_node_features(batch)"
        )
    return x
