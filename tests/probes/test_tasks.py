"""jetgraph probe and compare end to end: a real (briefly trained) encoder, real Pythia jets, files and figures."""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
from typer.testing import CliRunner

import jetgraph
from jetgraph.cli import app
from jetgraph.config import load_config
from jetgraph.probes.compare import compare
from jetgraph.probes.metrics import ProbeError
from jetgraph.probes.tasks import format_table, load_probe_config, probe
from jetgraph.train import pretrain

TINY = [
    "model.params={dim: 16, layers: 1, heads: 2, ffn: 32, max_particles: 48}",
    "model.head={hidden: 32, out_dim: 16}",
    "augment.transforms=[rotate, smear]",
    "train.progress=false",
    "train.max_steps=2",
    "train.batch_size=32",
    "data.val=[]",
]


@pytest.fixture(scope="module")
def run_dir(qg_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("probe") / "run"
    pretrain(load_config(None, [*TINY, f"data.train={qg_file}"]), out)
    return out


def test_probes_of_a_barely_trained_encoder_see_what_its_inputs_allow(run_dir, qg_file):
    results = probe(run_dir, "qg", qg_file, label_fractions=[0.1, 1.0], bootstraps=50)
    assert set(results["probes"]) == {
        "linear",
        "mlp",
        "knn",
        "observables (logistic)",
        "observables (GBDT)",
        "supervised (scratch)",
        "fine-tuned",
    }
    for name in ("supervised (scratch)", "fine-tuned"):  # that they learn: tests/probes/test_supervised.py
        assert 0 <= results["probes"][name]["1.0"]["auc"]["value"] <= 1, name
    assert results["jets"] == {"train": 120, "test": 40}
    auc = results["probes"]["linear"]["1.0"]["auc"]
    # quark and gluon jets differ in multiplicity and width, which the particle features carry
    assert auc["value"] > 0.7 and auc["low"] <= auc["value"] <= auc["high"]
    assert results["probes"]["observables (logistic)"]["1.0"]["auc"]["value"] > 0.7
    written = json.loads((run_dir / "probe" / "qg.json").read_text())
    assert written["probes"]["linear"]["1.0"]["auc"] == auc and written["label_fractions"] == [0.1, 1.0]
    for figure in written["figures"]:
        with open(figure, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert len(list((run_dir / "probe").glob("embedding-*.h5"))) == 1  # embedded once, then cached


def test_shuffled_labels_give_chance(run_dir, qg_file, tmp_path):
    jets = jetgraph.read(qg_file)
    shuffled = jetgraph.write(
        jetgraph.build(
            part={f: jets.part[f] for f in jets.part.fields},
            jet={f: jets.jet[f] for f in jets.jet.fields},
            label=np.random.default_rng(0).permutation(jets.label.to_numpy()),
        ),
        tmp_path / "shuffled.root",
    )
    results = probe(run_dir, "qg", shuffled, label_fractions=[1.0], bootstraps=20, supervised=False)
    for name in ("linear", "observables (logistic)"):
        assert abs(results["probes"][name]["1.0"]["auc"]["value"] - 0.5) < 0.25, name  # 40 test jets: sd ~0.09


def test_compare_puts_runs_side_by_side_and_the_cli_prints_tables(run_dir, qg_file, tmp_path):
    config = tmp_path / "probe.yaml"
    config.write_text(f"task: qg\ndata: {qg_file}\nlabel_fractions: [0.5]\nsupervised: false\nbootstraps: 20\n")
    arguments = ["probe", str(run_dir), "--config", str(config), "--label-fractions", "1"]  # the option wins
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "| linear |" in result.output and "qg_roc.png" in result.output and "AUC (1 of labels)" in result.output
    assert "fine-tuned" not in result.output
    table, figure = compare([run_dir, run_dir], "qg", tmp_path / "cmp")
    text = table.read_text()
    assert text.count("| run (transformer) | linear |") == 2 and figure.stat().st_size > 5000
    result = CliRunner().invoke(app, ["compare", str(run_dir), "--out", str(tmp_path / "cmp2")])
    assert result.exit_code == 0 and "observables (GBDT)" in result.output


def test_probe_errors_are_one_line(run_dir, qg_file, tmp_path):
    with pytest.raises(ProbeError, match="--task 'tagging'; expected one of"):
        probe(run_dir, "tagging", qg_file)
    with pytest.raises(ProbeError, match="--label-fractions"):
        probe(run_dir, "qg", qg_file, label_fractions=[0.0])
    (tmp_path / "bad.yaml").write_text("taks: qg\n")
    with pytest.raises(ProbeError, match="unknown key 'taks'; did you mean 'task'"):
        load_probe_config(tmp_path / "bad.yaml")
    with pytest.raises(ProbeError, match="no probe/top.json; run `jetgraph probe"):
        compare([run_dir], "top", tmp_path)
    result = CliRunner().invoke(app, ["probe", str(run_dir), "--task", "energy", "--data", str(qg_file)])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert f"{qg_file}: --task energy needs detector-level jets (cells) with a truth jet" in result.output
    jets = jetgraph.read(qg_file)
    quarks = jetgraph.write(jets[jets.label == 0], tmp_path / "quarks.root")
    result = CliRunner().invoke(app, ["probe", str(run_dir), "--data", str(quarks)])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert f"{quarks}: --task qg needs jets of two classes; these hold class(es) [0]" in result.output


def test_energy_probes_against_the_calibrated_cell_sum(run_dir, tmp_path):
    from jetgraph.generate.detector import load_detector, simulate
    from jetgraph.io.examples import write_jetclass

    jets = jetgraph.read(write_jetclass(tmp_path / "j.root", n_jets=500, seed=6))
    simulated = simulate(jets, load_detector("default"), 1, np.random.default_rng(2))
    truth = ak.zip({k: simulated.jet[k] for k in ("pt", "eta", "phi", "energy", "mass")})  # the particle-level jet
    detector = jetgraph.write(ak.with_field(simulated, truth, "truth"), tmp_path / "d.root")
    results = probe(run_dir, "energy", detector)
    assert results["jets"]["test"] == 100 and set(results["probes"]) == {"linear", "mlp", "calibrated cell sum"}
    calibrated = np.array(results["probes"]["calibrated cell sum"]["response"])
    assert np.all(np.abs(calibrated - 1) < 0.1), calibrated  # calibrated on the training jets: response ~ 1
    assert set(results["other_targets"]) == {"pt", "mass"}
    assert len(results["figures"]) == 3 and all(Path(f).stat().st_size > 5000 for f in results["figures"])
    assert "| calibrated cell sum |" in format_table(results)


def test_supervised_references_can_be_limited_to_few_labels(run_dir, qg_file, tmp_path):
    results = probe(
        run_dir, "qg", qg_file, label_fractions=[0.1, 1.0], bootstraps=10, supervised_fractions=[0.1], seed=3
    )
    assert set(results["probes"]["fine-tuned"]) == {"0.1"} and set(results["probes"]["linear"]) == {"0.1", "1.0"}
    assert "| fine-tuned | 0." in format_table(results) and format_table(results).count("–") == 4
    table, _ = compare([run_dir], "qg", tmp_path / "cmp")
    assert "fine-tuned" not in table.read_text() and "| linear |" in table.read_text()
    with pytest.raises(ProbeError, match="supervised_fractions"):
        probe(run_dir, "qg", qg_file, label_fractions=[0.1, 1.0], supervised_fractions=[0.5])
    with pytest.raises(ProbeError, match=r"supervised_epochs: 0; expected a whole number of epochs, at least 1"):
        probe(run_dir, "qg", qg_file, label_fractions=[0.1, 1.0], supervised_epochs=0)
