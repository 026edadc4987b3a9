"""``Compose``: chain transforms of one kind, all drawing from the same generator."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import torch

from jetgraph.augment.base import AugmentError, ImageTransform, Transform

Data = TypeVar("Data")


class Compose:
    """Apply ``transforms`` in order, passing each the same generator (so one seed fixes them all).

    All transforms must act on the same kind of data: particles (:class:`Transform`, on a
    :class:`~jetgraph.batch.JetBatch`) or images (:class:`ImageTransform`, on (N, C, H, W) tensors).
    An empty Compose returns its input.

    Raises:
        AugmentError: an entry is not a transform, or particle and image transforms are mixed.
    """

    def __init__(self, transforms: Iterable[Transform | ImageTransform | Compose]) -> None:
        self.transforms = list(transforms)
        for transform in self.transforms:
            if not isinstance(transform, Transform | ImageTransform | Compose):
                raise AugmentError(
                    f"Compose: {transform!r} is not a transform; expected Transform, ImageTransform or Compose"
                )
        kinds = {transform.kind for transform in self.transforms}
        if len(kinds) > 1:
            raise AugmentError(f"Compose: {self!r} mixes particle and image transforms; expected one kind per Compose")

    @property
    def kind(self) -> str:
        """``"particles"`` or ``"images"``: what the transforms act on (``"particles"`` when empty)."""
        return self.transforms[0].kind if self.transforms else "particles"

    def __call__(self, data: Data, generator: torch.Generator | None = None) -> Data:
        for transform in self.transforms:
            data = transform(data, generator)
        return data

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        return f"{type(self).__name__}([{', '.join(map(repr, self.transforms))}])"
