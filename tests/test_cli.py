"""The CLI through typer's runner: output, --json, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from jetgraph import __version__
from jetgraph.cli import app

runner = CliRunner()


def test_inspect_prints_counts(jetclass_file):
    result = runner.invoke(app, ["inspect", str(jetclass_file)])
    assert result.exit_code == 0, result.output
    assert "recipe     jetclass (format 'ntuple', detected)" in result.output
    assert "tree: TTree, 300 entries" in result.output
    assert "jets       300 valid of 300 stored (statistics from all of them)" in result.output
    assert "part: px py pz energy charge d0 dz pid" in result.output


def test_inspect_json_for_scripts(jetclass_file, jetclass_raw):
    result = runner.invoke(app, ["inspect", "--json", "--max-jets", "200", str(jetclass_file)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["jets"] == 300 and summary["scanned"] == 200
    label = [jetclass_raw["first"][f"label_{n}"].astype(bool) for n in ("QCD", "Hbb")]
    first_200_qcd = int(label[0].sum()) + int(jetclass_raw["second"]["label_QCD"][:50].astype(bool).sum())
    assert summary["labels"]["QCD"] == first_200_qcd
    assert sum(summary["labels"].values()) == 200
    assert summary["fields"]["jet"][:3] == ["pt", "eta", "phi"]


def test_inspect_several_files_json_is_a_list(jetclass_file, tmp_path):
    import jetgraph

    other = jetgraph.write(jetgraph.read(jetclass_file)[:10], tmp_path / "own.h5")
    result = runner.invoke(app, ["inspect", "--json", str(jetclass_file), str(other)])
    assert [s["jets"] for s in json.loads(result.output)] == [300, 10]
    assert [s["recipe"] for s in json.loads(result.output)] == ["jetclass", "jetgraph"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["inspect", "/no/such.root"], "error: /no/such.root: no such file\n"),
        (
            ["inspect", "--recipe", "jetclas", "{jetclass}"],
            "error: recipe 'jetclas' is not a built-in recipe or a .yaml file; did you mean 'jetclass'",
        ),
    ],
)
def test_errors_are_one_line_exit_2(jetclass_file, args, message):
    args = [a.format(jetclass=jetclass_file) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.output.startswith(message)
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["embed"], "error: Missing option '--data' / '-d'. (see 'jetgraph embed --help')"),
        (["compare"], "error: Missing argument 'RUN...'. (see 'jetgraph compare --help')"),
        (
            ["inspect", "--max-jets", "many", "x.root"],
            "error: Invalid value for '--max-jets': Input should be a valid integer",
        ),
        (["pretrain", "--bogus"], "error: No such option: --bogus"),
        (["frobnicate"], "error: No such command 'frobnicate'."),
    ],
)
def test_usage_errors_are_one_line_too(args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(message) and "╭" not in result.output


def test_a_file_no_recipe_reads_says_which_option_takes_a_recipe(tmp_path):
    import h5py

    with h5py.File(tmp_path / "mine.h5", "w") as handle:
        handle["whatever"] = [1, 2, 3]
    result = runner.invoke(app, ["images", str(tmp_path / "mine.h5"), "--out", str(tmp_path / "x.h5")])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "--recipe my_recipe.yaml" in result.output and "--set data.recipe=" in result.output
    assert "pass recipe=" not in result.output
    listed = runner.invoke(app, ["inspect", str(tmp_path / "mine.h5")])  # inspect lists what it holds instead
    assert listed.exit_code == 0 and "whatever: (3,) int64" in listed.output


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read permission")
def test_an_unreadable_file_is_one_line(jetclass_file):
    jetclass_file.chmod(0o000)
    try:
        result = runner.invoke(app, ["inspect", str(jetclass_file)])
    finally:
        jetclass_file.chmod(0o600)
    assert (
        result.exit_code == 2 and result.output == f"error: {jetclass_file}: cannot read the file (Permission denied)\n"
    )


def test_debug_shows_the_exception():
    result = runner.invoke(app, ["--debug", "inspect", "/no/such.root"])
    assert result.exit_code == 1
    assert "FileFormatError" in repr(result.exception)


def test_bad_jets_warn_on_stderr_and_are_counted(tmp_path):
    import numpy as np

    import jetgraph

    jets = jetgraph.build(
        part={"px": [[1.0], [np.nan]], "py": [[0.0], [0.0]], "pz": [[0.0], [0.0]], "energy": [[1.0], [1.0]]}
    )
    path = jetgraph.write(jets, tmp_path / "nan.h5")
    result = runner.invoke(app, ["inspect", "--json", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["dropped"] == 1
    assert json.loads(result.output)["jets"] == 2
    text = runner.invoke(app, ["inspect", str(path)]).output
    assert "jets       1 valid of 2 stored; 1 dropped as invalid" in text  # what jetgraph.read returns comes first
    with pytest.warns(jetgraph.schema.BadJetsWarning):
        valid = len(jetgraph.read(path))
    assert json.loads(runner.invoke(app, ["inspect", "--json", str(path)]).output)["valid"] == valid == 1


def test_version_and_recipes():
    assert runner.invoke(app, ["--version"]).output.strip() == f"jetgraph {__version__}"
    listing = runner.invoke(app, ["recipes"]).output
    assert "jetclass" in listing and "jetgraph" in listing
