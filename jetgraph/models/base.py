"""The encoder error and the checks every encoder's constructor shares.

Each check returns the value, normalised (``int``, ``float``, a tuple of ints), or raises a one-line
:class:`ModelError` that names the model, the parameter, the bad value (``!r``) and what was expected.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import torch

from jetgraph.batch import JetBatch
from jetgraph.errors import JetGraphError
from jetgraph.features import feature_names, node_features


class ModelError(JetGraphError, ValueError):
    """A bad encoder or head parameter, an unknown encoder name, or inputs an encoder cannot take."""


def check_int(owner: str, name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ModelError(f"{owner}: {name}={value!r}: expected an integer >= {minimum}")
    return int(value)


def check_float(owner: str, name: str, value: Any, low: float, high: float, expected: str) -> float:
    """``value`` as a finite float with ``low <= value < high``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or not low <= value < high
    ):
        raise ModelError(f"{owner}: {name}={value!r}: expected {expected}")
    return float(value)


def check_bool(owner: str, name: str, value: Any) -> bool:
    """``value`` if it is a bool (``1`` or ``"yes"`` in a config is more likely a mistake than a wish)."""
    if not isinstance(value, bool):
        raise ModelError(f"{owner}: {name}={value!r}: expected true or false")
    return value


def check_choice(owner: str, name: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise ModelError(f"{owner}: {name}={value!r}: expected one of {', '.join(map(repr, choices))}")
    return value


def check_ints(owner: str, name: str, value: Any, minimum: int = 1) -> tuple[int, ...]:
    """``value`` (a non-empty list or tuple, as YAML gives it) as a tuple of ints >= ``minimum``."""
    if (
        isinstance(value, str | bytes)
        or not isinstance(value, Iterable)
        or not (items := list(value))
        or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < minimum for v in items)
    ):
        raise ModelError(f"{owner}: {name}={value!r}: expected a non-empty list of integers >= {minimum}")
    return tuple(int(v) for v in items)


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
