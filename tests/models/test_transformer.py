"""ParticleTransformer on real (written and read) jets: shapes, gradients, invariances, pooling, pair bias."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import jetgraph
from jetgraph.batch import JetBatch
from jetgraph.features import hardest_first, num_node_features, to_dense
from jetgraph.io.examples import write_jetclass
from jetgraph.models import ModelError, ParticleTransformer, count_parameters, pair_features, transformer

TINY = {"dim": 16, "layers": 2, "heads": 2, "ffn": 32}
VARIANTS = {
    "mean": {},
    "sum": {"pooling": "sum"},
    "cls": {"pooling": "cls"},
    "pt_weighted": {"pt_weighted": True},
    "pair_bias": {"pair_bias": True},
    "cls_pair_bias": {"pooling": "cls", "pair_bias": True},
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> JetBatch:
    path = write_jetclass(tmp_path_factory.mktemp("transformer") / "jets.root", n_jets=24, seed=3)
    return JetBatch.from_jets(jetgraph.read(path))


def tiny(batch: JetBatch, seed: int = 0, **params) -> ParticleTransformer:
    torch.manual_seed(seed)
    return ParticleTransformer(num_node_features(batch), **{**TINY, **params}).eval()


def permuted_within_jets(batch: JetBatch, seed: int = 0) -> JetBatch:
    """The same jets with each jet's particles in a random order (jets stay in place)."""
    noise = torch.rand(batch.num_nodes, generator=torch.Generator().manual_seed(seed))
    order = torch.argsort(batch.batch.double() + noise.double())  # by jet, random within a jet
    assert torch.equal(batch.batch[order], batch.batch) and not torch.equal(order, torch.arange(batch.num_nodes))
    return batch.replace(**{name: batch[name][order] for name in batch.node_fields})


@pytest.mark.parametrize("variant", VARIANTS)
def test_shape_finite_and_gradient_reaches_the_embedding(batch, variant):
    model = tiny(batch, **VARIANTS[variant]).train()
    out = model(batch)
    assert out.shape == (batch.num_jets, model.rep_dim) == (24, 16)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    for parameter in (model.embed.weight, *([model.pair_embed[0].weight] if model.pair_bias else [])):
        assert parameter.grad is not None and torch.isfinite(parameter.grad).all() and parameter.grad.abs().sum() > 0


