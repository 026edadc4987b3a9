"""The benchmarks: every run that ``quality.py`` can be asked for is a valid config, and ``finetune.py`` runs."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

import pytest
import yaml

from jetgraph import augment
from jetgraph.config import ConfigError, load_config
from jetgraph.losses import LossError, build_loss
from jetgraph.models import ProjectionHead, build_encoder
from jetgraph.train import pretrain

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _quality():
    spec = importlib.util.spec_from_file_location("quality", BENCHMARKS / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


QUALITY = _quality()
CONFIG = yaml.safe_load((BENCHMARKS / "quality.yaml").read_text())
RUNS = QUALITY.resolve_runs(CONFIG)
SAMPLES = {name: Path(f"{name}.root") for name in CONFIG["samples"]}


def _build(run: dict):
    """The run's config with its loss, augmentations, encoder and head built (what a Trainer checks first)."""
    config = QUALITY.run_config(run, SAMPLES, seed=3, steps=7, progress=False)
    build_loss(config.loss.name, **config.loss.params)
    augment.build(config.augment.transforms)
    encoder = build_encoder(config.model.encoder, 13, **config.model.params)
    ProjectionHead(encoder.rep_dim, **config.model.head)
    return config


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_quality_run_resolves_to_a_config_that_builds(name):
    """A typo in a run's overrides fails here, in CI, not when the benchmark reaches that run."""
    config = _build(RUNS[name])
    assert config.train.max_steps == 7 and config.train.seed == 3
    assert config.data.train == [str(SAMPLES[RUNS[name].get("train_sample", "pretrain")])]


def test_every_sample_a_quality_run_trains_on_is_in_the_config():
    used = {run.get(key) for run in RUNS.values() for key in ("train_sample", "val_sample")} - {None}
    assert used <= set(CONFIG["samples"])
    assert CONFIG["samples"]["showers"]["showers"] == 2 and RUNS["resim"]["train_sample"] == "showers"


def test_a_misspelt_override_in_a_quality_run_fails_to_build():
    run = {**RUNS["transformer"], "set": [*RUNS["transformer"]["set"], "loss.params={temprature: 0.1}"]}
    with pytest.raises(LossError, match="temprature"):
        _build(run)
    with pytest.raises(ConfigError, match="epohcs"):
        _build({**run, "set": ["train.epohcs=3"]})


def test_tuning_variants_change_the_transformer_and_keep_its_probes():
    for name in CONFIG["tuning"]:
        run = RUNS[name]
        shower_run = name in QUALITY.SHOWER_RUNS  # compared on its own few-label references too
        assert run["config"] == RUNS["transformer"]["config"] and (run["references"] == []) != shower_run
        assert run["set"] != RUNS["transformer"]["set"] or run.get("steps") == 0, name


def test_pair_accuracy_reads_a_real_runs_first_and_last_evaluation(tmp_path):
    from jetgraph.config import load_config
    from jetgraph.io.examples import write_jetclass
    from jetgraph.train import pretrain

    jets = write_jetclass(tmp_path / "jets.root", n_jets=96, seed=2)
    settings = [
        f"data.train={jets}", f"data.val={jets}", "data.step_size=100", "data.shuffle_buffer=100",
        "model.params={dim: 16, layers: 1, heads: 2, ffn: 32, max_particles: 32}",
        "model.head={hidden: 32, out_dim: 16}", "train.batch_size=32", "train.epochs=2",
        "train.progress=false", "train.threads=1",
    ]  # fmt: skip
    pretrain(load_config(None, settings), tmp_path / "run")
    with (tmp_path / "run" / "metrics.csv").open() as handle:
        evaluations = [row["pair_accuracy"] for row in csv.DictReader(handle) if row["split"] == "val"]
    assert len(evaluations) == 3  # before training, after each epoch
    assert QUALITY.pair_accuracy(tmp_path / "run") == [float(evaluations[0]), float(evaluations[-1])]
    assert QUALITY.pair_accuracy(tmp_path / "missing") is None


