"""Image transforms for jet images (channels Tracks, ECAL, HCAL), batched over (N, C, H, W) tensors.

Row ``i`` of an image is eta and column ``j`` is phi, centred on the jet axis (the layout of
:mod:`jetgraph.images`, channels first). Each image gets its own random draw; the work is
one tensor operation over the batch.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from jetgraph.augment.base import AugmentError, ImageTransform, check, uniform


class RandomFlip(ImageTransform):
    """Flip each image in eta (rows) with probability ``p`` and, independently, in phi (columns).

    A flip about the jet axis (eta -> -eta, phi -> -phi) is a symmetry of an unpolarised jet.

    Shapes:
        images: (N, C, H, W); returns (N, C, H, W).
    """

    def __init__(self, p: float = 0.5) -> None:
        self.p = check.probability("RandomFlip", "p", p)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        flip = uniform((2, images.shape[0], 1, 1, 1), generator, images.device) < self.p
        images = torch.where(flip[0], images.flip(-2), images)
        return torch.where(flip[1], images.flip(-1), images)


class RandomResizedCrop(ImageTransform):
    """Crop a random square of each image and resize it back to H x W (bilinear), i.e. zoom in.

    The crop covers a fraction of the image area uniform in ``scale`` (so its side is the square
    root of that fraction, the same in eta and phi: pixels stay square) at a uniform position inside
    the image. One ``affine_grid`` + ``grid_sample`` does the whole batch. Pixel values are
    interpolated, not rescaled, so an image's sum grows roughly by 1 / area.

    Args:
        scale: (low, high) fractions of the area, 0 < low <= high <= 1; (1, 1) is the identity.

    Shapes:
        images: (N, C, H, W); returns (N, C, H, W).
    """

    def __init__(self, scale: Sequence[float] = (0.6, 1.0)) -> None:
        ok = (
            isinstance(scale, Sequence)
            and not isinstance(scale, str)
            and len(scale) == 2
            and all(isinstance(s, numbers.Real) and not isinstance(s, bool) for s in scale)
            and 0 < scale[0] <= scale[1] <= 1
        )
        if not ok:
            raise AugmentError(f"RandomResizedCrop: scale={scale!r}; expected (low, high) with 0 < low <= high <= 1")
        self.scale = (float(scale[0]), float(scale[1]))

    def forward(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n = images.shape[0]
        u = uniform((3, n), generator, images.device).to(images.dtype)
        low, high = self.scale
        side = torch.sqrt(low + (high - low) * u[0])  # of the full width, in grid units [-1, 1]
        x = (2 * u[1] - 1) * (1 - side)  # crop centre in phi (columns), inside the image
        y = (2 * u[2] - 1) * (1 - side)  # and in eta (rows)
        zero = torch.zeros_like(side)
        theta = torch.stack([torch.stack([side, zero, x], -1), torch.stack([zero, side, y], -1)], 1)
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        return F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)


class Brightness(ImageTransform):
    """Multiply each image (all channels) by ``1 + uniform(-width, width)``: an overall energy scale.

    Args:
        width: half-width of the relative change, 0 <= width < 1 (so the factor stays positive).

    Shapes:
        images: (N, C, H, W); returns (N, C, H, W).
    """

    def __init__(self, width: float = 0.2) -> None:
        if isinstance(width, bool) or not isinstance(width, numbers.Real) or not 0 <= width < 1:
            raise AugmentError(f"Brightness: width={width!r}; expected a number with 0 <= width < 1")
        self.width = float(width)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        u = uniform((images.shape[0], 1, 1, 1), generator, images.device).to(images.dtype)
        return images * (1 + self.width * (2 * u - 1))


__all__ = ["Brightness", "RandomFlip", "RandomResizedCrop"]