@pytest.mark.parametrize("variant", VARIANTS)
def test_invariant_to_the_order_of_particles_within_jets(batch, variant):
    model = tiny(batch, **VARIANTS[variant])
    with torch.no_grad():
        expected = model(batch)
        for seed in (1, 2):
            torch.testing.assert_close(model(permuted_within_jets(batch, seed)), expected, atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("variant", VARIANTS)
def test_a_jet_alone_equals_the_jet_among_bigger_ones(batch, variant):
    model = tiny(batch, **VARIANTS[variant])
    counts = batch.ptr[1:] - batch.ptr[:-1]
    smallest = int(counts.argmin())
    assert counts[smallest] < counts.max()  # so it is padded in the batch
    with torch.no_grad():
        together = model(batch)
        alone = model(batch.take(torch.tensor([smallest])))
        some = model(batch.take(torch.tensor([5, smallest, 2])))
    torch.testing.assert_close(alone[0], together[smallest], atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(some, together[[5, smallest, 2]], atol=2e-5, rtol=1e-5)


def plain_forward(model: ParticleTransformer, batch: JetBatch) -> torch.Tensor:
    """The transformer written out plainly: every jet padded to the widest, attention as an explicit softmax.

    The reference for the model's packed tokens and multiplicity-sorted attention chunks: they are a speed-up
    and must not change what is computed.
    """
    x, mask, kinematics = model._dense(batch)
    h, keys = model.embed(x), mask
    bias = model._bias(kinematics, mask) if model.pair_bias else 0.0
    if model.pooling == "cls":
        h = torch.cat([model.cls_token.expand(h.size(0), 1, -1), h], dim=1)
        keys = torch.nn.functional.pad(keys, (1, 0), value=True)
        bias = torch.nn.functional.pad(bias, (1, 0, 1, 0)) if model.pair_bias else 0.0
    jets, width, dim = h.shape
    heads = model.heads
    attend = keys.clone()
    attend[:, 0] = True  # a jet without particles attends to its zero slot
    for block in model.blocks:
        qkv = block.qkv(block.norm1(h)) * keys[..., None]  # padded slots hold zeros
        q, k, v = qkv.view(jets, width, 3, heads, dim // heads).permute(2, 0, 3, 1, 4)
        scores = q @ k.transpose(-1, -2) / math.sqrt(dim // heads) + bias
        weights = scores.masked_fill(~attend[:, None, None, :], -math.inf).softmax(-1)
        h = h + block.proj((weights @ v).transpose(1, 2).reshape(jets, width, dim))
        h = h + block.ffn(block.norm2(h))
    h = model.norm(h)
    if model.pooling == "cls":
        return h[:, 0]
    pooled = kinematics[..., 0] * mask if model.pt_weighted else mask.float()
    if model.pt_weighted or model.pooling == "mean":
        pooled = pooled / pooled.sum(1, keepdim=True).clamp(min=1e-30 if model.pt_weighted else 1)
    return (pooled[..., None] * h).sum(1)


@pytest.mark.parametrize("variant", VARIANTS)
def test_packed_chunked_attention_computes_the_plain_transformer(batch, variant, monkeypatch):
    monkeypatch.setattr(transformer, "ATTENTION_CHUNK", 5)  # 24 jets: five chunks of different widths
    model, reference = tiny(batch, **VARIANTS[variant]), tiny(batch, **VARIANTS[variant])
    # and six jets without particles: sorted last, they fill a chunk of their own
    empty = batch.select(torch.arange(int(batch.ptr[6]), batch.num_nodes))
    for jets in (batch, empty):
        model.zero_grad(), reference.zero_grad()
        out, expected = model(jets), plain_forward(reference, jets)
        torch.testing.assert_close(out, expected, atol=1e-6 * float(expected.detach().abs().max()), rtol=1e-5)
        out.square().sum().backward()
        expected.square().sum().backward()
        # float32 rounding on the scale of the largest gradient (some, like the pair MLP's last bias, are
        # zero but for rounding: a bias shared by a whole row of scores does not change its softmax)
        scale = max(float(p.grad.abs().max()) for p in reference.parameters())
        for (name, got), want in zip(model.named_parameters(), reference.parameters(), strict=True):
            assert float((got.grad - want.grad).abs().max()) <= 2e-6 * scale, name


def test_max_particles_keeps_the_hardest_particles(batch):
    model = tiny(batch, max_particles=10, pair_bias=True)
    uncut = tiny(batch, max_particles=None, pair_bias=True)
    uncut.load_state_dict(model.state_dict())
    order = hardest_first(batch)
    rank = torch.arange(batch.num_nodes) - batch.ptr[batch.batch[order]]
    hardest = batch.select(torch.sort(order[rank < 10]).values)
    assert int((hardest.ptr[1:] - hardest.ptr[:-1]).max()) == 10 < int((batch.ptr[1:] - batch.ptr[:-1]).min())
    with torch.no_grad():
        torch.testing.assert_close(model(batch), uncut(hardest), atol=2e-5, rtol=1e-5)
        h, mask = model.particles(batch)
    assert h.shape == (24, 10, 16) and mask.all()


@pytest.mark.parametrize("pooling", ["mean", "sum"])
def test_pooling_over_the_real_particles(batch, pooling):
    model = tiny(batch, pooling=pooling)
    with torch.no_grad():
        h, mask = model.particles(batch)
        out = model(batch)
    counts = (batch.ptr[1:] - batch.ptr[:-1]).clamp(max=128)
    assert mask.shape == h.shape[:2] and torch.equal(mask.sum(1), counts)
    expected = (h * mask.unsqueeze(-1)).sum(1)
    if pooling == "mean":
        expected = expected / counts.unsqueeze(1)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_cls_token_is_the_representation(batch):
    model = tiny(batch, pooling="cls")
    with torch.no_grad():
        out = model(batch)
        h, mask = model.particles(batch)
    assert h.shape[1] == mask.shape[1] == int((batch.ptr[1:] - batch.ptr[:-1]).max())
    assert not torch.allclose(out, (h * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True), atol=1e-3)


def test_pt_weighted_pooling_is_the_pt_fraction_weighted_sum(batch):
    """IR safety at the pooling: each particle counts with z = pT / sum pT, so a zero-pT particle adds nothing."""
    model = tiny(batch, pt_weighted=True)
    pt = batch.pt.clone()
    pt[batch.ptr[:-1] + 1] = 0.0  # the second particle of every jet has zero pT
    soft = batch.replace(pt=pt)
    with torch.no_grad():
        h, mask = model.particles(soft)
        out = model(soft)
    dense_pt, _ = to_dense(soft.pt, soft, 128)
    z = dense_pt[:, : h.size(1)] / soft.pt.new_zeros(soft.num_jets).index_add_(0, soft.batch, soft.pt).unsqueeze(1)
    assert torch.allclose(z.sum(1), torch.ones(soft.num_jets)) and (z[~mask] == 0).all()
    assert int((z == 0).sum()) == int((~mask).sum()) + soft.num_jets  # padding and the zero-pT particles
    torch.testing.assert_close(out, (z.unsqueeze(-1) * h).sum(1), atol=1e-5, rtol=1e-5)


def test_pair_bias_with_a_zero_bias_is_the_plain_transformer(batch):
    biased = tiny(batch, seed=1, pair_bias=True)
    plain = tiny(batch, seed=2)
    missing, unexpected = plain.load_state_dict(biased.state_dict(), strict=False)
    assert not missing and all(key.startswith("pair_embed.") for key in unexpected)
    with torch.no_grad():
        assert not torch.allclose(biased(batch), plain(batch), atol=1e-3)
        biased.pair_embed[-1].weight.zero_()
        biased.pair_embed[-1].bias.zero_()
        torch.testing.assert_close(biased(batch), plain(batch), atol=1e-5, rtol=1e-5)


def test_pair_features_match_four_vectors_in_float64(batch):
    jets = batch.take(torch.tensor([0, 1]))
    (pt, eta, phi, energy), mask = zip(
        *(to_dense(jets[name], jets) for name in ("pt", "eta", "phi", "energy")), strict=True
    )
    features = pair_features(pt, eta, phi, energy)
    n = int(mask[0].sum(1).min())
    assert features.shape == (2, pt.size(1), pt.size(1), 4) and torch.isfinite(features).all()
    torch.testing.assert_close(features, features.transpose(1, 2))  # symmetric in i, j
    p = {k: v.double().numpy() for k, v in zip(("pt", "eta", "phi", "energy"), (pt, eta, phi, energy), strict=True)}
    px, py, pz = p["pt"] * np.cos(p["phi"]), p["pt"] * np.sin(p["phi"]), p["pt"] * np.sinh(p["eta"])
    momentum2 = px**2 + py**2 + pz**2
    e = np.sqrt(momentum2 + np.maximum(p["energy"] ** 2 - momentum2, 0))  # massless when E < |p| by rounding
    for jet in range(2):
        for i in range(n):
            for j in range(i + 1, n):
                dphi = (p["phi"][jet, i] - p["phi"][jet, j] + np.pi) % (2 * np.pi) - np.pi
                delta = math.hypot(p["eta"][jet, i] - p["eta"][jet, j], dphi)
                low, high = sorted((p["pt"][jet, i], p["pt"][jet, j]))
                m2 = (e[jet, i] + e[jet, j]) ** 2 - sum((q[jet, i] + q[jet, j]) ** 2 for q in (px, py, pz))
                expected = [np.log(delta), np.log(low * delta), np.log(low / (low + high)), np.log(max(m2, 1e-8))]
                got = features[jet, i, j].double().numpy()
                assert np.allclose(got[:3], expected[:3], atol=1e-4), (jet, i, j)
                if m2 > 1e-2:  # above the float32 rounding of E^2 - p^2
                    assert abs(got[3] - expected[3]) < 1e-2, (jet, i, j, got[3], expected[3])
    assert (features[..., 2] <= math.log(0.5) + 1e-6).all()  # z = min / sum <= 1/2


def test_a_jet_without_particles_gives_a_finite_output_and_changes_no_other(batch):
    empty = batch.select(torch.arange(int(batch.ptr[1]), batch.num_nodes))  # jet 0 loses its particles
    assert int(empty.ptr[1]) == 0
    for variant in VARIANTS.values():
        model = tiny(batch, **variant)
        with torch.no_grad():
            out = model(empty)
            torch.testing.assert_close(out[1:], model(batch)[1:], atol=2e-5, rtol=1e-5)
        assert torch.isfinite(out).all()


def test_dropout_acts_in_training_only(batch):
    model = tiny(batch, dropout=0.2)
    with torch.no_grad():
        assert torch.equal(model(batch), model(batch))
        model.train()
        assert not torch.equal(model(batch), model(batch))


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"dim": 0}, "dim"),
        ({"dim": 16, "heads": 3}, "heads"),
        ({"layers": 2.5}, "layers"),
        ({"ffn": -1}, "ffn"),
        ({"dropout": 1.0}, "dropout"),
        ({"max_particles": 0}, "max_particles"),
        ({"pooling": "max"}, "pooling"),
        ({"pooling": "cls", "pt_weighted": True}, "pt_weighted"),
        ({"pair_bias": "yes"}, "pair_bias"),
        ({"in_features": True}, "in_features"),
    ],
)
def test_bad_parameters_name_themselves(params, name):
    params = {"in_features": 13, **params}
    with pytest.raises(ModelError, match=rf"^ParticleTransformer: {name}=") as info:
        ParticleTransformer(**params)
    assert repr(params[name]) in str(info.value) and "\n" not in str(info.value)


def test_a_batch_with_other_features_is_refused(batch):
    with pytest.raises(ModelError, match=r"in_features=7 .* gives 13 \(log_pt, "):
        ParticleTransformer(7, **TINY)(batch)
    with pytest.raises(ModelError, match="takes a JetBatch; got Tensor"):
        ParticleTransformer(7, **TINY)(torch.zeros(3, 7))


def test_jetclr_size_builds_and_runs(batch):
    torch.manual_seed(0)
    dim, layers, ffn = 1000, 4, 1000
    model = ParticleTransformer(num_node_features(batch), dim=dim, layers=layers, heads=4, ffn=ffn, max_particles=50)
    count = count_parameters(model)
    assert 1e7 < count < 1e8
    assert abs(count - layers * (4 * dim**2 + 2 * dim * ffn)) < 0.01 * count  # 24M: the big matrices dominate
    with torch.no_grad():
        out = model(batch.take(slice(0, 8)))
    assert out.shape == (8, 1000) and model.rep_dim == 1000 and torch.isfinite(out).all()
