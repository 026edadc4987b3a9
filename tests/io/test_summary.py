"""jetgraph inspect on files no recipe reads: the listing, and a recipe template that reads the file."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml
from typer.testing import CliRunner

import jetgraph
from jetgraph.cli import app
from jetgraph.io.examples import write_jetclass, write_nanoaod
from jetgraph.io.native import write_ttree
from jetgraph.io.summary import recipe_template


@pytest.fixture(scope="module")
def renamed_nano(tmp_path_factory):
    """NanoAOD-style events whose branches no built-in recipe knows (Cand_* instead of PFCands_*)."""
    folder = tmp_path_factory.mktemp("renamed")
    jets = jetgraph.read(write_jetclass(folder / "jc.root", n_jets=40, seed=2))
    nano = write_nanoaod(jets, folder / "nano.root", jets_per_event=2)
    data = uproot.open(nano)["Events"].arrays()
    rename = lambda name: name.replace("PFCands", "Cand").replace("JetPFCands", "JetCand")  # noqa: E731
    branches = {rename(f): data[f] for f in data.fields if not f.startswith("n")}
    return write_ttree(folder / "events.root", "Events", branches), jets


def test_a_file_no_recipe_reads_is_listed_with_types_and_depth(renamed_nano):
    path, _ = renamed_nano
    result = CliRunner().invoke(app, ["inspect", str(path)])
    assert result.exit_code == 0, result.output
    assert "no built-in recipe reads this file; what it holds:" in result.output
    assert "Events: TTree, 20 entries" in result.output
    assert "Cand_pt" in result.output and "float[]" in result.output and "a list per entry" in result.output
    assert "--recipe-template > my.yaml" in result.output
    listed = CliRunner().invoke(app, ["inspect", "--json", str(path)])
    assert json_of(listed)["listing"]["Events"]["branches"]["Cand_pt"]["depth"] == 1


def json_of(result):
    import json

    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_the_recipe_template_reads_the_file(renamed_nano, tmp_path):
    path, jets = renamed_nano
    text = CliRunner().invoke(app, ["inspect", str(path), "--recipe-template"]).output
    recipe = yaml.safe_load(text)
    assert recipe["jets"] == "per_event" and recipe["fields"]["part.pt"] == "Cand_pt"
    assert recipe["constituents"] == {"jet_index": "JetCand_jetIdx", "particle_index": "JetCand_pFCandsIdx"}
    assert recipe["fields"]["part.pid"] == "Cand_pdgId" and recipe["label"]["branch"].startswith("Jet_")
    (tmp_path / "guessed.yaml").write_text(text)
    got = jetgraph.read(path, recipe=str(tmp_path / "guessed.yaml"))
    assert len(got) == len(jets)  # the template's select (pT > 20 GeV, |eta| < 2.5) keeps these 500 GeV jets
    np.testing.assert_allclose(ak.to_numpy(got.jet.pt), ak.to_numpy(jets.jet.pt))
    assert got.jet.event.tolist() == np.repeat(np.arange(20), 2).tolist()


def test_a_one_jet_per_entry_template_names_the_one_hot_labels(jetclass_file):
    recipe = yaml.safe_load(recipe_template(jetclass_file))
    assert "jets" not in recipe and recipe["fields"]["part.px"] == "part_px"
    assert recipe["label"]["one_hot"]["QCD"] == "label_QCD" and len(recipe["label"]["one_hot"]) == 10
    assert len(jetgraph.read(jetclass_file, recipe=recipe)) == 300
