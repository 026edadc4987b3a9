"""jetgraph probe and compare end to end: a real (briefly trained) encoder, real Pythia jets, files and figures."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import torch
from threadpoolctl import threadpool_info
from typer.testing import CliRunner

import jetgraph
from jetgraph.cli import app
from jetgraph.probes.compare import compare
from jetgraph.probes.metrics import ProbeError, ProbeWarning
from jetgraph.probes.tasks import format_table, limited_threads, load_probe_config, probe

# 200 jets make a test set of 40: every probe warns about it (what it warns is tested with pytest.warns)
pytestmark = pytest.mark.filterwarnings("ignore::jetgraph.probes.metrics.ProbeWarning")


@pytest.fixture(scope="module")
def run_dir(tiny_run):
    return tiny_run()


@pytest.fixture
def run_copy(run_dir, tmp_path):
    """A copy of ``run_dir`` without its probe results, for a test that probes other files (a probe of other
    files than the run's earlier probe is refused without ``replace``)."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy, ignore=shutil.ignore_patterns("probe"))
    return copy


def _valid_json(path: Path) -> dict:
    """The file's JSON, refusing the Infinity and NaN that json.dumps writes by default (not JSON)."""

    def refuse(constant: str) -> None:
        raise AssertionError(f"{path}: {constant} is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def test_probes_of_a_barely_trained_encoder_see_what_its_inputs_allow(run_dir, qg_file):
    with pytest.warns(ProbeWarning) as caught:
        results = probe(run_dir, "qg", qg_file, label_fractions=[0.1, 1.0], bootstraps=50, threads=1)
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
    assert results["label_names"] == ["gluon", "quark"]  # from the file, as generate wrote them
    jets = results["jets"]
    assert (jets["train"], jets["test"], jets["labels_per_fraction"]) == (120, 40, {"0.1": 12, "1.0": 120})
    assert list(jets["test_per_class"]) == ["gluon", "quark"] and sum(jets["test_per_class"].values()) == 40
    # too few test jets, and 12 labels at 10%: warned about, kept in the JSON, marked in the table
    said = [str(w.message) for w in caught]
    assert said == results["warnings"] and len(said) >= 2 and all("\n" not in line for line in said)
    assert any("test set holds 40 jets (fewer than 100)" in line for line in said)
    assert any("training labels per fraction 10%: 12 (fewer than 20)" in line for line in said)
    table = format_table(results)
    quarks, gluons = jets["test_per_class"]["quark"], jets["test_per_class"]["gluon"]
    assert (
        f"test: 40 jets ({quarks} quark = signal, {gluons} gluon = background); "
        "training labels per fraction: 10%: 12, 100%: 120" in table
    )
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| probe")]
    assert len(rows) == 7 and all(row.count("*") >= 3 for row in rows)  # both AUCs and 1/ε_B of every probe
    assert "ε_S: quark efficiency, ε_B: gluon efficiency" in table
    assert (
        "* not a result, it rests on too few jets: a test set of 40 jets (fewer than 100); training labels 12" in table
    )
    auc = results["probes"]["linear"]["1.0"]["auc"]
    # quark and gluon jets differ in multiplicity and width, which the particle features carry
    assert auc["value"] > 0.7 and auc["low"] <= auc["value"] <= auc["high"]
    assert results["probes"]["observables (logistic)"]["1.0"]["auc"]["value"] > 0.7
    versus = results["versus_observables"]  # paired with the better observable baseline on these test jets
    observables = {name: results["probes"][name]["1.0"]["auc"]["value"] for name in versus_names(results)}
    assert versus["baseline"] == max(observables, key=observables.get) and versus["fraction"] == 1.0
    assert set(versus["probes"]) == {"linear", "mlp", "knn", "supervised (scratch)", "fine-tuned"}
    linear = versus["probes"]["linear"]
    assert linear["value"] == pytest.approx(auc["value"] - observables[versus["baseline"]])
    assert linear["low"] <= linear["value"] <= linear["high"] and linear["n"] > 40
    assert f"AUC minus the better observable baseline here ({versus['baseline']}), 100% of labels" in table
    assert f"- linear: {linear['value']:+.4f} [{linear['low']:+.4f}, {linear['high']:+.4f}]*, " in table
    written = _valid_json(run_dir / "probe" / "qg.json")
    assert written["probes"]["linear"]["1.0"]["auc"] == auc and written["label_fractions"] == [0.1, 1.0]
    assert written == results
    with np.load(written["scores"]) as kept:  # what compare pairs: every probe's score of every test jet
        assert list(kept["probe"]) == list(results["probes"]) and kept["score"].shape == (7, 40)
        assert kept["test_index"].shape == (40,) and set(kept["label"]) == {0, 1}
        assert kept["score"].dtype == np.float64 and Path(written["scores"]).stat().st_size < 10_000
    for figure in written["figures"]:
        with open(figure, "rb") as handle:
            assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    assert len(list((run_dir / "probe").glob("embedding-*.h5"))) == 1  # embedded once, then cached


def versus_names(results: dict) -> list[str]:
    return [name for name in results["probes"] if name.startswith("observables")]


def test_shuffled_labels_give_chance(run_copy, qg_file, tmp_path, capsys):
    jets = jetgraph.read(qg_file)
    shuffled = jetgraph.write(
        jetgraph.build(
            part={f: jets.part[f] for f in jets.part.fields},
            jet={f: jets.jet[f] for f in jets.jet.fields},
            label=np.random.default_rng(0).permutation(jets.label.to_numpy()),
        ),
        tmp_path / "shuffled.root",
    )
    capsys.readouterr()
    results = probe(run_copy, "qg", shuffled, label_fractions=[1.0], bootstraps=20, supervised=False, threads=1)
    assert capsys.readouterr().err == ""  # progress=False: quiet
    for name in ("linear", "observables (logistic)"):
        assert abs(results["probes"][name]["1.0"]["auc"]["value"] - 0.5) < 0.25, name  # 40 test jets: sd ~0.09


def test_compare_puts_runs_side_by_side_and_the_cli_prints_tables(run_dir, qg_file, tmp_path):
    config = tmp_path / "probe.yaml"
    config.write_text(
        f"task: qg\ndata: {qg_file}\nlabel_fractions: [0.5]\nsupervised: false\nbootstraps: 20\nthreads: 1\n"
    )
    arguments = ["probe", str(run_dir), "--config", str(config), "--label-fractions", "1"]  # the option wins
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    assert "| linear |" in result.output and "qg_roc.png" in result.output and "AUC (100% of labels)" in result.output
    assert "fine-tuned" not in result.output
    table, figure = compare([run_dir, run_dir], "qg", tmp_path / "cmp")
    text = table.read_text()
    assert text.count(f"| {run_dir} (transformer) | linear |") == 1 and figure.stat().st_size > 5000
    assert text.count(f"| {run_dir} (transformer) #2 | linear |") == 2  # the same run twice: told apart
    assert f"| {run_dir} (transformer) #2 | linear | 100% | +0.000 [+0.000, +0.000] |" in text
    result = CliRunner().invoke(app, ["compare", str(run_dir), "--out", str(tmp_path / "cmp2")])
    assert result.exit_code == 0 and "observables (GBDT)" in result.output


def test_probe_errors_are_one_line(run_dir, run_copy, qg_file, tmp_path):
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
    result = CliRunner().invoke(app, ["probe", str(run_copy), "--data", str(quarks)])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert f"{quarks}: --task qg needs jets of two classes; these hold class(es) [0]" in result.output


def test_energy_probes_against_the_calibrated_cell_sum(run_dir, tmp_path):
    from jetgraph.generate.detector import load_detector, simulate
    from jetgraph.io.examples import write_jetclass

    jets = jetgraph.read(write_jetclass(tmp_path / "j.root", n_jets=500, seed=6))
    simulated = simulate(jets, load_detector("default"), 1, np.random.default_rng(2))
    truth = ak.zip({k: simulated.jet[k] for k in ("pt", "eta", "phi", "energy", "mass")})  # the particle-level jet
    detector = jetgraph.write(ak.with_field(simulated, truth, "truth"), tmp_path / "d.root")
    results = probe(run_dir, "energy", detector, threads=1)
    assert results["jets"]["test"] == 100 and set(results["probes"]) == {"linear", "mlp", "calibrated cell sum"}
    calibrated = np.array(results["probes"]["calibrated cell sum"]["response"])
    assert np.all(np.abs(calibrated - 1) < 0.1), calibrated  # calibrated on the training jets: response ~ 1
    assert set(results["other_targets"]) == {"pt", "mass"}
    assert len(results["figures"]) == 3 and all(Path(f).stat().st_size > 5000 for f in results["figures"])
    assert "| calibrated cell sum |" in format_table(results)


def test_supervised_references_can_be_limited_to_few_labels(run_dir, qg_file, tmp_path):
    results = probe(
        run_dir, "qg", qg_file, label_fractions=[0.1, 1.0], bootstraps=10, supervised_fractions=[0.1], seed=3, threads=1
    )
    assert set(results["probes"]["fine-tuned"]) == {"0.1"} and set(results["probes"]["linear"]) == {"0.1", "1.0"}
    assert "| fine-tuned | 0." in format_table(results) and format_table(results).count("–") == 4
    table, _ = compare([run_dir], "qg", tmp_path / "cmp")
    assert "fine-tuned" not in table.read_text() and "| linear |" in table.read_text()
    with pytest.raises(ProbeError, match="supervised_fractions"):
        probe(run_dir, "qg", qg_file, label_fractions=[0.1, 1.0], supervised_fractions=[0.5])
    with pytest.raises(ProbeError, match=r"supervised_epochs: 0; expected a whole number of epochs, at least 1"):
        probe(run_dir, "qg", qg_file, label_fractions=[0.1, 1.0], supervised_epochs=0)


def test_a_rejection_without_passing_background_is_null_and_the_json_is_valid(run_copy, qg_file, tmp_path):
    jets = jetgraph.read(qg_file)
    wide = jets.jet.nparticles.to_numpy() > np.median(jets.jet.nparticles.to_numpy())  # an observable tells them apart
    relabelled = jetgraph.write(
        jetgraph.build(
            part={f: jets.part[f] for f in jets.part.fields},
            jet={f: jets.jet[f] for f in jets.jet.fields},
            label=wide.astype(np.int64),
            label_names=["narrow", "wide"],
        ),
        tmp_path / "wide.root",
    )
    with pytest.warns(ProbeWarning, match="passing narrow jets for"):
        results = probe(run_copy, "qg", relabelled, label_fractions=[1.0], bootstraps=20, supervised=False, threads=1)
    written = _valid_json(run_copy / "probe" / "qg.json")
    text = (run_copy / "probe" / "qg.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    rejections = [m["1.0"][f"rejection_at_{e}"] for m in written["probes"].values() for e in ("0.3", "0.5")]
    nothing_passes = [r for r in rejections if r["value"] is None]
    assert nothing_passes and all(r["passing_background"] == 0 for r in nothing_passes)
    assert all(r["value"] is None or r["passing_background"] > 0 for r in rejections)
    table = format_table(results)
    background = results["jets"]["test_per_class"]["narrow"]
    if any(m["1.0"]["rejection_at_0.5"]["value"] is None for m in written["probes"].values()):
        assert f"> {background} (no narrow jet passes)*" in table
    assert "ε_S: wide efficiency, ε_B: narrow efficiency" in table


def test_format_table_marks_what_rests_on_too_few_jets():
    def metrics(auc: float, rejection: float | None, passing: float, constant: bool = False) -> dict:
        m = {"auc": {"value": auc, "low": auc - 0.05, "high": auc + 0.05}}
        if constant:
            m["auc"]["constant_score"] = True
        for e in ("0.3", "0.5"):
            m[f"rejection_at_{e}"] = {"value": rejection, "low": 1.0, "high": None, "passing_background": passing}
        return m

    results = {
        "task": "qg",
        "label_fractions": [0.01, 1.0],
        "label_names": ["gluon", "quark"],
        "jets": {
            "train": 480,
            "test": 400,
            "test_per_class": {"gluon": 190, "quark": 210},
            "labels_per_fraction": {"0.01": 4, "1.0": 480},
        },
        "probes": {
            "linear": {"0.01": metrics(0.61, 3.0, 60.0), "1.0": metrics(0.81, 12.5, 15.2)},
            "knn": {"0.01": metrics(0.55, 2.0, 90.0), "1.0": metrics(0.90, 38.0, 5.0)},
            "observables (GBDT)": {"0.01": metrics(0.5, 1.0, 95.0, constant=True), "1.0": metrics(0.8, None, 0.0)},
        },
    }
    lines = format_table(results).splitlines()
    assert (
        lines[0]
        == "test: 400 jets (210 quark = signal, 190 gluon = background); training labels per fraction: 1%: 4, 100%: 480"
    )
    assert lines[4] == "| linear | 0.610 [0.560, 0.660]* | 0.810 [0.760, 0.860] | 12.5 |"
    assert lines[5] == "| knn | 0.550 [0.500, 0.600]* | 0.900 [0.850, 0.950] | 38.0 (from 5 gluon jets)* |"
    assert (
        lines[6]
        == "| observables (GBDT) | 0.500 [0.450, 0.550]* | 0.800 [0.750, 0.850] | > 190 (no gluon jet passes)* |"
    )
    assert lines[-1] == (
        "* not a result, it rests on too few jets: training labels 4 at 1% (fewer than 20); "
        "1/ε_B from fewer than 10 passing gluon jets; one score for every test jet (nothing learnt)."
    )
    difference = {"value": 0.01, "low": 0.004, "high": 0.016, "n": 200}
    results["versus_observables"] = {
        "baseline": "observables (GBDT)",
        "fraction": 1.0,
        "probes": {
            "linear": difference,
            "knn": {**difference, "low": -0.00002},  # a bound that rounds to zero keeps its sign
            "mlp": {**difference, "value": -0.02, "low": -0.03, "high": -0.01},
            "fine-tuned": {"value": -0.00004, "low": None, "high": None},  # no resample held both classes
        },
    }
    assert format_table(results).splitlines()[-7:-2] == [
        "AUC minus the better observable baseline here (observables (GBDT)), 100% of labels, paired on the same"
        " test jets, with a 68% bootstrap interval:",
        "- linear: +0.0100 [+0.0040, +0.0160], above",
        "- knn: +0.0100 [-0.0000, +0.0160], a tie",
        "- mlp: -0.0200 [-0.0300, -0.0100], below",
        "- fine-tuned: +0.0000 [–, –], no interval",
    ]
    results["jets"]["test"] = 80
    assert "| 0.810 [0.760, 0.860]* | 12.5* |" in format_table(results)
    assert "- linear: +0.0100 [+0.0040, +0.0160]*, above" in format_table(results)
    assert "a test set of 80 jets (fewer than 100)" in format_table(results)
    results["jets"]["test"], results["jets"]["labels_per_fraction"]["1.0"] = 400, 12  # too few labels at 100%
    assert "- linear: +0.0100 [+0.0040, +0.0160]*, above" in format_table(results)


def test_threads_are_held_for_the_probe_and_restored_and_progress_names_each_stage(run_dir, qg_file, capsys):
    torch.set_num_threads(2)
    try:
        with limited_threads(1):
            assert torch.get_num_threads() == 1
            assert all(pool["num_threads"] == 1 for pool in threadpool_info())  # OpenMP and BLAS of sklearn, torch
        assert torch.get_num_threads() == 2
        capsys.readouterr()
        probe(run_dir, "qg", qg_file, label_fractions=[0.5, 1.0], bootstraps=10, threads=1, progress=True,
              supervised_fractions=[0.5], supervised_epochs=1)  # fmt: skip
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)  # as tests/conftest.py has it
    err = capsys.readouterr().err
    for stage in ("read jets", "embed", "linear, 50% of labels", "observables (GBDT), 100% of labels",
                  "supervised (scratch), 50% of labels", "fine-tuned, 50% of labels", "figures"):  # fmt: skip
        assert stage in err, stage
    assert "fine-tuned, 100% of labels" not in err
    with pytest.raises(ProbeError, match=r"^--threads 0; expected a positive number of threads"):
        probe(run_dir, "qg", qg_file, threads=0)


def test_a_probe_of_other_files_keeps_the_earlier_result_unless_told_to_replace_it(
    run_copy, qg_file, tmp_path, monkeypatch
):
    run = run_copy
    other = Path(shutil.copyfile(qg_file, tmp_path / "other.root"))
    quick = {"label_fractions": [1.0], "supervised": False, "bootstraps": 10, "threads": 1}
    monkeypatch.chdir(Path(qg_file).parent)
    probe(run, "qg", Path(qg_file).name, **quick)  # by a relative path
    monkeypatch.chdir(tmp_path)
    probe(run, "qg", qg_file, **quick, seed=1)  # the same file from another folder: a rerun, replaced
    assert json.loads((run / "probe" / "qg.json").read_text())["seed"] == 1
    earlier = (run / "probe" / "qg.json").read_bytes()
    cached = sorted((run / "probe").glob("embedding-*.h5"))
    expected = (
        f"{run}/probe/qg.json holds the probe of {os.path.realpath(qg_file)}; probing {other} would replace it:"
        " give --replace, or probe a copy of the run without its probe/ folder"
    )
    with pytest.raises(ProbeError, match=re.escape(expected)):
        probe(run, "qg", other, **quick)
    arguments = ["probe", str(run), "--data", str(other), "--label-fractions", "1", "--no-supervised", "--threads", "1"]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "give --replace" in result.output
    assert (run / "probe" / "qg.json").read_bytes() == earlier  # kept, byte for byte
    assert sorted((run / "probe").glob("embedding-*.h5")) == cached  # refused before embedding the other file
    jets = jetgraph.read(qg_file)  # a bad file is named for what is wrong with it, not for the earlier result
    quarks = jetgraph.write(jets[jets.label == 0], tmp_path / "quarks.root")
    with pytest.raises(ProbeError, match="needs jets of two classes"):
        probe(run, "qg", quarks, **quick)
    result = CliRunner().invoke(app, [*arguments, "--replace"])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "probe" / "qg.json").read_text())["files"] == [str(other)]


@pytest.mark.parametrize("damaged", ["{", "[]", "{}", '{"files": null}', '{"files_absolute": [1], "files": "a.root"}'])
def test_an_earlier_result_that_does_not_say_what_it_probed_is_replaced(run_copy, qg_file, damaged):
    (run_copy / "probe").mkdir()
    (run_copy / "probe" / "qg.json").write_text(damaged)
    results = probe(run_copy, "qg", qg_file, label_fractions=[1.0], supervised=False, bootstraps=10, threads=1)
    assert json.loads((run_copy / "probe" / "qg.json").read_text())["files"] == results["files"] == [str(qg_file)]


def test_a_result_from_before_files_absolute_is_kept_too(run_copy, qg_file, tmp_path, monkeypatch):
    (run_copy / "probe").mkdir()
    (run_copy / "probe" / "qg.json").write_text(json.dumps({"files": ["test.root"]}))  # as typed, relative
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ProbeError, match=re.escape(f"holds the probe of {os.path.realpath(tmp_path / 'test.root')};")):
        probe(run_copy, "qg", qg_file, label_fractions=[1.0], supervised=False, bootstraps=10, threads=1)
