"""Sample YAML: the built-ins load, and a bad user sample fails with the file, the key and the fix."""

from __future__ import annotations

import pytest

from jetgraph.errors import RecipeError
from jetgraph.generate.sample import load_sample, sample_dict

GOOD = """
label_names: [gluon, quark]
pythia: ["Beams:eCM = 14000."]
processes:
  quark: {pythia: ["WeakBosonAndParton:qg2gmZq = on"], hard_partons: [1, 2, 3]}
jets: {algorithm: antikt, radius: 0.4, pt: [500., 550.], rapidity_max: 1.7}
"""


@pytest.mark.parametrize(("name", "radius", "labels"), [("qg", 0.4, 2), ("top", 0.8, 2), ("qcd", 0.8, 2)])
def test_builtin_samples_load(name, radius, labels):
    sample = load_sample(name)
    assert sample.name == name and sample.jets.radius == radius and len(sample.label_names) == labels
    assert sample.description


def test_qg_follows_the_reference_definition():
    sample = load_sample("qg")
    assert sample.label("quark") == 1 and sample.label("gluon") == 0
    assert sample.jets.pt == (500.0, 550.0) and sample.jets.rapidity_max == 1.7
    assert sample.exclude_pid == (12, 14, 16)
    assert "WeakBosonAndParton:qg2gmZq = on" in sample.processes["quark"].pythia
    assert "WeakBosonAndParton:qqbar2gmZg = on" in sample.processes["gluon"].pythia


def test_user_sample_by_path(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(GOOD)
    sample = load_sample(path)
    assert sample.name == "mine" and sample.processes["quark"].hard_partons == (1, 2, 3)
    assert sample_dict(sample)["jets"]["pt"] == (500.0, 550.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("radius: 0.4", "radiuss: 0.4"), r"unknown key 'jets.radiuss'; did you mean 'radius'"),
        (("radius: 0.4", "radius: wide"), r"jets.radius: 'wide'; expected a number"),
        (("pt: [500., 550.]", "pt: [550., 500.]"), r"jets.pt is \[550.0, 500.0\]; expected \[min, max\]"),
        (("algorithm: antikt", "algorithm: siscone"), r"jets.algorithm is 'siscone'; accepted"),
        (("  quark:", "  top:"), r"process 'top' is not one of label_names"),
        (("jets:", "jet:"), r"unknown key 'jet'"),
    ],
)
def test_bad_user_sample_names_file_and_key(tmp_path, change, message):
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(RecipeError, match=message) as caught:
        load_sample(path)
    assert str(path) in str(caught.value)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(RecipeError, match="no such sample file"):
        load_sample(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("jets: [unclosed")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_sample(broken)
