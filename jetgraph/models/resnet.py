"""A small ResNet for jet images (SimCLR on jet images; the image baseline to compare graphs with).

Input: (Tracks, ECAL, HCAL) images of :func:`jetgraph.images.pixelise` in GeV. GroupNorm, not
BatchNorm, so that an image's representation does not depend on the other images of its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import torch
from torch import nn

from jetgraph.models.base import ModelError, check


def _conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)


class _BasicBlock(nn.Module):
    """Two 3x3 convolutions with GroupNorm and ReLU, plus the input (a 1x1 projection if the shape changes)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, groups: int) -> None:
        super().__init__()
        self.conv1 = _conv(in_channels, out_channels, stride)
        self.norm1 = nn.GroupNorm(groups, out_channels)
        self.conv2 = _conv(out_channels, out_channels)
        self.norm2 = nn.GroupNorm(groups, out_channels)
        self.relu = nn.ReLU()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False),
                nn.GroupNorm(groups, out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class JetResNet(nn.Module):
    """ResNet over jet images; ``encoder: resnet``.

    A 3x3 convolution stem (``widths[0]`` channels), then one stage per entry of ``widths`` with
    ``blocks[s]`` basic residual blocks each (two 3x3 convolutions, GroupNorm, ReLU); the first block of
    every stage after the first halves the image with stride 2 and a 1x1 projection shortcut. Global
    average pooling gives the representation. The defaults make 15 convolutions (stem, 12 in blocks, 2
    projections) and about 0.7M parameters.

    Args:
        in_features: image channels (3: Tracks, ECAL, HCAL).
        widths: channels of each stage (a list in YAML).
        blocks: residual blocks in each stage, as many entries as ``widths``.
        groups: GroupNorm groups (must divide every width).
        log_input: apply ``log1p`` to the pixel intensities (GeV; negative values are clamped to 0) first,
            so that a few hard pixels do not drown the soft ones.

    Shapes:
        input: (B, in_features, H, W) float images, any H, W >= 1;
        output: (B, widths[-1]) float32, the representation before any projection head.

    Raises:
        ModelError: a bad parameter (at construction); input that is not (B, in_features, H, W) floats.
    """

    input_kind: ClassVar[str] = "image"

    def __init__(
        self,
        in_features: int = 3,
        widths: Sequence[int] = (32, 64, 128),
        blocks: Sequence[int] = (2, 2, 2),
        groups: int = 8,
        log_input: bool = True,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_features = check.integer(owner, "in_features", in_features, low=1)
        self.widths = check.integers(owner, "widths", widths)
        self.blocks = check.integers(owner, "blocks", blocks)
        if len(self.blocks) != len(self.widths):
            raise ModelError(
                f"{owner}: blocks={blocks!r}; expected one entry per stage of widths={list(self.widths)} "
                f"({len(self.widths)})"
            )
        self.groups = check.integer(owner, "groups", groups, low=1)
        if any(width % self.groups for width in self.widths):
            raise ModelError(
                f"{owner}: groups={groups!r}; expected a divisor of every width in widths={list(self.widths)}"
            )
        self.log_input = check.boolean(owner, "log_input", log_input)
        self.rep_dim = self.widths[-1]

        self.stem = nn.Sequential(
            _conv(self.in_features, self.widths[0]), nn.GroupNorm(self.groups, self.widths[0]), nn.ReLU()
        )
        stages = []
        previous = self.widths[0]
        for stage, (width, count) in enumerate(zip(self.widths, self.blocks, strict=True)):
            layers = []
            for index in range(count):
                stride = 2 if stage > 0 and index == 0 else 1
                layers.append(_BasicBlock(previous, width, stride, self.groups))
                previous = width
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The representation of each image.

        Shapes:
            images: (B, in_features, H, W); returns (B, widths[-1]).
        """
        if (
            not isinstance(images, torch.Tensor)
            or images.ndim != 4
            or images.size(1) != self.in_features
            or not images.is_floating_point()
        ):
            got = f"{tuple(images.shape)} {images.dtype}" if isinstance(images, torch.Tensor) else type(images).__name__
            raise ModelError(
                f"{type(self).__name__} takes float images of shape (B, {self.in_features}, H, W) "
                f"(jetgraph.images.pixelise); got {got}"
            )
        x = torch.log1p(images.clamp(min=0)) if self.log_input else images
        return self.stages(self.stem(x)).mean(dim=(2, 3))
