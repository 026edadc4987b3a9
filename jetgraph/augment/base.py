"""The transform interface, its error, and the kinematic helpers every augmentation shares.

A particle transform is called as ``transform(batch, generator=None) -> JetBatch`` and an image
transform as ``transform(images, generator=None) -> Tensor``. Neither modifies its input: particle
transforms return :meth:`JetBatch.replace`, :meth:`JetBatch.select` or :meth:`JetBatch.add_particles`
copies. All randomness comes from ``generator``; with ``None`` it comes from torch's default generator
of the data's device (the one ``torch.manual_seed`` seeds), so that two calls give two different views.
A fresh ``torch.Generator()`` would not do: it always starts from the same seed.
"""

from __future__ import annotations

import inspect

import torch

from jetgraph.batch import JetBatch, relative, wrap_phi
from jetgraph.checks import Checks
from jetgraph.errors import JetGraphError


class AugmentError(JetGraphError, ValueError):
    """A bad augmentation parameter or specification, or data an augmentation cannot act on."""


def _repr(obj: object) -> str:
    """``Name(param=value, ...)`` for the parameters of ``obj.__init__``, read back from its attributes."""
    names = [p for p in inspect.signature(type(obj).__init__).parameters if p != "self"]
    shown = ", ".join(f"{name}={getattr(obj, name)!r}" for name in names)
    return f"{type(obj).__name__}({shown})"


class Transform:
    """Base class of the particle transforms: a random, vectorised map ``JetBatch -> JetBatch``.

    Subclasses implement :meth:`forward`; their ``__init__`` parameters are stored as attributes of the
    same name so that ``repr`` shows them (``Smear(strength=0.1, max_sigma=0.5)``).
    """

    kind = "particles"
    """What it acts on: ``"particles"`` (a :class:`JetBatch`) or ``"images"`` (an (N, C, H, W) tensor)."""

    def __call__(self, batch: JetBatch, generator: torch.Generator | None = None) -> JetBatch:
        if not isinstance(batch, JetBatch):
            raise AugmentError(f"{type(self).__name__} acts on a JetBatch; got {type(batch).__name__}")
        return self.forward(batch, generator)

    def forward(self, batch: JetBatch, generator: torch.Generator | None) -> JetBatch:
        """The transformed copy of ``batch``; draws its random numbers from ``generator``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return _repr(self)


class ImageTransform:
    """Base class of the image transforms: a random, vectorised map on (N, C, H, W) float images.

    Row ``i`` of an image is eta and column ``j`` is phi (the layout of :mod:`jetgraph.images`,
    channels first). Subclasses implement :meth:`forward`.
    """

    kind = "images"

    def __call__(self, images: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if not isinstance(images, torch.Tensor) or images.ndim != 4 or not images.is_floating_point():
            shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
            raise AugmentError(f"{type(self).__name__} acts on float images of shape (N, C, H, W); got {shape!r}")
        return self.forward(images, generator)

    def forward(self, images: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The transformed images (a new tensor); draws its random numbers from ``generator``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return _repr(self)


check = Checks(AugmentError)
"""The parameter checks of every transform (:class:`jetgraph.checks.Checks`)."""


# --- random numbers --------------------------------------------------------------------------------


def uniform(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Float32 uniform numbers in [0, 1) on ``device``, drawn on the generator's own device.

    Drawing where the generator lives lets a CPU generator drive a batch on a GPU (and vice versa).
    """
    if generator is None:
        return torch.rand(shape, device=device)
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def normal(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Float32 standard normal numbers on ``device``, drawn on the generator's own device."""
    if generator is None:
        return torch.randn(shape, device=device)
    return torch.randn(shape, generator=generator, device=generator.device).to(device)


# --- kinematics ------------------------------------------------------------------------------------


def mass(pt: torch.Tensor, eta: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
    """Particle mass ``sqrt(max(E^2 - (pt cosh eta)^2, 0))`` (as ``(E - p)(E + p)``, less cancellation)."""
    p = pt * torch.cosh(eta)
    return torch.sqrt(torch.clamp((energy - p) * (energy + p), min=0.0))


def energy(pt: torch.Tensor, eta: torch.Tensor, mass: torch.Tensor) -> torch.Tensor:
    """Particle energy ``sqrt(mass^2 + (pt cosh eta)^2)``."""
    return torch.hypot(mass, pt * torch.cosh(eta))


def moved(batch: JetBatch, eta: torch.Tensor, phi: torch.Tensor) -> JetBatch:
    """``batch`` with its particles moved to (``eta``, ``phi``), keeping each particle's pT and mass.

    ``phi`` is wrapped into [-pi, pi] and the energy is recomputed from the new eta.
    """
    m = mass(batch.pt, batch.eta, batch.energy)
    return batch.replace(eta=eta, phi=wrap_phi(phi), energy=energy(batch.pt, eta, m))


__all__ = [
    "AugmentError",
    "ImageTransform",
    "Transform",
    "energy",
    "mass",
    "relative",
    "wrap_phi",
]
