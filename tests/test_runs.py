"""Run directories that cannot be hijacked, mixed up or lost: checkpoints loaded as weights only, the newest
one that loads, one writer per run, and resumes that keep the run what it was."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import awkward as ak
import pytest
import torch
import yaml
from typer.testing import CliRunner

import jetgraph
from jetgraph import runs
from jetgraph.cli import app
from jetgraph.config import load_config
from jetgraph.io.examples import write_jetclass
from jetgraph.train import pretrain

TINY = [
    "model.params={dim: 16, layers: 1, heads: 2, ffn: 32, max_particles: 32}",
    "model.head={hidden: 32, out_dim: 16}",
    "augment.transforms=[rotate, smear]",
    "train.progress=false",
    "train.threads=1",
    "train.batch_size=16",
    "data.step_size=100",
    "data.shuffle_buffer=200",
    "data.val=[]",
]


@pytest.fixture(scope="module")
def jets(tmp_path_factory):
    """200 jets of two classes to pretrain, embed and probe on."""
    folder = tmp_path_factory.mktemp("runs")
    read = jetgraph.read(write_jetclass(folder / "jetclass.root", n_jets=200, seed=4))
    return jetgraph.write(ak.with_field(read, read.label % 2, "label"), folder / "jets.root")


@pytest.fixture(scope="module")
def trained(jets, tmp_path_factory):
    """A run with three checkpoints (steps 2, 4, 6), copied by each test that damages it."""
    out = tmp_path_factory.mktemp("trained") / "run"
    overrides = [*TINY, f"data.train={jets}", "train.max_steps=6", "train.checkpoint_every=2"]
    pretrain(load_config(None, overrides), out)
    assert [p.name for p in runs.checkpoints(out)] == ["step-00000002.pt", "step-00000004.pt", "step-00000006.pt"]
    return out


@pytest.fixture
def run_dir(trained, tmp_path):
    return Path(shutil.copytree(trained, tmp_path / "run"))


class _Payload:
    """What a hostile checkpoint holds: unpickling it would run a shell command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _commands(run_dir: Path, jets: Path, tmp_path: Path) -> dict[str, list[str]]:
    """The three commands that read a run's latest checkpoint, as a user types them."""
    return {
        "embed": ["embed", str(run_dir), "--data", str(jets), "--out", str(tmp_path / "emb.h5")],
        "probe": ["probe", str(run_dir), "--data", str(jets), "--no-supervised", "--label-fractions", "1"],
        "resume": ["pretrain", "--out", str(run_dir), "--resume", "--set", "train.max_steps=8"],
    }


def _one_line_error(result, *expected: str) -> None:
    assert result.exit_code == 2, result.output
    error = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "Traceback" not in result.output, result.output
    for text in expected:
        assert text in error[0], result.output


@pytest.mark.parametrize("command", ["embed", "probe", "resume"])
def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(command, run_dir, jets, tmp_path):
    marker = tmp_path / "PWNED"
    for old in runs.checkpoints(run_dir):
        old.unlink()
    hostile = runs.checkpoint_path(run_dir, 8)
    torch.save({"step": 8, "encoder": _Payload(marker)}, hostile)
    result = CliRunner().invoke(app, _commands(run_dir, jets, tmp_path)[command])
    _one_line_error(result, str(hostile), "loaded as weights only", "posix.system")
    assert not marker.exists(), "the checkpoint's payload ran"


def test_a_hostile_newest_checkpoint_is_skipped_for_the_one_before(run_dir, jets, tmp_path):
    marker = tmp_path / "PWNED"
    torch.save({"step": 8, "encoder": _Payload(marker)}, runs.checkpoint_path(run_dir, 8))
    with pytest.warns(UserWarning, match=r"skipped .*step-00000008.pt: not a loadable checkpoint.*using step-00000006"):
        _, _, info = runs.load_encoder(run_dir)
    assert info["step"] == 6 and not marker.exists()


DAMAGES = ("truncated", "zero-filled", "text", "empty")


