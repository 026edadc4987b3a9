"""Pythia 8 + FastJet jets tested as a physicist would: multiplicities, widths, cuts, matching, seeds."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from jetgraph.errors import RecipeError
from jetgraph.generate.pythia import ProcessGenerator
from jetgraph.generate.sample import load_sample
from jetgraph.schema import particle_kinematics


def _girth(jets: ak.Array) -> np.ndarray:
    """pT-weighted mean distance of the constituents from the jet axis."""
    k = particle_kinematics(jets)
    dr = np.hypot(k.deta, k.dphi)
    return ak.to_numpy(ak.sum(k.pt * dr, axis=1) / ak.sum(k.pt, axis=1))


def test_qg_multiplicities_match_the_reference_sample(qg_jets):
    quark = qg_jets[qg_jets.label == 1]
    gluon = qg_jets[qg_jets.label == 0]
    assert len(quark) == len(gluon) == 100
    assert qg_jets.attrs["label_names"] == ["gluon", "quark"]
    # The Pythia 8 q/g reference sample has mean multiplicities near 33 (quark) and 53 (gluon);
    # with 100 jets each the standard error of a mean is about 1.2.
    assert abs(ak.mean(quark.jet.nparticles) - 33) < 4.5
    assert abs(ak.mean(gluon.jet.nparticles) - 53) < 4.5


def test_gluon_jets_are_wider_and_busier(qg_jets):
    quark = qg_jets[qg_jets.label == 1]
    gluon = qg_jets[qg_jets.label == 0]
    assert ak.mean(gluon.jet.nparticles) > ak.mean(quark.jet.nparticles) + 10
    girth_q, girth_g = _girth(quark), _girth(gluon)
    standard_error = np.hypot(girth_q.std() / np.sqrt(len(girth_q)), girth_g.std() / np.sqrt(len(girth_g)))
    assert girth_g.mean() - girth_q.mean() > 3 * standard_error


def test_qg_jets_pass_the_cuts_and_conserve_momentum(qg_jets):
    pt = ak.to_numpy(qg_jets.jet.pt)
    assert pt.min() > 500 and pt.max() < 550
    energy = ak.to_numpy(ak.sum(qg_jets.part.energy, axis=1), allow_missing=False).astype(np.float64)
    pz = ak.to_numpy(ak.sum(qg_jets.part.pz, axis=1)).astype(np.float64)
    assert np.abs(0.5 * np.log((energy + pz) / (energy - pz))).max() < 1.7  # |y| < 1.7
    # the truth jet is the clustered particle-level jet: the sum of the constituents written
    for field in ("pt", "energy", "mass"):
        np.testing.assert_allclose(ak.to_numpy(qg_jets.jet[field]), ak.to_numpy(qg_jets.truth[field]), rtol=1e-4)
    jet_y = 0.5 * np.log((energy + pz) / (energy - pz))
    part = qg_jets.part
    y = 0.5 * np.log((part.energy + part.pz) / (part.energy - part.pz))
    k = particle_kinematics(qg_jets)
    distance = np.hypot(y - jet_y, k.dphi)  # anti-kT measures distance in rapidity, not pseudorapidity
    assert ak.max(distance) < 0.4 * 1.5  # R = 0.4: every constituent near the axis
    assert not np.isin(ak.to_numpy(ak.flatten(abs(qg_jets.part.pid))), [12, 14, 16]).any()
    assert ak.all(k.pt[:, :-1] >= k.pt[:, 1:])  # constituents ordered by pT, as in JetClass


def test_charges_come_from_the_particle_table(qg_jets):
    pid = ak.to_numpy(ak.flatten(qg_jets.part.pid))
    charge = ak.to_numpy(ak.flatten(qg_jets.part.charge))
    expected = {211: 1, -211: -1, 321: 1, -321: -1, 2212: 1, -2212: -1, 22: 0, 130: 0, 2112: 0, 11: -1, -11: 1}
    for code, value in expected.items():
        assert np.all(charge[pid == code] == value), code
    assert set(np.unique(charge)) <= {-1.0, 0.0, 1.0}
    assert (charge != 0).mean() > 0.4  # jets are mostly charged pions


@pytest.fixture(scope="module")
def top_and_qcd():
    top = ProcessGenerator(load_sample("top"), "top").jets(30, seed=5)
    qcd = ProcessGenerator(load_sample("qcd"), "qcd").jets(30, seed=5)
    return top, qcd


def test_top_jets_are_matched_and_heavy(top_and_qcd):
    top, qcd = top_and_qcd
    assert ak.all(top.label == 1) and ak.all(qcd.label == 0)
    assert top.attrs["label_names"] == qcd.attrs["label_names"] == ["qcd", "top"]
    for jets in (top, qcd):
        pt, eta = ak.to_numpy(jets.jet.pt), ak.to_numpy(jets.jet.eta)
        assert pt.min() > 550 and pt.max() < 650 and np.abs(eta).max() < 2
    top_mass = ak.to_numpy(top.jet.mass)
    # a contained hadronic top: jet mass near m_top = 173 GeV, well above typical QCD jets
    assert 150 < np.median(top_mass) < 200
    assert np.median(top_mass) > np.median(ak.to_numpy(qcd.jet.mass)) + 40


def test_a_chunk_depends_on_its_seed_alone():
    generator = ProcessGenerator(load_sample("qg"), "quark")
    first = generator.jets(8, seed=42)
    generator.jets(5, seed=7)  # whatever the worker made before
    again = generator.jets(8, seed=42)
    other = generator.jets(8, seed=43)
    assert ak.array_equal(first, again)
    assert not ak.array_equal(first.jet.pt, other.jet.pt)


def test_a_rejected_pythia_setting_names_the_process(tmp_path):
    recipe = tmp_path / "mine.yaml"
    recipe.write_text(
        "label_names: [a]\n"
        "pythia: ['Beams:eCM = 14000.']\n"
        "processes: {a: {pythia: ['HardQCD:allx = on']}}\n"
        "jets: {pt: [100., 200.]}\n"
    )
    with pytest.raises(RecipeError, match=r"process 'a'.*HardQCD:allx"):
        ProcessGenerator(load_sample(recipe), "a")


def _hard_parton(events: ak.Array) -> np.ndarray:
    """(px, py, pz) of each event's outgoing hard-process quark or gluon."""
    prt = events.prt
    parton = prt[(abs(prt.status) == 23) & ((abs(prt.id) <= 6) | (prt.id == 21))]
    return np.stack([ak.to_numpy(ak.firsts(getattr(parton.p, c))) for c in ("px", "py", "pz")], axis=1)


