"""Shipped encoders: made from a run, small, weights only, and used as ``--model NAME`` by embed and probe."""

from __future__ import annotations

import h5py
import pytest
import torch
import yaml
from typer.testing import CliRunner

import jetgraph.pretrained as pretrained
from jetgraph import runs
from jetgraph.cli import app
from jetgraph.config import load_config
from jetgraph.generate import generate
from jetgraph.train import pretrain
from tests.test_runs import TINY, _one_line_error


@pytest.fixture(scope="module")
def top_jets(tmp_path_factory):
    """60 labelled top and QCD jets (generated with Pythia; a few seconds)."""
    path = tmp_path_factory.mktemp("top") / "top_qcd.root"
    return generate("top_qcd", 60, path, seed=3, chunk_size=60, progress=False).path


@pytest.fixture(scope="module")
def tiny_run(top_jets, tmp_path_factory):
    """A two-step run on the top jets (checkpoints at steps 1 and 2)."""
    run = tmp_path_factory.mktemp("runs") / "run"
    overrides = [*TINY, f"data.train={top_jets}", "train.max_steps=2", "train.checkpoint_every=1"]
    pretrain(load_config(None, overrides), run)
    return run


@pytest.fixture(scope="module")
def shipped(tiny_run, tmp_path_factory):
    """A model shipped from the tiny run into a scratch folder that stands in for the package's."""
    folder = tmp_path_factory.mktemp("package")
    return pretrained.ship(tiny_run, "tiny_top", "# tiny_top\n\nA two-step test model.\n", into=folder)


@pytest.fixture
def package(shipped, monkeypatch):
    monkeypatch.setattr(pretrained, "HERE", shipped.parent)
    return shipped


def test_a_shipped_model_holds_weights_and_a_config_without_local_paths(shipped, top_jets):
    (checkpoint,) = runs.checkpoints(shipped)
    state = torch.load(checkpoint, weights_only=True)
    assert set(state) == {"step", "encoder", "head", "in_features"}  # no optimiser, no RNG states
    config = yaml.safe_load((shipped / runs.CONFIG).read_text())
    assert config["data"]["train"] == [] and config["data"]["val"] == []  # paths of the machine it was made on
    assert (shipped / pretrained.CARD).read_text().startswith("# tiny_top")
    encoder, _, info = runs.load_encoder(shipped)
    assert info["step"] == 2 and encoder.rep_dim == 16


def test_embed_with_a_shipped_model_equals_embed_with_its_run(package, top_jets, tmp_path):
    cli = CliRunner()
    jets = ["--data", str(top_jets)]
    by_name = cli.invoke(app, ["embed", "--model", "tiny_top", *jets, "--out", str(tmp_path / "a.h5")])
    by_run = cli.invoke(app, ["embed", str(package), *jets, "--out", str(tmp_path / "b.h5")])
    assert by_name.exit_code == 0 and by_run.exit_code == 0, by_name.output + by_run.output
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        assert a["representation"].shape == (60, 16)
        assert (a["representation"][:] == b["representation"][:]).all()


def test_probe_with_a_shipped_model_works_on_a_copy_and_leaves_the_package_alone(package, top_jets, tmp_path):
    before = sorted(p.name for p in package.rglob("*"))
    settings = {"task": "top", "data": [str(top_jets)], "supervised": False, "label_fractions": [1.0], "threads": 1}
    (tmp_path / "top.yaml").write_text(yaml.safe_dump(settings))  # the jets come from --config, not --data
    out = tmp_path / "mine"
    result = CliRunner().invoke(
        app, ["probe", "--model", "tiny_top", "--config", str(tmp_path / "top.yaml"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert (out / "probe" / "top.json").is_file() and runs.checkpoints(out)
    assert sorted(p.name for p in package.rglob("*")) == before
    assert pretrained.copy_model("tiny_top", out) == out and (out / "probe" / "top.json").is_file()  # kept, reused


def test_the_models_command_lists_each_model_with_its_card(package):
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0 and "tiny_top" in result.output and "A two-step test model." in result.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["embed", "--model", "tiny_tpo", "--data", "x.root", "--out", "e.h5"], "did you mean 'tiny_top'"),
        (["embed", "RUN", "--model", "tiny_top", "--data", "x.root", "--out", "e.h5"], "a RUN directory or --model"),
        (["embed", "--data", "x.root", "--out", "e.h5"], "a RUN directory or --model"),
        (["probe", "--model", "tiny_top", "--task", "top"], "--model tiny_top: give the labelled jets"),
        (["probe", "RUN", "--out", "somewhere"], "--out goes with --model"),
    ],
)
def test_model_mistakes_are_one_line(package, args, expected):
    _one_line_error(CliRunner().invoke(app, args), expected)


def test_a_copy_never_overwrites_something_else_or_other_weights(package, tiny_run, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(runs.RunError, match="--out .*taken: exists and is not a copy of model 'tiny_top'"):
        pretrained.copy_model("tiny_top", tmp_path / "taken")
    copy = pretrained.copy_model("tiny_top", tmp_path / "copy")
    assert not list(tmp_path.glob("*.partial"))
    older = runs.checkpoints(tiny_run)[0]  # the same config, the weights of step 1: another model
    (checkpoint,) = runs.checkpoints(copy)
    checkpoint.write_bytes(older.read_bytes())
    with pytest.raises(runs.RunError, match="is not a copy of model 'tiny_top'"):
        pretrained.copy_model("tiny_top", copy)


def test_a_model_over_the_size_limit_is_refused_and_leaves_the_shipped_one_as_it_was(shipped, tiny_run, monkeypatch):
    before = {p.name: p.read_bytes() for p in shipped.rglob("*") if p.is_file()}
    monkeypatch.setattr(pretrained, "MAX_BYTES", 1000)
    with pytest.raises(runs.RunError, match="bytes of weights; a shipped model stays under 1,000"):
        pretrained.ship(tiny_run, "tiny_top", "# replaced\n", into=shipped.parent)
    assert {p.name: p.read_bytes() for p in shipped.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in shipped.parent.iterdir()) == ["tiny_top"]  # no .partial left


def test_jetgraph_ships_a_model():
    # README and the command examples use them
    assert {"qg_showers_transformer", "top_showers_transformer", "top_pair_bias_transformer"} <= set(
        pretrained.available()
    )


@pytest.mark.parametrize("name", pretrained.available())
def test_every_model_in_the_package_is_small_loads_as_weights_only_and_embeds(name, top_jets, tmp_path):
    folder = pretrained.model_dir(name)
    (checkpoint,) = runs.checkpoints(folder)
    assert checkpoint.stat().st_size < pretrained.MAX_BYTES
    card = (folder / pretrained.CARD).read_text()
    assert "| " in card and "Regenerate" in card  # its probe table and the command behind it
    out = tmp_path / "emb.h5"
    result = CliRunner().invoke(app, ["embed", "--model", name, "--data", str(top_jets), "--out", str(out)])
    assert result.exit_code == 0, result.output
    with h5py.File(out) as handle:
        representation = torch.tensor(handle["representation"][:])
    assert representation.shape[0] == 60 and torch.isfinite(representation).all()
