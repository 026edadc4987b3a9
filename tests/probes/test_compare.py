"""jetgraph compare: runs probed on the same jets side by side, paired on their test jets, with their budgets."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from jetgraph.cli import app
from jetgraph.probes.compare import compare, load_result, pretraining_budget
from jetgraph.probes.metrics import ProbeError
from jetgraph.probes.tasks import probe

pytestmark = pytest.mark.filterwarnings("ignore::jetgraph.probes.metrics.ProbeWarning")  # 40 test jets: warned


@pytest.fixture(scope="module")
def two_runs(tiny_run):
    """Two runs that differ in their pretraining (seed and steps), logging every step."""
    return (
        tiny_run("ssl-a", "train.log_every=1", "train.max_steps=3"),
        tiny_run("ssl-b", "train.log_every=1", "train.max_steps=4", "train.seed=1"),
    )


def test_pretraining_budget_is_read_from_the_run(two_runs):
    a, b = two_runs
    budget = pretraining_budget(a)
    assert (budget["steps"], budget["jets"]) == (3, 96)  # 3 steps of 32 jets
    assert 0 < budget["wall_s"] < 600
    assert pretraining_budget(b)["steps"] == 4


def test_compare_pairs_the_runs_on_the_same_test_jets(two_runs, qg_file, tmp_path):
    a, b = two_runs
    for run in (a, b):
        probe(run, "qg", qg_file, label_fractions=[0.1, 1.0], bootstraps=20, supervised=False, threads=1)
    table, figure = compare([a, b], "qg", tmp_path / "cmp", bootstraps=200)
    text = table.read_text()
    assert figure.stat().st_size > 5000
    assert re.search(r"\| ssl-a \(transformer\) \| 3 \| 96 \| \d+ s \|", text), text
    assert re.search(r"\| ssl-b \(transformer\) \| 4 \| 128 \| \d+ s \|", text), text
    # the observables depend on the files and the split only: one row each, not one per run
    assert text.count("| observables (logistic) |") == 1 and text.count("| observables (GBDT) |") == 1
    first, second = load_result(a, "qg"), load_result(b, "qg")
    for name in ("linear", "mlp", "knn"):
        assert text.count(f"| ssl-a (transformer) | {name} |") == 1  # the first run: the reference of the pairs
        difference = second["probes"][name]["1.0"]["auc"]["value"] - first["probes"][name]["1.0"]["auc"]["value"]
        row = re.search(
            rf"\| ssl-b \(transformer\) \| {name} \| 100% \| \**([-+.\d]+) \[([-+.\d]+), ([-+.\d]+)\]", text
        )
        assert row, text
        value, low, high = (float(v) for v in row.groups())
        assert value == pytest.approx(difference, abs=5e-4) and low <= value <= high
    assert "68% bootstrap intervals, 200 resamples of the 40 test jets" in text
    assert "test: 40 jets (" in text and "quark = signal" in text


def test_compare_refuses_runs_probed_on_other_test_jets(two_runs, qg_file, tmp_path):
    a, b = two_runs
    probe(a, "qg", qg_file, label_fractions=[1.0], bootstraps=10, supervised=False, threads=1)
    probe(b, "qg", qg_file, label_fractions=[1.0], bootstraps=10, supervised=False, seed=1, threads=1)  # another split
    with pytest.raises(ProbeError, match=r"ssl-b/probe/qg.json: probed on .* with --seed 1, .* with --seed 0;"):
        compare([a, b], "qg", tmp_path / "cmp")
    result = CliRunner().invoke(app, ["compare", str(a), str(b), "--out", str(tmp_path / "cli")])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "compare needs the same test jets: probe every run with the same --data and --seed" in result.output
    assert not (tmp_path / "cmp").exists()


def test_graph_and_image_encoders_on_the_same_jets_in_one_table(two_runs, tiny_run, qg_file, tmp_path):
    """Which representation is better here: a transformer and a ResNet on jet images of the same jets."""
    image = tiny_run("image", "model.encoder=resnet", "model.params={widths: [8], blocks: [1], groups: 4}",
                     "augment.transforms=[rotate]", "augment.pixels=16")  # fmt: skip
    graph = two_runs[0]
    for run in (graph, image):
        probe(run, "qg", qg_file, label_fractions=[1.0], bootstraps=20, supervised=False, threads=1)
    table, figure = compare([graph, image], "qg", tmp_path / "graph_vs_image", bootstraps=100)
    text = table.read_text()
    assert "| ssl-a (transformer) |" in text and "| image (resnet) | linear | 100% |" in text
    assert figure.stat().st_size > 5000
