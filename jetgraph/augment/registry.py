"""Transforms by name, and :func:`build` to make a :class:`Compose` from a YAML-style list."""

from __future__ import annotations

import inspect
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
from jetgraph.errors import suggest

TRANSFORMS: dict[str, type[Transform] | type[ImageTransform]] = {
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
}
"""Every transform by the name configs use for it."""

_EXAMPLE = "[{'rotate': {}}, {'smear': {'strength': 0.1}}, 'translate']"


def parameters(name: str) -> list[str]:
    """The parameters the transform called ``name`` takes, in order."""
    return [p for p in inspect.signature(TRANSFORMS[name].__init__).parameters if p != "self"]


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
    if name not in TRANSFORMS:
        hint = suggest(str(name), TRANSFORMS) or f"; expected one of {', '.join(map(repr, TRANSFORMS))}"
        raise AugmentError(f"augment entry {index}: unknown transform {name!r}{hint}")
    accepted = parameters(name)
    if not isinstance(params, Mapping):
        expected = f"a mapping such as {{{accepted[0]!r}: ...}}" if accepted else "none ({} or null)"
        raise AugmentError(f"augment entry {index} ({name!r}): parameters {params!r}; expected {expected}")
    for key in params:
        if key not in accepted:
            hint = suggest(str(key), accepted) or (
                f"; it takes {', '.join(map(repr, accepted))}" if accepted else "; it takes none"
            )
            raise AugmentError(f"augment entry {index} ({name!r}): unknown parameter {key!r}{hint}")
    try:
        return TRANSFORMS[name](**params)
    except AugmentError as err:
        raise AugmentError(f"augment entry {index} ({name!r}): {err}") from err


def build(spec: Sequence[Any] | None) -> Compose:
    """A :class:`Compose` from a YAML-style list of transforms, in order.

    Each entry is a name (default parameters), a one-key mapping ``{name: {parameter: value}}``
    (``{name: None}`` or ``{name: {}}`` for the defaults), or a transform object. ``None`` or an
    empty list gives the identity.

    Example:
        >>> build([{"rotate": {}}, {"smear": {"strength": 0.2}}, "translate"])
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
