"""build_transforms and Compose: YAML-style lists to transforms, with one-line errors that suggest the nearest name."""

from __future__ import annotations

import pytest
import torch

from jetgraph.augment import (
    TRANSFORMS,
    AugmentError,
    Compose,
    EnergyScale,
    RandomFlip,
    RandomRotate,
    Smear,
    build_transforms,
)
from jetgraph.batch import JetBatch
from jetgraph.errors import JetGraphError


def test_build_from_a_yaml_style_list() -> None:
    spec = [{"rotate": {}}, {"smear": {"strength": 0.2}}, "translate", {"collinear_split": None}]
    assert repr(build_transforms(spec)) == (
        "Compose([RandomRotate(), Smear(strength=0.2, max_sigma=0.5), RandomTranslate(width=0.1), "
        "CollinearSplit(fraction=0.5, splits=1)])"
    )
    assert repr(build_transforms([{"flip": {"p": 1}}, {"resized_crop": {"scale": [0.5, 1.0]}}])) == (
        "Compose([RandomFlip(p=1.0), RandomResizedCrop(scale=(0.5, 1.0))])"
    )
    assert len(build_transforms(None)) == 0 and len(build_transforms([])) == 0


def test_every_name_builds_with_defaults() -> None:
    assert set(TRANSFORMS) == {
        "rotate", "scramble_angles", "translate", "smear", "collinear_split", "soft_emission", "drop_particles",
        "energy_scale", "boost", "flip", "resized_crop", "brightness",
    }  # fmt: skip
    for name, cls in TRANSFORMS.items():
        (transform,) = build_transforms([name]).transforms
        assert type(transform) is cls


def test_compose_applies_in_order_with_one_generator(batch: JetBatch) -> None:
    chain = Compose([RandomRotate(), EnergyScale(width=0.1)])
    out = chain(batch, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    by_hand = EnergyScale(width=0.1)(RandomRotate()(batch, g), g)
    assert torch.equal(out.pt, by_hand.pt) and torch.equal(out.eta, by_hand.eta)
    assert Compose([])(batch) is batch


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (["rotat"], "augment entry 0: unknown transform 'rotat'; did you mean 'rotate'?"),
        (["rotate", {"smaer": {}}], "augment entry 1: unknown transform 'smaer'; did you mean 'smear'?"),
        (["xyz"], "augment entry 0: unknown transform 'xyz'; expected one of 'rotate', 'scramble_angles'"),
        ([{"smear": {"strenght": 0.1}}], "unknown parameter 'strenght'; did you mean 'strength'?"),
        ([{"rotate": {"angle": 1}}], "augment entry 0: transform 'rotate': unknown parameter 'angle'; it takes none"),
        ([{"smear": {"strength": -1}}], "augment entry 0: Smear: strength=-1; expected a number >= 0"),
        ([{"smear": 0.1}], "transform 'smear': parameters 0.1; expected a mapping such as {'strength': ...}"),
        ([{"rotate": {}, "smear": {}}], "augment entry 0: {'rotate': {}, 'smear': {}}; expected a transform name"),
        ("rotate", "augment: 'rotate'; expected a list of transforms"),
        (["rotate", "flip"], "mixes particle and image transforms; expected one kind per Compose"),
    ],
)  # fmt: skip
def test_bad_specs_give_one_line_errors(spec: object, message: str) -> None:
    with pytest.raises(AugmentError) as info:
        build_transforms(spec)
    assert message in str(info.value)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, JetGraphError) and isinstance(info.value, ValueError)


def test_compose_refuses_what_is_not_a_transform() -> None:
    with pytest.raises(AugmentError, match="Compose: 'rotate' is not a transform"):
        Compose(["rotate"])
    assert Compose([RandomFlip()]).kind == "images" and Compose([Smear()]).kind == "particles"
