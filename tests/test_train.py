"""Pretraining: it learns on real jets, resumes exactly after a kill, runs under a real DDP group, embeds."""

from __future__ import annotations

import csv
import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import jetgraph
from jetgraph import runs
from jetgraph.cli import app
from jetgraph.config import load_config
from jetgraph.data import JetDataset
from jetgraph.io.examples import write_jetclass
from jetgraph.memory import HeapGuard
from jetgraph.probes.embed import embed
from jetgraph.train import Trainer, cosine_schedule, pretrain

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "pretrain"
REPRODUCE = CONFIGS.parent / "reproduce"
TINY = [
    "model.encoder=transformer",
    "model.params={dim: 16, layers: 1, heads: 2, ffn: 32, max_particles: 32}",
    "model.head={hidden: 32, out_dim: 16}",
    "augment.transforms=[rotate, smear, {collinear_split: {splits: 1}}]",
    "train.progress=false",
    "train.threads=1",
    "data.step_size=100",
    "data.shuffle_buffer=200",
]


@pytest.fixture(scope="module")
def jetclass(tmp_path_factory):
    return write_jetclass(tmp_path_factory.mktemp("train") / "jets.root", n_jets=400, seed=8)


def _metrics(run_dir):
    with open(run_dir / runs.METRICS) as handle:
        return list(csv.DictReader(handle))


def test_schedule_warms_up_then_decays_to_zero():
    factor = cosine_schedule(100, 0.1)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(10) == pytest.approx(1.0) and factor(55) == pytest.approx(0.5) and factor(100) == pytest.approx(0.0)


def test_a_constant_schedule_holds_the_rate_after_the_warm_up():
    factor = cosine_schedule(100, 0.1, "constant")
    assert factor(0) == pytest.approx(0.1) and factor(10) == factor(99) == 1.0
    assert cosine_schedule(50, 0.0, "constant")(0) == 1.0


def test_pretraining_on_generated_qg_jets_lowers_the_loss_and_finds_the_positive_pairs(qg_file, tmp_path):
    """A real check that it learns, on held-out jets, from the untrained encoder to the end.

    The untrained encoder maps every jet near one point: its pairs look "aligned" (alignment ~0) but
    nothing is told apart. Learning shows as a lower loss, a more uniform representation and views
    that find their own partner among all the others (pair accuracy; chance is 1/50).
    """
    jets = jetgraph.read(qg_file)
    train, val = jetgraph.write(jets[:150], tmp_path / "train.root"), jetgraph.write(jets[150:], tmp_path / "val.root")
    config = load_config(
        None,
        [
            *TINY,
            f"data.train={train}",
            f"data.val={val}",
            "train.epochs=12",
            "train.batch_size=32",
            "train.lr=3e-3",
            "model.params={dim: 32, layers: 2, heads: 4, ffn: 64, max_particles: 48}",
            "model.head={out_dim: 32}",
            "train.seed=3",
            "train.warmup=0.1",
        ],
    )
    result = pretrain(config, tmp_path / "run")
    rows = [r for r in _metrics(tmp_path / "run") if r["split"] == "val"]
    first, last = rows[0], rows[-1]
    assert first["step"] == "0" and int(last["step"]) == result.steps == 12 * 4
    assert float(last["loss"]) < float(first["loss"]) - 1.0, (first, last)
    assert float(last["uniformity"]) < float(first["uniformity"]) - 0.5, (first, last)
    assert float(last["pair_accuracy"]) > float(first["pair_accuracy"]), (first, last)
    assert [r["epoch"] for r in rows] == ["0", *map(str, range(12))]  # before training, then after each epoch
    assert result.metrics["loss"] == pytest.approx(float(last["loss"]))
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert f"version: {jetgraph.__version__}" in saved and "in_features: 13" in saved
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "run").iterdir())


