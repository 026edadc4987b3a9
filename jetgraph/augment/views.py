"""View makers: the positive pair of contrastive learning, from augmentations or detector replicas."""

from __future__ import annotations

from typing import Generic, TypeVar

import torch

from jetgraph.augment.base import AugmentError, ImageTransform, Transform, uniform
from jetgraph.augment.compose import Compose
from jetgraph.batch import JetBatch, detector_view

Data = TypeVar("Data")


class TwoViews(Generic[Data]):
    """Two independent draws of ``transform`` on the same data: a positive pair for SimCLR.

    Works for particle transforms (on a :class:`JetBatch`) and image transforms (on images) alike.
    Both views draw from the one generator, one after the other, so they differ, and the same seed
    gives the same pair.
    """

    def __init__(self, transform: Transform | ImageTransform | Compose) -> None:
        if not isinstance(transform, Transform | ImageTransform | Compose):
            raise AugmentError(f"TwoViews: transform={transform!r}; expected a Transform, ImageTransform or Compose")
        self.transform = transform

    def __call__(self, data: Data, generator: torch.Generator | None = None) -> tuple[Data, Data]:
        return self.transform(data, generator), self.transform(data, generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(transform={self.transform!r})"


class ReplicaViews:
    """Two different detector replicas of each jet as the positive pair (optionally augmented).

    For detector-level batches (``cells_*`` tensors and ``replicas``): each jet gets an ordered pair
    of *different* replicas, uniform among its ``replicas``, and each view is
    :func:`~jetgraph.batch.detector_view` of its replica (cells and tracks as the particles),
    followed by ``transform`` if given. A jet with one replica uses it twice. The pair then differs
    only by detector effects (smearing, noise, thresholds, efficiency), which the representation
    should learn to ignore.

    Args:
        transform: a particle transform applied to each view after it is made, or None.

    Raises:
        AugmentError: (when called) the batch has particles only; use :class:`TwoViews` for those.
    """

    def __init__(self, transform: Transform | Compose | None = None) -> None:
        if transform is not None and (not isinstance(transform, Transform | Compose) or transform.kind != "particles"):
            raise AugmentError(f"ReplicaViews: transform={transform!r}; expected a particle Transform, Compose or None")
        self.transform = transform

    def replicas(self, batch: JetBatch, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The replica of each jet for the first and the second view.

        Shapes:
            returns two (num_jets,) int64 tensors, different wherever ``batch.replicas >= 2``.
        """
        count = batch.replicas
        u = uniform((2, batch.num_jets), generator, count.device)
        first = torch.minimum((u[0] * count).long(), count - 1)
        others = (count - 1).clamp(min=1)  # a jet with one replica: offset 0 below, the same replica
        offset = torch.minimum((u[1] * others).long(), others - 1)
        second = torch.remainder(first + 1 + offset, count.clamp(min=1))
        return first, second

    def __call__(self, batch: JetBatch, generator: torch.Generator | None = None) -> tuple[JetBatch, JetBatch]:
        if not isinstance(batch, JetBatch) or "cells_energy" not in batch or "replicas" not in batch:
            raise AugmentError(
                "ReplicaViews needs detector-level jets (cells and replicas); this batch has particles only "
                "(expected jets simulated with replicas, or use TwoViews(transform) for particle-level jets)"
            )
        first, second = self.replicas(batch, generator)
        views = detector_view(batch, first), detector_view(batch, second)
        if self.transform is None:
            return views
        return self.transform(views[0], generator), self.transform(views[1], generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(transform={self.transform!r})"