def test_finetune_scores_every_protocol_on_the_validation_jets(qg_file, tmp_path):
    """benchmarks/finetune.py end to end on a barely trained run: one AUC per protocol and fraction."""
    spec = importlib.util.spec_from_file_location("finetune", BENCHMARKS / "finetune.py")
    finetune = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(finetune)
    overrides = [
        "model.params={dim: 16, layers: 1, heads: 2, ffn: 32, max_particles: 48}",
        "model.head={hidden: 32, out_dim: 16}",
        "train.progress=false",
        "train.max_steps=2",
        "train.batch_size=32",
        f"data.train={qg_file}",
        f"data.val={qg_file}",
    ]
    run_dir = tmp_path / "run"
    pretrain(load_config(None, overrides), run_dir)
    results = finetune.validation_aucs(run_dir, seed=0, fractions=[0.5])
    assert set(results) == set(finetune.PROTOCOLS)
    assert all(0.0 <= results[name][0.5] <= 1.0 for name in finetune.PROTOCOLS)
    # 200 jets: 120 train (60 at half the labels), 40 validation; the multiplicity alone gives ~0.8
    assert results["scratch"][0.5] > 0.6


def _record(**aucs: dict[str, float]) -> dict:
    """A quality record whose q/g probes have these AUCs (per label fraction) and a fixed rejection."""

    def entry(value: float) -> dict:
        return {"auc": {"value": value}, "rejection_at_0.5": {"value": 20.0}}

    return {
        "qg": {
            probe.replace("_", " "): {f: entry(v) for f, v in fractions.items()} for probe, fractions in aucs.items()
        }
    }


def test_a_few_label_target_is_met_by_the_mlp_probe_or_by_fine_tuning_and_says_which():
    records = {}
    for seed, shift in enumerate((0.010, 0.012, 0.011)):
        records[("transformer", seed)] = _record(
            mlp={"0.1": 0.85 + shift, "0.01": 0.80},
            **{"fine-tuned": {"0.1": 0.85 - shift, "0.01": 0.80}, "supervised_(scratch)": {"0.1": 0.85, "0.01": 0.80}},
        )
    lines = {line.split(" (")[0]: line for line in QUALITY.targets(records, [0, 1, 2])}
    assert lines["TARGET 10% of labels: pretrained"].endswith("(3 seeds) -> MET by SSL MLP")
    assert lines["TARGET 1% of labels: pretrained"].endswith("(3 seeds) -> NOT MET")  # a tie is not a win
    assert lines["TARGET SSL linear probe beats the best observable baseline"].endswith(": not run")


def test_a_record_probed_on_another_probe_sample_is_probed_again_without_pretraining_again(qg_file, tmp_path):
    run = {
        "config": "configs/pretrain/qg_transformer.yaml", "steps": 2, "tasks": ["qg"], "references": [],
        "set": ["model.params={dim: 16, layers: 1, heads: 2, ffn: 32, max_particles: 48}",
                "model.head={hidden: 32, out_dim: 16}", "train.batch_size=32"],
    }  # fmt: skip
    settings = {"budget_minutes": 0.1, "label_fractions": [1.0], "bootstraps": 5, "progress": False, "reprobe": False}
    first = QUALITY.one_run("tiny", run, 0, {"pretrain": qg_file, "probe": qg_file}, settings, tmp_path)
    assert first["probe_sample"] == qg_file.name and first["qg"]["linear"]["1.0"]["auc"]["value"] > 0.5
    checkpoint = tmp_path / "runs" / "tiny" / "seed0" / "checkpoints" / "step-00000002.pt"
    trained = checkpoint.stat().st_mtime_ns
    assert QUALITY.one_run("tiny", run, 0, {"pretrain": qg_file, "probe": qg_file}, settings, tmp_path) == first

    other = tmp_path / "other_probe.root"
    other.write_bytes(qg_file.read_bytes())
    second = QUALITY.one_run("tiny", run, 0, {"pretrain": qg_file, "probe": other}, settings, tmp_path)
    assert second["probe_sample"] == "other_probe.root" and second["steps"] == 2
    assert checkpoint.stat().st_mtime_ns == trained  # probed again, not trained again
    probed = json.loads((tmp_path / "runs" / "tiny" / "seed0" / "probe" / "qg.json").read_text())
    assert probed["files"] == [str(other)]