def _damage(path: Path, how: str) -> None:
    data = path.read_bytes()
    damaged = {
        "truncated": data[: len(data) // 2],
        "zero-filled": bytes(len(data)),
        "text": b"step 6: this is not a checkpoint\n",
        "empty": b"",
    }
    path.write_bytes(damaged[how])


# every damage through embed and resume; probe reads the checkpoint through the same loader as embed, and takes
# 10 s a run, so it gets one
@pytest.mark.parametrize(
    ("command", "how"),
    [(command, how) for command in ("embed", "resume") for how in DAMAGES] + [("probe", "zero-filled")],
)
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(command, how, run_dir, jets, tmp_path):
    newest = runs.latest_checkpoint(run_dir)
    _damage(newest, how)
    result = CliRunner().invoke(app, _commands(run_dir, jets, tmp_path)[command])
    assert result.exit_code == 0, result.output
    warning = [line for line in result.output.splitlines() if line.startswith("warning: skipped")]
    assert len(warning) == 1 and str(newest) in warning[0] and "using step-00000004.pt" in warning[0], result.output
    if command == "resume":  # trained on from step 4, and step 6 written anew over the damaged file
        assert runs.load_checkpoint(newest)["step"] == 6
        assert runs.load_checkpoint(runs.latest_checkpoint(run_dir))["step"] == 8


def test_no_loadable_checkpoint_is_one_line(run_dir, jets, tmp_path):
    for path in runs.checkpoints(run_dir):
        _damage(path, "truncated")
    result = CliRunner().invoke(app, _commands(run_dir, jets, tmp_path)["embed"])
    _one_line_error(result, f"{run_dir}: none of its 3 checkpoint(s) loads", "step-00000006.pt")


def test_every_checkpoint_jetgraph_writes_loads_as_weights_only(trained):
    state = torch.load(runs.latest_checkpoint(trained), weights_only=True)  # the check is on, nothing allowed extra
    assert {"encoder", "head", "optimizer", "scheduler", "generator", "torch_rng", "step"} <= set(state)


# ------------------------------------------------------------------------------------------- one writer


def _cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "jetgraph", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _wait_for(condition, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, process.stdout.read()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_second_pretrain_on_the_same_out_is_refused_and_a_killed_one_leaves_no_stale_lock(jets, tmp_path):
    out = tmp_path / "run"
    settings = [*TINY, f"data.train={jets}", "train.epochs=1000", "train.checkpoint_every=2"]
    sets = [arg for item in settings for arg in ("--set", item)]
    first = _cli("pretrain", "--out", str(out), *sets)
    try:
        _wait_for(lambda: (out / runs.CONFIG).exists(), first)  # it holds the lock and has started writing
        second = subprocess.run(
            [sys.executable, "-m", "jetgraph", "pretrain", "--out", str(out), *sets, "--set", "train.max_steps=1"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 2, second.stderr
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr, second.stderr
        assert f"{out}: in use by another jetgraph pretrain (pid {first.pid})" in second.stderr
        _wait_for(lambda: runs.latest_checkpoint(out) is not None, first)
    finally:
        first.kill()
        first.wait()
    # kill -9 released the lock: the run resumes at once
    stop = runs.load_latest(out)[1]["step"] + 2
    assert pretrain(None, out, overrides=[f"train.max_steps={stop}"], resume=True).steps == stop


def test_two_probes_of_one_run_do_not_write_at_once(run_dir, jets, tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from jetgraph.outputs import lock; held = lock(sys.argv[1], 'probe');"
         "print('locked', flush=True); time.sleep(60)", str(run_dir / "probe")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = CliRunner().invoke(app, _commands(run_dir, jets, tmp_path)["probe"])
        _one_line_error(result, f"{run_dir / 'probe'}: in use by another jetgraph probe (pid {holder.pid})")
    finally:
        holder.kill()
        holder.wait()
    assert CliRunner().invoke(app, _commands(run_dir, jets, tmp_path)["probe"]).exit_code == 0


# ------------------------------------------------------------------------------------------------ resume


def test_resume_refuses_another_model_before_any_work(run_dir):
    before = runs.latest_checkpoint(run_dir).read_bytes()
    result = CliRunner().invoke(app, ["pretrain", "--out", str(run_dir), "--resume", "--set", "model.params.dim=32"])
    _one_line_error(result, "model.params.dim is 32 now but 16 in the run's config.yaml", "another --out")
    result = CliRunner().invoke(app, ["pretrain", "--out", str(run_dir), "--resume", "--set", "train.batch_size=8"])
    _one_line_error(result, "train.batch_size is 8 now but 16")
    assert runs.latest_checkpoint(run_dir).read_bytes() == before and len(runs.checkpoints(run_dir)) == 3


def test_resume_records_the_settings_it_goes_on_with(run_dir):
    result = CliRunner().invoke(
        app, ["pretrain", "--out", str(run_dir), "--resume", "--set", "train.max_steps=9", "--set", "train.lr=1e-3"]
    )
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((run_dir / runs.CONFIG).read_text())
    assert saved["train"]["max_steps"] == 9 and saved["train"]["lr"] == 1e-3
    state = runs.load_checkpoint(runs.latest_checkpoint(run_dir))
    assert state["step"] == 9
    # the new rate is the one the schedule followed: base 1e-3 in the optimiser and the scheduler
    assert [group["initial_lr"] for group in state["optimizer"]["param_groups"]] == [1e-3, 1e-3]
    assert state["scheduler"]["base_lrs"] == [1e-3, 1e-3]


def test_metrics_without_held_out_jets_are_not_called_held_out(jets, tmp_path):
    sets = [arg for item in [*TINY, f"data.train={jets}", "train.max_steps=1"] for arg in ("--set", item)]
    result = CliRunner().invoke(app, ["pretrain", "--out", str(tmp_path / "run"), *sets])
    assert result.exit_code == 0, result.output
    assert "held-out" not in result.output.replace("nothing held out", "")
    assert "on training jets (data.val is empty, nothing held out): loss" in result.output
    assert jetgraph.JetGraphError  # the package's error base is what the CLI turns into one line


# ------------------------------------------------------------------------------------- the run's data


def test_a_run_carries_absolute_paths_and_its_recipe(jets, tmp_path, monkeypatch):
    """Pretrained from one folder with relative paths and a recipe file, embedded from another without --recipe."""
    folder = tmp_path / "work"
    folder.mkdir()
    jetclass = write_jetclass(folder / "jc.root", n_jets=64, seed=9)
    recipe = jetgraph.load_recipe("jetclass").source  # the built-in recipe's text, as a user's file
    text = (Path(jetgraph.io.recipe.__file__).parents[1] / recipe).read_text()
    (folder / "mine.yaml").write_text(text.replace("detect:", "# detect:"))
    monkeypatch.chdir(folder)
    sets = [arg for item in [*TINY, "data.train=jc.root", "data.recipe=mine.yaml", "train.max_steps=1"]
            for arg in ("--set", item)]  # fmt: skip
    result = CliRunner().invoke(app, ["pretrain", "--out", "run", *sets])
    assert result.exit_code == 0, result.output
    saved = yaml.safe_load((folder / "run" / runs.CONFIG).read_text())
    assert saved["data"]["train"] == [str(jetclass)] and Path(saved["data"]["recipe"]).is_absolute()
    assert (folder / "run" / "recipe.yaml").read_text() == (folder / "mine.yaml").read_text()
    (folder / "mine.yaml").unlink()
    monkeypatch.chdir(tmp_path)
    moved = Path(shutil.move(str(folder / "run"), tmp_path / "moved"))  # a run can be moved, too
    result = CliRunner().invoke(app, ["embed", str(moved), "--data", str(jetclass), "--out", "emb.h5"])
    assert result.exit_code == 0 and "64 jets" in result.output, result.output
    assert runs.run_config(moved).data.recipe == str(moved / "recipe.yaml")


def test_missing_data_files_name_the_setting_and_the_way_out(jets, tmp_path):
    sets = [arg for item in [*TINY, f"data.train={jets}", "data.val=nope/qg_val.root"] for arg in ("--set", item)]
    result = CliRunner().invoke(app, ["pretrain", "--out", str(tmp_path / "run"), *sets])
    _one_line_error(result, "data.val: ", "nope/qg_val.root: no such file", "--set 'data.val=[]'")
    assert not (tmp_path / "run" / runs.CONFIG).exists()