def test_a_second_shower_keeps_the_hard_parton_and_redoes_the_rest():
    """Re-simulation: the same parton (flavour and momentum), a different shower and hadronisation."""
    generator = ProcessGenerator(load_sample("qg"), "gluon", showers=2)
    hard, again = np.array([11, 12, 13, 14]), np.array([101, 102, 103, 104])
    first, second = generator._showered(hard, again, 0), generator._showered(hard, again, 1)
    np.testing.assert_array_equal(_hard_parton(first), _hard_parton(second))
    assert len(np.unique(_hard_parton(first)[:, 0])) == 4  # four different hard events
    stable = [ak.to_numpy(ak.sum(e.prt.status > 0, axis=1)) for e in (first, second)]
    assert (stable[0] != stable[1]).sum() >= 3, stable  # multiplicities of the final states differ
    repeat = generator._showered(hard, again, 0)
    np.testing.assert_array_equal(ak.to_numpy(ak.num(repeat.prt)), ak.to_numpy(ak.num(first.prt)))


def test_showered_jets_come_in_events_with_their_number():
    generator = ProcessGenerator(load_sample("qg"), "quark", showers=2)
    jets = generator.jets(8, seed=3)
    assert jets.jet.event.to_numpy().tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    # the first shower's jet passes the window; the second is the hardest jet of its own shower
    assert ak.all((jets.jet.pt[0::2] > 500) & (jets.jet.pt[0::2] < 550))
    assert ak.all(jets.jet.pt[1::2] > 250)
    with pytest.raises(Exception, match="7 jets cannot be cut into events of 2 showers"):
        generator.jets(7, seed=3)
