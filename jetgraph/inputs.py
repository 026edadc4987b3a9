"""What an encoder sees: augmented positive pairs for pretraining, plain inputs for embedding.

Graph encoders take a :class:`~jetgraph.batch.JetBatch` (particles, or a detector replica's cells
and tracks); image encoders take jet images made by :func:`jetgraph.images.pixelise`. One
:class:`Inputs` object per run turns a batch of jets into either, so the trainer, the embedding and
the probes agree on what a jet looks like to the model.
"""

from __future__ import annotations

import torch

from jetgraph.augment import ReplicaViews, ShowerViews, TwoViews, build_transforms
from jetgraph.batch import JetBatch, detector_view
from jetgraph.config import AugmentConfig, ConfigError
from jetgraph.images import ImageGrid, pixelise

EncoderInput = JetBatch | torch.Tensor


class Inputs:
    """Encoder inputs from jets, for an encoder whose ``input_kind`` is ``"graph"`` or ``"image"``.

    Args:
        config: the ``augment`` section (views, transforms, image size).
        input_kind: the encoder's ``input_kind``.

    Raises:
        ConfigError: image transforms for a graph encoder.
        AugmentError: a malformed transform list.
    """

    def __init__(self, config: AugmentConfig, input_kind: str) -> None:
        self.config = config
        self.input_kind = input_kind
        particles = build_transforms(config.transforms)
        if particles.kind != "particles":
            raise ConfigError("augment.transforms: image transforms belong in augment.image_transforms")
        self.image_transforms = build_transforms(config.image_transforms)
        if len(self.image_transforms) and (input_kind != "image" or self.image_transforms.kind != "images"):
            raise ConfigError(
                f"augment.image_transforms={config.image_transforms!r}: only image transforms, and only for "
                f"an image encoder (this one takes {input_kind} inputs)"
            )
        if config.views == "replicas":
            self.views: ReplicaViews | ShowerViews | TwoViews = ReplicaViews(particles if len(particles) else None)
        elif config.views == "showers":
            self.views = ShowerViews(particles if len(particles) else None)
        else:
            self.views = TwoViews(particles)

    def _encode(self, batch: JetBatch) -> EncoderInput:
        if self.input_kind == "image":
            return pixelise(batch, ImageGrid(self.config.pixels, self.config.width))
        return batch

    @staticmethod
    def _replica_zero(batch: JetBatch) -> JetBatch:
        """Every jet as the first detector replica saw it (cells and tracks as the particles)."""
        return detector_view(batch, torch.zeros(batch.num_jets, dtype=torch.long, device=batch.ptr.device))

    @staticmethod
    def group_of(config: AugmentConfig) -> int:
        """Consecutive jets of a file that make one pair: 2 for showers, else 1 (:class:`~jetgraph.data.JetDataset`)."""
        return 2 if config.views == "showers" else 1

    def _detector_only(self, batch: JetBatch) -> bool:
        """Jets with cells and tracks but no particles (a jet-image file, a detector without truth): seen as
        the first replica saw them, as with ``augment.views: detector``."""
        return self.config.views == "detector" or (batch.num_nodes == 0 and "cells_energy" in batch)

    def pair(self, batch: JetBatch, generator: torch.Generator | None = None) -> tuple[EncoderInput, EncoderInput]:
        """Two views of every jet (a positive pair; of every pair of jets for showers), as encoder inputs."""
        if self.config.views != "replicas" and self._detector_only(batch):
            batch = self._replica_zero(batch)
        first, second = (self._encode(view) for view in self.views(batch, generator))
        if self.input_kind == "image" and len(self.image_transforms):
            first, second = self.image_transforms(first, generator), self.image_transforms(second, generator)
        return first, second

    def plain(self, batch: JetBatch) -> EncoderInput:
        """Every jet as the encoder sees it without augmentation (replica 0 for detector-level runs)."""
        if self.config.views == "replicas" or self._detector_only(batch):
            batch = self._replica_zero(batch)
        return self._encode(batch)


def num_jets(inputs: EncoderInput) -> int:
    """Jets in an encoder input (a batch or a stack of images)."""
    return inputs.num_jets if isinstance(inputs, JetBatch) else int(inputs.shape[0])


__all__ = ["EncoderInput", "Inputs", "num_jets"]
