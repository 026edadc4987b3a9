from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from jetgraph.errors import SchemaError
from jetgraph.schema import BadJetsWarning, build, conform, four_momentum, particle_kinematics, validate


def _jets(energy_shift: float = 0.0, nan_at: int | None = None) -> ak.Array:
    pt = ak.Array([[100.0, 50.0], [30.0], [20.0, 10.0, 5.0]])
    eta = ak.Array([[0.1, -0.2], [1.0], [0.0, 0.05, -0.05]])
    phi = ak.Array([[0.3, 0.25], [-3.1], [3.1, -3.1, 3.0]])
    part = four_momentum(pt, eta, phi)
    if nan_at is not None:
        flat = ak.to_numpy(ak.flatten(part["px"])).copy()
        flat[nan_at] = np.nan
        part["px"] = ak.unflatten(flat, ak.num(pt))
    part["energy"] = part["energy"] + energy_shift
    return build(part=part, label=[0, 1, 0], label_names=["gluon", "quark"])


def test_build_computes_jet_fields_from_particles():
    jets = _jets()
    px = np.array([100 * np.cos(0.3) + 50 * np.cos(0.25)])
    py = np.array([100 * np.sin(0.3) + 50 * np.sin(0.25)])
    assert jets.jet.pt[0] == pytest.approx(np.hypot(px, py)[0], rel=1e-6)
    assert jets.jet.nparticles.tolist() == [2, 1, 3]
    # a jet of particles straddling phi = +-pi has its axis near pi, not near 0
    assert abs(jets.jet.phi[2]) > 3.0
    assert jets.jet.mass[1] == pytest.approx(0.0, abs=0.05)  # one massless particle, float32 precision
    assert jets.attrs["label_names"] == ["gluon", "quark"]
    assert str(jets.part.px.type.content) == "var * float32"
    assert str(jets.label.type.content) == "int32"


def test_four_momentum_massless_and_massive():
    p = four_momentum(np.array([10.0]), np.array([0.5]), np.array([1.0]), mass=np.array([3.0]))
    assert p["energy"][0] == pytest.approx(np.sqrt((10 * np.cosh(0.5)) ** 2 + 9))
    assert p["pz"][0] == pytest.approx(10 * np.sinh(0.5))
    y = four_momentum(np.array([10.0]), np.array([0.5]), np.array([1.0]), mass=np.array([3.0]), rapidity=True)
    mt = np.hypot(10.0, 3.0)
    assert y["energy"][0] == pytest.approx(mt * np.cosh(0.5))
    assert y["pz"][0] == pytest.approx(mt * np.sinh(0.5))


def test_particle_kinematics_relative_to_axis_wraps_phi():
    kin = particle_kinematics(_jets())
    assert ak.all(abs(kin.dphi) < 0.2)
    assert kin.pt[0].tolist() == pytest.approx([100.0, 50.0], rel=1e-5)


def test_jagged_lengths_that_disagree_raise():
    with pytest.raises(SchemaError, match=r"'part' fields .* jagged lengths that disagree"):
        build(
            part={"px": [[1.0, 2.0]], "py": [[1.0]], "pz": [[0.0, 0.0]], "energy": [[2.0, 3.0]]},
            source="f.root",
        )


def test_particles_need_all_four_momentum_components():
    with pytest.raises(SchemaError, match=r"f.root: particles need .*missing \['energy'\]"):
        build(part={"px": [[1.0]], "py": [[1.0]], "pz": [[0.0]]}, source="f.root")


def test_nan_rows_dropped_with_counted_warning():
    jets = _jets(nan_at=2)  # first particle of the second jet
    with pytest.warns(
        BadJetsWarning, match=r"f.root: dropped 1 of 3 jets: 1 with NaN/Inf in 'part.px'.*first at entry 11"
    ):
        kept = validate(jets, source="f.root", offset=10)
    assert len(kept) == 2
    assert kept.jet.nparticles.tolist() == [2, 3]


def test_nan_rows_raise_when_asked():
    with pytest.raises(SchemaError, match=r"f.root: entry 1: NaN/Inf in 'part.px'"):
        validate(_jets(nan_at=2), source="f.root", on_bad="raise")


