"""The benchmarks' own configs: every run that ``benchmarks/quality.py`` can be asked for is a valid config."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from jetgraph import augment
from jetgraph.config import ConfigError
from jetgraph.losses import LossError, build_loss
from jetgraph.models import ProjectionHead, build_encoder

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _quality():
    spec = importlib.util.spec_from_file_location("quality", BENCHMARKS / "quality.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


QUALITY = _quality()
CONFIG = yaml.safe_load((BENCHMARKS / "quality.yaml").read_text())
RUNS = QUALITY.resolve_runs(CONFIG)
SAMPLES = {"pretrain": Path("pretrain.root"), "probe": Path("probe.root")}


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
    assert config.data.train == [str(SAMPLES["pretrain"])]


def test_a_misspelt_override_in_a_quality_run_fails_to_build():
    run = {**RUNS["transformer"], "set": [*RUNS["transformer"]["set"], "loss.params={temprature: 0.1}"]}
    with pytest.raises(LossError, match="temprature"):
        _build(run)
    with pytest.raises(ConfigError, match="epohcs"):
        _build({**run, "set": ["train.epohcs=3"]})


def test_tuning_variants_change_the_transformer_and_keep_its_probes():
    for name in CONFIG["tuning"]:
        run = RUNS[name]
        assert run["config"] == RUNS["transformer"]["config"] and run["references"] == []
        assert run["set"] != RUNS["transformer"]["set"] or run.get("steps") == 0, name
