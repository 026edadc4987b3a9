"""ParticleNet (dynamic EdgeConv) on real (written and read) jets: shapes, gradients, invariances."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn import EdgeConv

import jetgraph
from jetgraph.batch import JetBatch
from jetgraph.features import num_node_features
from jetgraph.io.examples import write_jetclass
from jetgraph.models import ModelError, ParticleNet, edgeconv

TINY = {"k": 4, "channels": (8, 16)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> JetBatch:
    path = write_jetclass(tmp_path_factory.mktemp("edgeconv") / "jets.root", n_jets=16, seed=5)
    return JetBatch.from_jets(jetgraph.read(path))


def tiny(batch: JetBatch, seed: int = 0, **params) -> ParticleNet:
    torch.manual_seed(seed)
    return ParticleNet(num_node_features(batch), **{**TINY, **params}).eval()


def permuted_within_jets(batch: JetBatch, seed: int = 0) -> JetBatch:
    noise = torch.rand(batch.num_nodes, generator=torch.Generator().manual_seed(seed))
    order = torch.argsort(batch.batch.double() + noise.double())
    assert torch.equal(batch.batch[order], batch.batch) and not torch.equal(order, torch.arange(batch.num_nodes))
    return batch.replace(**{name: batch[name][order] for name in batch.node_fields})


def test_the_split_first_layer_computes_torch_geometric_edgeconv():
    torch.manual_seed(0)
    block = edgeconv._EdgeBlock(6, 8)
    reference = EdgeConv(block.conv.nn, aggr="mean")  # the same MLP, applied to [x_i, x_j - x_i] per edge
    h = torch.randn(30, 6, requires_grad=True)
    edges = torch.randint(0, 25, (2, 120))  # nodes 25..29 receive nothing: their mean is 0
    ours, theirs = block.conv(h, edges), reference(h, edges)
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)
    assert torch.equal(ours[25:], torch.zeros(5, 8))
    grads = [torch.autograd.grad(out.square().sum(), [h, *block.conv.parameters()]) for out in (ours, theirs)]
    for mine, expected in zip(*grads, strict=True):
        torch.testing.assert_close(mine, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("pooling", ["mean", "sum", "max"])
def test_shape_finite_and_gradient_reaches_the_embedding(batch, pooling):
    model = tiny(batch, pooling=pooling).train()
    out = model(batch)
    assert out.shape == (batch.num_jets, model.rep_dim) == (16, 16) and torch.isfinite(out).all()
    out.square().sum().backward()
    grad = model.embed.weight.grad
    assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_three_blocks_by_default_with_the_last_width_as_representation(batch):
    model = ParticleNet(num_node_features(batch))
    assert model.rep_dim == 256 and len(model.blocks) == 3 and model.k == 16
    with torch.no_grad():
        assert model(batch.take(slice(0, 3))).shape == (3, 256)


@pytest.mark.parametrize("pooling", ["mean", "sum", "max"])
def test_invariant_to_the_order_of_particles_within_jets(batch, pooling):
    model = tiny(batch, pooling=pooling)
    with torch.no_grad():
        expected = model(batch)
        for seed in (1, 2):
            torch.testing.assert_close(model(permuted_within_jets(batch, seed)), expected, atol=2e-5, rtol=1e-5)


def test_each_jet_is_independent_of_the_others_in_its_batch(batch):
    model = tiny(batch)
    with torch.no_grad():
        together = model(batch)
        torch.testing.assert_close(model(batch.take(torch.tensor([3])))[0], together[3], atol=2e-5, rtol=1e-5)
        torch.testing.assert_close(
            model(batch.take(torch.tensor([9, 0, 4]))), together[[9, 0, 4]], atol=2e-5, rtol=1e-5
        )


def test_small_jets_fewer_particles_than_k(batch):
    rank = torch.arange(batch.num_nodes) - batch.ptr[batch.batch]
    small = batch.select(torch.nonzero(rank <= batch.batch % 3).squeeze(1))  # jets of 1, 2, 3 particles
    assert (small.ptr[1:] - small.ptr[:-1]).tolist() == [1, 2, 3] * 5 + [1]
    model = tiny(batch, k=16)
    with torch.no_grad():
        out = model(small)
    assert out.shape == (16, 16) and torch.isfinite(out).all()


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"k": 0}, "k"),
        ({"k": 2.0}, "k"),
        ({"channels": []}, "channels"),
        ({"channels": [8, 0]}, "channels"),
        ({"channels": "64"}, "channels"),
        ({"pooling": "attention"}, "pooling"),
        ({"in_features": 0}, "in_features"),
    ],
)
def test_bad_parameters_name_themselves(params, name):
    params = {"in_features": 13, **params}
    with pytest.raises(ModelError, match=rf"^ParticleNet: {name}=") as info:
        ParticleNet(**params)
    assert repr(params[name]) in str(info.value)


def test_channels_from_yaml_lists_and_wrong_features_refused(batch):
    model = ParticleNet(num_node_features(batch), channels=[8, 8, 12])
    assert model.channels == (8, 8, 12) and model.rep_dim == 12
    with pytest.raises(ModelError, match="in_features=5"):
        ParticleNet(5, **TINY)(batch)