def test_negative_energy_and_empty_jets_reported():
    jets = _jets(energy_shift=-1000.0)
    with pytest.raises(SchemaError, match=r"negative 'part.energy' \(expected >= 0 GeV\)"):
        validate(jets, on_bad="raise")
    empty = build(
        part={"px": [[1.0], []], "py": [[0.0], []], "pz": [[0.0], []], "energy": [[1.0], []]},
        jet={"pt": [1.0, 1.0], "eta": [0.0, 0.0], "phi": [0.0, 0.0], "energy": [1.0, 1.0], "mass": [0.0, 0.0]},
    )
    with pytest.raises(SchemaError, match=r"entry 1: no particles"):
        validate(empty, on_bad="raise")


def test_declared_multiplicity_must_match_particles():
    jets = build(
        part={"px": [[1.0, 1.0]], "py": [[0.0, 0.0]], "pz": [[0.0, 0.0]], "energy": [[1.0, 1.0]]},
        jet={"nparticles": [3]},
    )
    with pytest.raises(SchemaError, match=r"'jet.nparticles' is 3 but the jet has 2 particles"):
        validate(jets, source="f.root")


def test_on_bad_must_be_known():
    with pytest.raises(SchemaError, match=r"on_bad='ignore': expected 'drop' or 'raise'"):
        validate(_jets(), on_bad="ignore")


def test_replica_axis_cells_validate_and_conform():
    cells = ak.Array(
        [[[{"eta": 0.0, "phi": 0.0, "energy": 5.0, "layer": 1}], [{"eta": 0.1, "phi": 0.0, "energy": 4.0, "layer": 2}]]]
    )
    jets = build(cells={k: cells[k] for k in ("eta", "phi", "energy", "layer")})
    assert jets.jet.energy[0] == pytest.approx(5.0)  # first replica only
    assert (
        str(conform(jets).cells.type.content)
        == "var * var * {eta: float32, phi: float32, energy: float32, layer: int32}"
    )
    bad = build(
        cells={"eta": [[[0.0], [0.0]]], "phi": [[[0.0], [0.0]]], "energy": [[[1.0], [-2.0]]], "layer": [[[0], [0]]]}
    )
    with pytest.raises(SchemaError, match="negative 'cells.energy'"):
        validate(bad, on_bad="raise")


def test_conform_rejects_unknown_top_level_field():
    jets = ak.with_field(_jets(), np.ones(3), "weight")
    with pytest.raises(SchemaError, match=r"'weight' is not a field of the canonical jet"):
        conform(jets, source="out.h5")


def test_detector_jet_without_any_cell_is_empty():
    cells = {
        "eta": [[[0.0], []], [[], []]],
        "phi": [[[0.0], []], [[], []]],
        "energy": [[[1.0], []], [[], []]],
        "layer": [[[0], []], [[], []]],
    }
    jets = build(
        cells=cells,
        jet={"pt": [1.0, 1.0], "eta": [0.0, 0.0], "phi": [0.0, 0.0], "energy": [1.0, 1.0], "mass": [0.0, 0.0]},
    )
    with pytest.raises(SchemaError, match=r"entry 1: no particles"):
        validate(jets, on_bad="raise")


def test_particles_have_vector_behaviour_and_the_package_exports_its_functions(jetclass_file):
    import jetgraph
    from jetgraph.schema import jet_axis

    jets = jetgraph.read(jetclass_file)
    pt = np.hypot(ak.to_numpy(ak.flatten(jets.part.px)), ak.to_numpy(ak.flatten(jets.part.py)))
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(jets.part.pt)), pt, rtol=1e-6)
    distance = ak.to_numpy(ak.flatten(jets.part.deltaR(jet_axis(jets))))
    assert np.isfinite(distance).all() and np.median(distance) < 0.4  # particles around their jet's axis
    for name in ("pretrain", "embed", "probe", "load_config", "read", "JetGraphError", "RecipeError"):
        assert callable(getattr(jetgraph, name)) and name in jetgraph.__all__
