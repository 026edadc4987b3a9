"""Physics augmentations for contrastive pretraining, batched and vectorised over whole batches.

Particle transforms act on the raw kinematics of a :class:`~jetgraph.batch.JetBatch` (pT, eta, phi,
energy; ``pid``, ``charge``, ``layer`` ride along) and return a new batch, never changing their
input; image transforms act on (N, C, H, W) jet images. Every transform is called as
``transform(data, generator=None)`` and draws all its randomness from ``generator``.

- ``base.py``: :class:`Transform`, :class:`ImageTransform`, :class:`AugmentError`, kinematic helpers.
- ``rotate.py``: :class:`RandomRotate`, a turn about the jet axis in (deta, dphi); :class:`ScrambleAngles`,
  a turn of each particle by its own angle.
- ``translate.py``: :class:`RandomTranslate`, the jet shifted off its axis.
- ``boost.py``: :class:`RandomBoost`, the whole jet moved in eta (a boost along the beam).
- ``smear.py``: :class:`Smear`, soft (pT-dependent) smearing of directions.
- ``split.py``: :class:`CollinearSplit`, particles split into collinear pairs.
- ``soft.py``: :class:`SoftEmission`, soft massless particles added.
- ``drop.py``: :class:`DropParticles`, soft particles removed.
- ``scale.py``: :class:`EnergyScale`, a per-jet energy scale.
- ``images.py``: :class:`RandomFlip`, :class:`RandomResizedCrop`, :class:`Brightness`.
- ``compose.py``: :class:`Compose`, transforms in order with one generator.
- ``views.py``: :class:`TwoViews` (two augmented views), :class:`ReplicaViews` (two detector replicas)
  and :class:`ShowerViews` (two showers of one hard process).
- ``registry.py``: :data:`TRANSFORMS` by name and :func:`build_transforms` from a YAML-style list.
"""

from __future__ import annotations

from jetgraph.augment.base import AugmentError, ImageTransform, Transform, energy, mass, relative, wrap_phi
from jetgraph.augment.boost import RandomBoost
from jetgraph.augment.compose import Compose
from jetgraph.augment.drop import DropParticles
from jetgraph.augment.images import Brightness, RandomFlip, RandomResizedCrop
from jetgraph.augment.registry import TRANSFORMS, build_transforms
from jetgraph.augment.rotate import RandomRotate, ScrambleAngles
from jetgraph.augment.scale import EnergyScale
from jetgraph.augment.smear import Smear
from jetgraph.augment.soft import SoftEmission
from jetgraph.augment.split import CollinearSplit
from jetgraph.augment.translate import RandomTranslate
from jetgraph.augment.views import ReplicaViews, ShowerViews, TwoViews

__all__ = [
    "TRANSFORMS",
    "AugmentError",
    "Brightness",
    "CollinearSplit",
    "Compose",
    "DropParticles",
    "EnergyScale",
    "ImageTransform",
    "RandomBoost",
    "RandomFlip",
    "RandomResizedCrop",
    "RandomRotate",
    "RandomTranslate",
    "ReplicaViews",
    "ShowerViews",
    "ScrambleAngles",
    "Smear",
    "SoftEmission",
    "Transform",
    "TwoViews",
    "build_transforms",
    "energy",
    "mass",
    "relative",
    "wrap_phi",
]