def test_pretraining_on_shower_pairs_reads_them_as_pairs(showers_file, tmp_path):
    """``augment.views=showers``: a batch of 8 jets is 4 pairs (the loss of 4 random pairs is log 7)."""
    overrides = [*TINY, f"data.train={showers_file}", f"data.val={showers_file}", "data.val_jets=20",
                 "data.step_size=20", "augment.views=showers", "augment.transforms=[rotate]", "train.batch_size=8",
                 "train.max_steps=3", "train.log_every=1"]  # fmt: skip
    result = pretrain(load_config(None, overrides), tmp_path / "run")
    rows = _metrics(tmp_path / "run")
    first_train = next(r for r in rows if r["split"] == "train")
    assert result.steps == 3 and abs(float(first_train["loss"]) - np.log(7)) < 0.3, first_train
    assert 0 < float(result.metrics["pair_accuracy"]) <= 1
    with pytest.raises(jetgraph.JetGraphError, match="train.batch_size.*even number of at least 4"):
        load_config(None, [*overrides, "train.batch_size=9"])
    unpaired = jetgraph.write(jetgraph.read(showers_file)[1:21], tmp_path / "odd.h5")
    with pytest.raises(jetgraph.JetGraphError, match="not in consecutive pairs of one event"):
        pretrain(load_config(None, [*overrides, f"data.val={unpaired}"]), tmp_path / "run2")


def _run_cli(args, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "jetgraph", "pretrain", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )


