"""Encoders by name (ENCODERS, build_encoder) and the projection head."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import jetgraph
import jetgraph.models as models
from jetgraph.batch import JetBatch
from jetgraph.errors import JetGraphError
from jetgraph.features import num_node_features
from jetgraph.images import ImageGrid, pixelise
from jetgraph.io.examples import write_jetclass
from jetgraph.models import (
    ENCODERS,
    JetResNet,
    ModelError,
    ParticleNet,
    ParticleTransformer,
    ProjectionHead,
    build_encoder,
)

SMALL = {
    "transformer": {"dim": 16, "layers": 1, "heads": 2, "ffn": 16},
    "edgeconv": {"k": 4, "channels": [8, 16]},
    "resnet": {"widths": [8], "blocks": [1], "groups": 4},
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> JetBatch:
    path = write_jetclass(tmp_path_factory.mktemp("registry") / "jets.root", n_jets=6, seed=11)
    return JetBatch.from_jets(jetgraph.read(path))


def test_the_registry_and_the_public_names():
    assert dict(ENCODERS) == {"transformer": ParticleTransformer, "edgeconv": ParticleNet, "resnet": JetResNet}
    assert set(models.__all__) >= {"ENCODERS", "ModelError", "ProjectionHead", "build_encoder"}
    assert issubclass(ModelError, JetGraphError) and issubclass(ModelError, ValueError)


@pytest.mark.parametrize("name", list(ENCODERS))
def test_every_encoder_keeps_the_interface(name, batch):
    cls = ENCODERS[name]
    assert cls.input_kind in ("graph", "image")
    signature = inspect.signature(cls.__init__)
    assert list(signature.parameters)[1] == "in_features"
    assert ENCODERS.parameters(name) == list(signature.parameters)[2:]
    assert all(signature.parameters[p].default is not inspect.Parameter.empty for p in ENCODERS.parameters(name))
    torch.manual_seed(0)
    if cls.input_kind == "graph":
        encoder, inputs = build_encoder(name, num_node_features(batch), **SMALL[name]), batch
    else:
        encoder, inputs = build_encoder(name, 3, **SMALL[name]), pixelise(batch, ImageGrid(16))
    assert isinstance(encoder, cls) and isinstance(encoder, nn.Module)
    out = encoder(inputs)
    assert out.shape == (batch.num_jets, encoder.rep_dim) and torch.isfinite(out).all()
    z = ProjectionHead(encoder.rep_dim, hidden=32, out_dim=8)(out)
    assert z.shape == (batch.num_jets, 8)


def test_encoder_parameters_of_the_transformer():
    assert ENCODERS.parameters("transformer") == [
        "dim", "layers", "heads", "ffn", "dropout", "max_particles", "pooling", "pt_weighted", "pair_bias",
    ]  # fmt: skip
    assert ENCODERS.parameters("edgeconv") == ["k", "channels", "pooling"]


def test_an_unknown_encoder_suggests_the_nearest_name():
    with pytest.raises(ModelError, match=r"^unknown encoder 'transfomer'; did you mean 'transformer'\? \(known: "):
        build_encoder("transfomer", 13)
    with pytest.raises(
        ModelError, match=r"^unknown encoder 'gnn'; expected one of 'transformer', 'edgeconv', 'resnet'$"
    ):
        ENCODERS.parameters("gnn")


def test_an_unknown_parameter_lists_the_accepted_ones():
    with pytest.raises(
        ModelError, match=r"^encoder 'edgeconv': unknown parameter 'channel'; did you mean 'channels'\?"
    ):
        build_encoder("edgeconv", 13, channel=[8])
    with pytest.raises(ModelError, match=r"unknown parameter 'width'; it takes 'k', 'channels', 'pooling'$"):
        build_encoder("edgeconv", 13, width=8)


def test_a_bad_value_through_the_registry_is_a_model_error():
    with pytest.raises(ModelError, match=r"^ParticleTransformer: heads=3; expected a divisor of dim=16"):
        build_encoder("transformer", 13, dim=16, heads=3)


@pytest.mark.parametrize(("layers", "linears"), [(1, 1), (2, 2), (3, 3)])
def test_projection_head(layers, linears):
    head = ProjectionHead(16, hidden=32, out_dim=8, layers=layers)
    kinds = [type(m) for m in head.mlp]
    assert kinds.count(nn.Linear) == linears and kinds.count(nn.GELU) == linears - 1 and kinds[-1] is nn.Linear
    h = torch.randn(5, 16, requires_grad=True)
    z = head(h)
    z.sum().backward()
    assert z.shape == (5, 8) and h.grad is not None


def test_projection_head_layers_for_probes():
    """``upto(k)``: the first k Linear layers with their activations (the last Linear without); its width."""
    head = ProjectionHead(16, hidden=32, out_dim=8, layers=3)
    h = torch.randn(5, 16)
    first = torch.nn.functional.gelu(head.mlp[0](h))
    assert torch.equal(head.upto(1)(h), first) and head.width(1) == 32
    assert torch.equal(head.upto(3)(h), head(h)) and head.width(3) == 8
    with pytest.raises(ModelError, match=r"^ProjectionHead: layer=4; expected 1 to 3"):
        head.upto(4)


@pytest.mark.parametrize("params", [{"in_dim": 0}, {"hidden": -1}, {"out_dim": 2.0}, {"layers": 0}])
def test_projection_head_refuses_bad_sizes(params):
    params = {"in_dim": 16, **params}
    (name,) = [key for key in params if key != "in_dim"] or ["in_dim"]
    with pytest.raises(ModelError, match=rf"^ProjectionHead: {name}={params[name]!r}; expected an integer >= 1$"):
        ProjectionHead(**params)
