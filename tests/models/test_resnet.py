"""JetResNet on jet images of real (written and read) jets and on random tensors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import jetgraph
from jetgraph.batch import JetBatch
from jetgraph.images import ImageGrid, pixelise
from jetgraph.io.examples import write_jetclass
from jetgraph.models import JetResNet, ModelError

TINY = {"widths": (8, 16), "blocks": (1, 1), "groups": 4}


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> torch.Tensor:
    path = write_jetclass(tmp_path_factory.mktemp("resnet") / "jets.root", n_jets=12, seed=7)
    return pixelise(JetBatch.from_jets(jetgraph.read(path)), ImageGrid(32))


def tiny(seed: int = 0, **params) -> JetResNet:
    torch.manual_seed(seed)
    return JetResNet(**{**TINY, **params}).eval()


def test_default_network_on_jet_images(images):
    torch.manual_seed(0)
    model = JetResNet()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 15 and model.rep_dim == 128 and model.input_kind == "image"
    out = model(images)
    assert images.shape == (12, 3, 32, 32) and out.shape == (12, 128) and torch.isfinite(out).all()
    out.square().sum().backward()
    grad = model.stem[0].weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


@pytest.mark.parametrize("size", [(32, 32), (25, 40), (1, 1)])
def test_any_image_size_on_random_tensors(size):
    images = torch.rand(5, 3, *size, generator=torch.Generator().manual_seed(1)) * 50
    out = tiny()(images)
    assert out.shape == (5, 16) and torch.isfinite(out).all()


def test_an_image_alone_equals_the_image_in_a_batch(images):
    model = tiny()
    with torch.no_grad():
        together = model(images)
        torch.testing.assert_close(model(images[4:5])[0], together[4], atol=1e-5, rtol=1e-5)
        model.train()  # GroupNorm: no batch statistics in training either
        torch.testing.assert_close(model(images[[7, 2]]), together[[7, 2]], atol=1e-5, rtol=1e-5)


def test_log_input_is_log1p_of_the_pixels(images):
    logged, plain = tiny(log_input=True), tiny(log_input=False)
    plain.load_state_dict(logged.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(logged(images), plain(torch.log1p(images)))
        assert not torch.allclose(logged(images), plain(images), atol=1e-3)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"in_features": 0}, "in_features"),
        ({"widths": [8, 0]}, "widths"),
        ({"blocks": [1]}, "blocks"),
        ({"blocks": [1, 0]}, "blocks"),
        ({"groups": 3}, "groups"),
        ({"log_input": 1}, "log_input"),
    ],
)
def test_bad_parameters_name_themselves(params, name):
    params = {**TINY, **params}
    with pytest.raises(ModelError, match=rf"^JetResNet: {name}=") as info:
        JetResNet(**params)
    assert repr(params[name]) in str(info.value)


@pytest.mark.parametrize(
    "bad", [torch.zeros(2, 1, 8, 8), torch.zeros(3, 8, 8), torch.zeros(2, 3, 8, 8, dtype=torch.long)]
)
def test_wrong_inputs_are_refused(bad):
    with pytest.raises(ModelError, match=r"takes float images of shape \(B, 3, H, W\)"):
        tiny()(bad)
