"""Image transforms on (N, C, H, W) jet images: flips, resized crops, brightness."""

from __future__ import annotations

import pytest
import torch

from jetgraph.augment import AugmentError, Brightness, ImageTransform, RandomFlip, RandomResizedCrop


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """64 sparse, non-negative 3 x 32 x 33 images (Tracks, ECAL, HCAL), no symmetry to hide a flip."""
    g = torch.Generator().manual_seed(0)
    values = torch.rand(64, 3, 32, 33, generator=g) ** 4 * 50
    return values * (torch.rand(64, 3, 32, 33, generator=g) < 0.2)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


TRANSFORMS = [RandomFlip(p=0.5), RandomResizedCrop(scale=(0.5, 0.9)), Brightness(width=0.3)]


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: type(t).__name__)
def test_seeded_and_pure(images: torch.Tensor, transform: ImageTransform) -> None:
    before = images.clone()
    first, again, other = transform(images, seeded(1)), transform(images, seeded(1)), transform(images, seeded(2))
    assert torch.equal(images, before)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.shape == images.shape and first.dtype == torch.float32


@pytest.mark.parametrize("transform", TRANSFORMS, ids=lambda t: type(t).__name__)
def test_refuses_what_is_not_a_batch_of_images(images: torch.Tensor, transform: ImageTransform) -> None:
    with pytest.raises(AugmentError, match=r"acts on float images of shape \(N, C, H, W\); got \(3, 32, 33\)"):
        transform(images[0])


def test_flip_twice_with_p_one_is_the_identity(images: torch.Tensor) -> None:
    flip = RandomFlip(p=1.0)
    once = flip(images, seeded(0))
    assert torch.equal(once, images.flip(-2).flip(-1))
    assert torch.equal(flip(once, seeded(1)), images)
    assert torch.equal(RandomFlip(p=0.0)(images, seeded(2)), images)


def test_flips_each_image_and_axis_independently(images: torch.Tensor) -> None:
    out = RandomFlip(p=0.5)(images, seeded(3))
    variants = torch.stack([images, images.flip(-2), images.flip(-1), images.flip(-2).flip(-1)])  # (4, N, ...)
    match = (variants == out).flatten(2).all(-1)  # (4, N): which variant each image is
    assert bool((match.sum(0) == 1).all())
    assert bool(match.any(1).all())  # all four occur among 64 images


def test_crop_of_the_whole_image_is_the_identity(images: torch.Tensor) -> None:
    out = RandomResizedCrop(scale=(1.0, 1.0))(images, seeded(0))
    torch.testing.assert_close(out, images, rtol=0, atol=1e-4)


def test_crop_zooms_by_the_square_root_of_the_area() -> None:
    """On a ramp along phi (columns) and another along eta (rows), a zoom by s makes slopes of s."""
    h, w = 32, 33
    cols = torch.arange(w, dtype=torch.float32).expand(h, w)
    rows = torch.arange(h, dtype=torch.float32)[:, None].expand(h, w)
    ramps = torch.stack([cols, rows, torch.zeros(h, w)]).expand(16, 3, h, w)
    out = RandomResizedCrop(scale=(0.36, 0.36))(ramps, seeded(4))
    inner = (slice(None), slice(2, -2), slice(2, -2))  # away from the border clamp
    torch.testing.assert_close(out[:, 0].diff(dim=-1)[inner], torch.full_like(out[:, 0].diff(dim=-1)[inner], 0.6))
    torch.testing.assert_close(out[:, 1].diff(dim=-2)[inner], torch.full_like(out[:, 1].diff(dim=-2)[inner], 0.6))
    starts = out[:, 0, 0, 0]  # where each crop begins in phi: different crops, inside the image
    assert starts.std() > 1 and bool((starts >= 0).all()) and bool((out[:, 0, 0, -1] <= w - 1).all())


def test_brightness_scales_each_image_by_one_factor(images: torch.Tensor) -> None:
    out = Brightness(width=0.2)(images, seeded(5))
    factor = out.sum((1, 2, 3)) / images.sum((1, 2, 3))
    torch.testing.assert_close(out, images * factor[:, None, None, None], rtol=1e-5, atol=1e-6)
    assert bool((factor >= 0.8).all()) and bool((factor <= 1.2).all()) and factor.std() > 0.05


def test_repr() -> None:
    assert repr(RandomFlip()) == "RandomFlip(p=0.5)"
    assert repr(RandomResizedCrop(scale=[0.5, 1])) == "RandomResizedCrop(scale=(0.5, 1.0))"
    assert repr(Brightness(width=0.1)) == "Brightness(width=0.1)"
