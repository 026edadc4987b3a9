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
def shipped(top_jets, tmp_path_factory):
    """A model shipped from a tiny run into a scratch folder that stands in for the package's."""
    folder = tmp_path_factory.mktemp("shipped")
    run = folder / "run"
    pretrain(load_config(None, [*TINY, f"data.train={top_jets}", "train.max_steps=2"]), run)
    return pretrained.ship(run, "tiny_top", "# tiny_top\n\nA two-step test model.\n", into=folder)


@pytest.fixture
def package(shipped, monkeypatch):
    monkeypatch.setattr(pretrained, "HERE", shipped.parent)
    return shipped


def test_a_shipped_model_holds_weights_and_a_config_without_local_paths(shipped, top_jets):
    (checkpoint,) = runs.checkpoints(shipped)
    state = torch.load(checkpoint, weights_only=True)
    assert set(state) == {"step", "encoder", "head", "in_features"}  # no optimiser, no RNG states
    config = yaml.safe_load((shipped / runs.CONFIG).read_text())
    assert config["data"]["train"] == [top_jets.name]
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
    out = tmp_path / "mine"
    args = ["probe", "--model", "tiny_top", "--task", "top", "--data", str(top_jets), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--no-supervised", "--label-fractions", "1", "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert (out / "probe" / "top.json").is_file() and runs.checkpoints(out)
    assert sorted(p.name for p in package.rglob("*")) == before


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


def test_a_copy_never_overwrites_something_else(package, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(runs.RunError, match="--out .*taken: exists and is not a copy of model 'tiny_top'"):
        pretrained.copy_model("tiny_top", tmp_path / "taken")
    first = pretrained.copy_model("tiny_top", tmp_path / "copy")
    assert pretrained.copy_model("tiny_top", tmp_path / "copy") == first  # a second probe reuses the copy


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
