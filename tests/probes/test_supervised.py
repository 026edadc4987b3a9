"""The supervised references learn: an encoder trained on labels that the particles determine separates them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

import jetgraph
from jetgraph.batch import JetBatch
from jetgraph.config import AugmentConfig
from jetgraph.features import num_node_features
from jetgraph.inputs import Inputs
from jetgraph.io.examples import write_jetclass
from jetgraph.models import build_encoder
from jetgraph.probes.classify import fit_score
from jetgraph.probes.metrics import ProbeError
from jetgraph.probes.supervised import supervised_baseline, train_classifier


def test_a_transformer_trained_from_scratch_learns_a_multiplicity_cut(tmp_path):
    jets = JetBatch.from_jets(jetgraph.read(write_jetclass(tmp_path / "j.root", n_jets=600, seed=3)))
    multiplicity = (jets.ptr[1:] - jets.ptr[:-1]).numpy()
    labels = (multiplicity > np.median(multiplicity)).astype(np.int64)  # what the particles say, nothing else
    train, test = np.arange(400), np.arange(400, 600)
    torch.manual_seed(0)
    encoder = build_encoder("transformer", num_node_features(jets), dim=16, layers=1, heads=2, ffn=32, pooling="sum")
    inputs = Inputs(AugmentConfig(), "graph")
    scores = train_classifier(encoder, inputs, jets, labels, train, test, epochs=5, seed=0)
    assert scores.shape == (200,) and ((scores >= 0) & (scores <= 1)).all()
    assert roc_auc_score(labels[test], scores) > 0.9


def test_fine_tuning_leaves_the_pretrained_encoder_untouched(tmp_path):
    jets = JetBatch.from_jets(jetgraph.read(write_jetclass(tmp_path / "j.root", n_jets=64, seed=4)))
    encoder = build_encoder("transformer", num_node_features(jets), dim=8, layers=1, heads=2, ffn=16)
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    labels = np.arange(64) % 2
    train_classifier(encoder, Inputs(AugmentConfig(), "graph"), jets, labels, np.arange(48), np.arange(48, 64))
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())


def test_a_step_budget_trains_exactly_that_many_steps(tmp_path):
    jets = JetBatch.from_jets(jetgraph.read(write_jetclass(tmp_path / "j.root", n_jets=40, seed=5)))
    encoder = build_encoder("transformer", num_node_features(jets), dim=8, layers=1, heads=2, ffn=16)
    calls = []
    encoder.register_forward_pre_hook(lambda module, args: calls.append(module.training))
    labels = np.arange(40) % 2
    train_classifier(encoder, Inputs(AugmentConfig(), "graph"), jets, labels, np.arange(30), np.arange(30, 40), steps=7)
    assert calls.count(True) == 7  # 7 training batches (several epochs of 30 jets), then one evaluation
    assert calls.count(False) == 1


def test_a_head_from_the_probe_starts_as_the_linear_probe(tmp_path):
    """LP-FT before its first step: the encoder's frozen representation read by the cross-validated linear probe."""
    jets = JetBatch.from_jets(jetgraph.read(write_jetclass(tmp_path / "j.root", n_jets=80, seed=7)))
    multiplicity = (jets.ptr[1:] - jets.ptr[:-1]).numpy()
    labels = (multiplicity > np.median(multiplicity)).astype(np.int64)
    torch.manual_seed(1)
    encoder = build_encoder("transformer", num_node_features(jets), dim=8, layers=1, heads=2, ffn=16, pooling="sum")
    inputs = Inputs(AugmentConfig(), "graph")
    train, test = np.arange(60), np.arange(60, 80)
    scores = train_classifier(encoder, inputs, jets, labels, train, test, steps=0, seed=2, head_from_probe=True)
    encoder.eval()
    with torch.no_grad():
        representation = encoder(inputs.plain(jets)).numpy()
    probe = fit_score("linear", representation[train], labels[train], representation[test], seed=2)
    np.testing.assert_allclose(scores, probe, rtol=1e-4, atol=1e-5)
    assert roc_auc_score(labels[test], scores) > 0.8  # a sum-pooled random transformer counts particles


def test_fewer_than_two_training_jets_are_refused(tmp_path):
    jets = JetBatch.from_jets(jetgraph.read(write_jetclass(tmp_path / "j.root", n_jets=8, seed=6)))
    encoder = build_encoder("transformer", num_node_features(jets), dim=8, layers=1, heads=2, ffn=16)
    with pytest.raises(ProbeError, match="at least 2 training jets; got 1"):
        train_classifier(
            encoder, Inputs(AugmentConfig(), "graph"), jets, np.arange(8) % 2, np.arange(1), np.arange(4, 8)
        )


def test_a_supervised_baseline_trains_on_every_label_for_its_budget_and_scores_the_test_jets(tmp_path):
    jets = JetBatch.from_jets(jetgraph.read(write_jetclass(tmp_path / "j.root", n_jets=120, seed=8)))
    multiplicity = jets.ptr[1:] - jets.ptr[:-1]
    jets = jets.replace(label=(multiplicity > multiplicity.median()).long())
    encoder = build_encoder("transformer", num_node_features(jets), dim=8, layers=1, heads=2, ffn=16, pooling="sum")
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    inputs = Inputs(AugmentConfig(), "graph")
    result = supervised_baseline(encoder, inputs, jets.take(slice(0, 90)), jets.take(slice(90, 120)), 1.0, seed=1)
    assert result.scores.shape == (30,) and ((result.scores >= 0) & (result.scores <= 1)).all()
    assert result.steps == max(1, int(1.0 / result.step_s)) and 0 < result.wall_s < 30
    assert result.jets_seen == result.steps * 22  # 90 labelled jets: batches of a quarter
    assert all(torch.equal(before[k], v) for k, v in encoder.state_dict().items())  # a copy was trained
    with pytest.raises(ProbeError, match="budget_s=0"):
        supervised_baseline(encoder, inputs, jets, jets, 0)


def test_a_supervised_baseline_trains_on_shower_pairs_beside_ordinary_test_jets(tmp_path):
    jets = JetBatch.from_jets(jetgraph.read(write_jetclass(tmp_path / "j.root", n_jets=40, seed=9)))
    paired = jets.take(slice(0, 30))
    paired = paired.replace(jet_event=torch.arange(30) // 2)  # what a --showers 2 file's jets carry
    encoder = build_encoder("transformer", num_node_features(jets), dim=8, layers=1, heads=2, ffn=16, pooling="sum")
    result = supervised_baseline(encoder, Inputs(AugmentConfig(), "graph"), paired, jets.take(slice(30, 40)), 0.2)
    assert result.scores.shape == (10,)
    assert "jet_event" in paired  # the caller's jets are left as they were
