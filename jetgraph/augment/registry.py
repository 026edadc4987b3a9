"""Transforms by name, and :func:`build_transforms` to make a :class:`Compose` from a YAML-style list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jetgraph.augment.base import AugmentError, ImageTransform, Transform
from jetgraph.augment.boost import RandomBoost
from jetgraph.augment.compose import Compose
from jetgraph.augment.drop import DropParticles
from jetgraph.augment.images import Brightness, RandomFlip, RandomResizedCrop
from jetgraph.augment.rotate import RandomRotate, ScrambleAngles
from jetgraph.augment.scale import EnergyScale
from jetgraph.augment.smear import Smear
from jetgraph.augment.soft import SoftEmission
from jetgraph.augment.split import CollinearSplit
from jetgraph.augment.translate import RandomTranslate
from jetgraph.registry import Registry

TRANSFORMS = Registry(
    "transform",
    AugmentError,
    {
        "rotate": RandomRotate,
        "scramble_angles": ScrambleAngles,
        "translate": RandomTranslate,
        "smear": Smear,
        "collinear_split": CollinearSplit,
        "soft_emission": SoftEmission,
        "drop_particles": DropParticles,
        "energy_scale": EnergyScale,
        "boost": RandomBoost,
        "flip": RandomFlip,
        "resized_crop": RandomResizedCrop,
        "brightness": Brightness,
    },
)
"""Every transform by the name configs use for it."""

_EXAMPLE = "[{'rotate': {}}, {'smear': {'strength': 0.1}}, 'translate']"


def _one(index: int, entry: Any) -> Transform | ImageTransform | Compose:
    if isinstance(entry, Transform | ImageTransform | Compose):
        return entry
    if isinstance(entry, str):
        name, params = entry, {}
    elif isinstance(entry, Mapping) and len(entry) == 1:
        ((name, params),) = entry.items()
        params = {} if params is None else params
    else:
        raise AugmentError(
            f"augment entry {index}: {entry!r}; expected a transform name or a one-key mapping "
            f"{{name: {{parameter: value}}}}, as in {_EXAMPLE}"
        )
    try:
        if not isinstance(params, Mapping):
            accepted = TRANSFORMS.parameters(name)
            expected = f"a mapping such as {{{accepted[0]!r}: ...}}" if accepted else "none ({} or null)"
            raise AugmentError(f"transform {name!r}: parameters {params!r}; expected {expected}")
        return TRANSFORMS.build(name, **params)
    except AugmentError as err:
        raise AugmentError(f"augment entry {index}: {err}") from None


def build_transforms(spec: Sequence[Any] | None) -> Compose:
    """A :class:`Compose` from a YAML-style list of transforms, in order.

    Each entry is a name (default parameters), a one-key mapping ``{name: {parameter: value}}``
    (``{name: None}`` or ``{name: {}}`` for the defaults), or a transform object. ``None`` or an
    empty list gives the identity.

    Example:
        >>> build_transforms([{"rotate": {}}, {"smear": {"strength": 0.2}}, "translate"])
        Compose([RandomRotate(), Smear(strength=0.2, max_sigma=0.5), RandomTranslate(width=0.1)])

    Raises:
        AugmentError: the spec is not a list, an entry is malformed, a name or a parameter is unknown
            (with the nearest accepted one), a value is out of range, or particle and image
            transforms are mixed.
    """
    if spec is None:
        return Compose([])
    if isinstance(spec, str | Mapping) or not isinstance(spec, Sequence):
        raise AugmentError(f"augment: {spec!r}; expected a list of transforms, as in {_EXAMPLE}")
    return Compose(_one(index, entry) for index, entry in enumerate(spec))