def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(jetclass, tmp_path):
    common = [
        *TINY,
        f"data.train={jetclass}",
        "train.epochs=3",
        "train.batch_size=16",
        "train.checkpoint_every=3",
        "train.log_every=1",
        "train.keep_checkpoints=50",
    ]
    sets = [arg for item in common for arg in ("--set", item)]
    killed = tmp_path / "killed"
    process = _run_cli(["--out", str(killed), *sets])
    deadline = time.monotonic() + 120
    while runs.latest_checkpoint(killed) is None or runs.latest_checkpoint(killed).name < "step-00000006.pt":
        assert process.poll() is None, process.stdout.read().decode()
        assert time.monotonic() < deadline, "no checkpoint after 120 s"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    stopped_at = int(runs.latest_checkpoint(killed).stem.split("-")[1])
    total = 3 * (400 // 16)
    assert stopped_at < total, "the run finished before it was killed: nothing was resumed"

    resumed = pretrain(None, killed, overrides=["train.progress=false"], resume=True)
    straight = pretrain(load_config(None, common), tmp_path / "straight")
    assert resumed.steps == straight.steps == total
    a = runs.load_checkpoint(runs.latest_checkpoint(killed))
    b = runs.load_checkpoint(runs.latest_checkpoint(tmp_path / "straight"))
    for part in ("encoder", "head"):
        for key, value in b[part].items():
            assert torch.equal(a[part][key], value), (part, key)
    # the same numbers: every logged training loss agrees, the rows after the last checkpoint were not doubled
    losses = [
        [(r["step"], r["loss"]) for r in _metrics(d) if r["split"] == "train"] for d in (killed, tmp_path / "straight")
    ]
    assert losses[0] == losses[1] and len(losses[0]) == total


def test_an_existing_run_is_not_overwritten_without_resume(jetclass, tmp_path):
    config = load_config(None, [*TINY, f"data.train={jetclass}", "train.max_steps=1", "train.batch_size=16"])
    pretrain(config, tmp_path / "run")
    with pytest.raises(runs.RunError, match="already holds checkpoints; pass --resume"):
        Trainer(config, tmp_path / "run")


def test_zero_steps_saves_the_encoder_as_initialised_for_the_random_control(jetclass, tmp_path):
    base = [*TINY, f"data.train={jetclass}", "train.batch_size=16", "data.val=[]"]
    result = pretrain(load_config(None, [*base, "train.max_steps=0"]), tmp_path / "random")
    assert result.steps == 0 and runs.latest_checkpoint(tmp_path / "random").name == "step-00000000.pt"
    untrained, _, info = runs.load_encoder(tmp_path / "random")
    pretrain(load_config(None, [*base, "train.max_steps=1"]), tmp_path / "one")
    trained, _, _ = runs.load_encoder(tmp_path / "one")
    # the same seed builds the same encoder; one step moves it, zero steps leave it where it started
    first, moved = untrained.state_dict(), trained.state_dict()
    assert info["step"] == 0 and not all(torch.equal(first[k], moved[k]) for k in first)
    torch.manual_seed(0)
    fresh = type(untrained)(untrained.in_features, **load_config(None, base).model.params).state_dict()
    assert all(torch.equal(first[k], fresh[k]) for k in first)


def _ddp_pretrain(rank: int, port: int, overrides: list[str], out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2", LOCAL_RANK=str(rank)
    )
    trainer = Trainer(load_config(None, overrides), out)
    trainer.fit()
    torch.save(trainer.module.state_dict(), f"{out}/rank{rank}.pt")


@pytest.mark.skipif(sys.platform != "linux", reason="gloo over localhost, as CI runs it")
def test_torchrun_style_ddp_pretraining_keeps_ranks_in_step(jetclass, tmp_path, spawn_ranks):
    overrides = [*TINY, f"data.train={jetclass}", "train.max_steps=4", "train.batch_size=16"]
    spawn_ranks(_ddp_pretrain, overrides, str(tmp_path))
    first, second = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert all(torch.equal(first[k], second[k]) for k in first)  # DDP kept the replicas identical
    assert runs.latest_checkpoint(tmp_path).name == "step-00000004.pt"


def test_a_cpu_run_hands_its_heap_to_the_guard_after_every_step_and_logs_its_resident_memory(jetclass, tmp_path):
    overrides = [*TINY, f"data.train={jetclass}", "train.max_steps=3", "train.batch_size=16", "train.log_every=1"]
    trainer = Trainer(load_config(None, overrides), tmp_path / "run")
    trainer.fit()
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert isinstance(trainer.heap, HeapGuard) == glibc  # jetgraph/memory.py: only glibc's malloc is set up
    assert trainer.heap is None or trainer.heap.steps == 3
    rows = [row for row in _metrics(tmp_path / "run") if row["split"] == "train"]
    assert [row["step"] for row in rows] == ["1", "2", "3"]
    assert all(0.05 < float(row["resident_gb"]) < 64 for row in rows)


def test_embed_writes_representations_with_ids_labels_and_kinematics(jetclass, tmp_path):
    config = load_config(None, [*TINY, f"data.train={jetclass}", "train.max_steps=2", "train.batch_size=16"])
    pretrain(config, tmp_path / "run")
    out = tmp_path / "emb.h5"
    result = CliRunner().invoke(
        app, ["embed", str(tmp_path / "run"), "--data", str(jetclass), "--out", str(out), "--batch-size", "64"]
    )
    assert result.exit_code == 0, result.output
    assert "400 jets, representation of 16 dimensions" in result.output
    jets = jetgraph.read(jetclass)
    with h5py.File(out) as handle:
        assert handle["representation"].shape == (400, 16)
        assert np.array_equal(handle["jet_index"][:], np.arange(400))
        assert np.array_equal(handle["label"][:], jets.label.to_numpy())
        assert np.allclose(handle["jet_pt"][:], jets.jet.pt.to_numpy())
        assert handle.attrs["step"] == 2 and handle.attrs["encoder"] == "transformer"
        assert np.isfinite(handle["representation"][:]).all()


def test_cli_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: {epohcs: 2}\n")
    result = CliRunner().invoke(app, ["pretrain", "--config", str(bad), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "did you mean 'epochs'" in result.output
    result = CliRunner().invoke(app, ["embed", str(tmp_path), "--data", str(bad), "--out", str(tmp_path / "e.h5")])
    assert result.exit_code == 2 and "not a run directory" in result.output


@pytest.fixture(scope="module")
def detector_file(jetclass, tmp_path_factory):
    """Jets with two detector replicas each (cells and tracks), written by jetgraph's own writer."""
    from jetgraph.generate.detector import load_detector, simulate

    jets = simulate(jetgraph.read(jetclass)[:64], load_detector("default"), 2, np.random.default_rng(5))
    return jetgraph.write(jets, tmp_path_factory.mktemp("det") / "det.root")


def _two_steps(config: Path, data: Path, batch_size: int, run_dir: Path, *extra: str) -> None:
    """Train a shipped config for two steps on ``data``, nothing else overridden but the batch size (and ``extra``)."""
    overrides = [f"data.train={data}", "data.val=[]", "train.max_steps=2", f"train.batch_size={batch_size}",
                 "train.progress=false", *extra]  # fmt: skip
    result = pretrain(config, run_dir, overrides=overrides)
    assert result.steps == 2 and np.isfinite(result.metrics["loss"])


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIGS.glob("*.yaml")))
def test_every_shipped_config_trains(name, jetclass, detector_file, showers_file, tmp_path):
    data = detector_file if "replicas" in name else showers_file if "showers" in name else jetclass
    _two_steps(CONFIGS / f"{name}.yaml", data, 16, tmp_path / name)
    encoder, config, _ = runs.load_encoder(tmp_path / name)
    assert config.model.encoder in name


@pytest.mark.parametrize("name", sorted(p.stem for p in REPRODUCE.glob("*.yaml")))
def test_every_reproduced_setup_trains_and_embeds_what_it_evaluates(name, jetclass, detector_file, tmp_path):
    """Each configs/reproduce setup as shipped (only data, steps, batch size and precision overridden): two steps,
    then the embedding its evaluation reads (JetCLR: the first layer of the checkpoint's projection head).

    fp32, and evaluations on 64 jets (the file's first: no held-out file here): ``precision: auto`` would time
    JetCLR's width in bf16 first, a minute on a CPU without bf16 units (test_precision_auto_is_decided_once_and_recorded
    tests auto), and evaluating every jet of the file took half a minute more."""
    config = load_config(REPRODUCE / f"{name}.yaml")
    detector = config.augment.views in ("replicas", "detector")
    data = detector_file if detector else jetclass
    _two_steps(REPRODUCE / f"{name}.yaml", data, 32, tmp_path / name, "train.precision=fp32", "data.val_jets=64")
    out = embed(tmp_path / name, data, tmp_path / "emb.h5", batch_size=64)
    with h5py.File(out) as handle:
        representation = torch.from_numpy(handle["representation"][:])
    encoder, config, info = runs.load_encoder(tmp_path / name)
    expected_width = config.model.head["hidden"] if config.model.probe_layer == 1 else encoder.rep_dim
    assert representation.shape == (jetgraph.count(data), expected_width)
    if config.model.probe_layer:  # by hand from the checkpoint: GELU of the head's first Linear
        state = runs.load_checkpoint(info["path"])["head"]
        batch = next(iter(JetDataset([str(data)], 64, rank=0, world_size=1)))
        with torch.no_grad():
            h = encoder(batch)
            by_hand = torch.nn.functional.gelu(h @ state["mlp.0.weight"].T + state["mlp.0.bias"])
        assert torch.allclose(representation[:64], by_hand, atol=1e-4)


def test_bf16_autocast_steps_close_to_fp32(jetclass, tmp_path):
    """bf16 autocast (CPU) runs the same step; its first loss is the fp32 one to bf16 precision."""
    losses = {}
    for precision in ("fp32", "bf16"):
        config = load_config(
            None,
            [
                *TINY,
                f"data.train={jetclass}",
                "train.max_steps=1",
                "train.batch_size=32",
                "train.log_every=1",
                f"train.precision={precision}",
            ],
        )
        pretrain(config, tmp_path / precision)
        losses[precision] = float(next(r for r in _metrics(tmp_path / precision) if r["split"] == "train")["loss"])
    assert losses["bf16"] != losses["fp32"]  # autocast really ran in bf16
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=0.02)


def test_precision_auto_is_decided_once_and_recorded(jetclass, tmp_path):
    """``train.precision: auto`` (the default) times bf16 against fp32 for this model here and keeps the faster."""
    config = load_config(None, [*TINY, f"data.train={jetclass}", "train.max_steps=1", "train.batch_size=16"])
    assert config.train.precision == "auto"
    pretrain(config, tmp_path / "run")
    saved = load_config(tmp_path / "run" / runs.CONFIG)
    assert saved.train.precision in ("fp32", "bf16") and config.train.precision == "auto"  # the input is not changed
    resumed = pretrain(None, tmp_path / "run", overrides=["train.max_steps=2"], resume=True)
    assert resumed.steps == 2 and load_config(tmp_path / "run" / runs.CONFIG).train.precision == saved.train.precision
