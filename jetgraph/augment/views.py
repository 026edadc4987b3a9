"""View makers: the positive pair of contrastive learning, from augmentations, detector replicas or showers."""

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


class _ThenTransform:
    """A view maker that applies an optional particle transform to each view it makes."""

    def __init__(self, transform: Transform | Compose | None = None) -> None:
        if transform is not None and (not isinstance(transform, Transform | Compose) or transform.kind != "particles"):
            raise AugmentError(
                f"{type(self).__name__}: transform={transform!r}; expected a particle Transform, Compose or None"
            )
        self.transform = transform

    def _then(self, views: tuple[JetBatch, JetBatch], generator: torch.Generator | None) -> tuple[JetBatch, JetBatch]:
        if self.transform is None:
            return views
        return self.transform(views[0], generator), self.transform(views[1], generator)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(transform={self.transform!r})"


class ReplicaViews(_ThenTransform):
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
        return self._then((detector_view(batch, first), detector_view(batch, second)), generator)


class ShowerViews(_ThenTransform):
    """Two showers of the same hard process as the positive pair (re-simulation; optionally augmented).

    For batches of jets generated with ``showers=2`` (:func:`jetgraph.generate.generate`), in which
    jets ``2k`` and ``2k + 1`` are the same hard event showered and hadronised twice (the data
    loader keeps them together: :class:`~jetgraph.data.JetDataset` with ``group=2``). The first view
    is the even jets, the second the odd ones, each followed by ``transform`` if given, so a batch
    of ``2n`` jets gives ``n`` pairs. The pair shares the parton (flavour, direction, energy) and
    nothing of the shower, so what the representation keeps is what the parton decides
    (Harris et al., "Re-simulation-based self-supervised learning", arXiv:2403.07066).

    Args:
        transform: a particle transform applied to each view after it is made, or None.

    Raises:
        AugmentError: (when called) the jets are not in pairs of one event (no ``jet_event``, an odd
            count, or two neighbours from different events).
    """

    def __call__(self, batch: JetBatch, generator: torch.Generator | None = None) -> tuple[JetBatch, JetBatch]:
        if not isinstance(batch, JetBatch) or "jet_event" not in batch:
            raise AugmentError(
                "ShowerViews needs jets showered twice per hard event (jet.event); these jets have none "
                "(expected a file from `jetgraph generate --showers 2`)"
            )
        event = batch.jet_event
        if batch.num_jets % 2 or not bool((event[0::2] == event[1::2]).all()):
            raise AugmentError(
                f"ShowerViews: the {batch.num_jets} jets are not in consecutive pairs of one event "
                f"(jet.event starts {event[:6].tolist()}); expected an even batch read with group=2"
            )
        device = batch.ptr.device
        first = batch.take(torch.arange(0, batch.num_jets, 2, device=device))
        second = batch.take(torch.arange(1, batch.num_jets, 2, device=device))
        return self._then((first, second), generator)
