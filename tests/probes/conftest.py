"""Briefly pretrained runs on the session's quark/gluon jets, for the probe and compare tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jetgraph.config import load_config
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


@pytest.fixture(scope="session")
def tiny_run(qg_file, tmp_path_factory) -> Callable[..., Path]:
    """``tiny_run(name, *overrides)``: a run of a tiny transformer pretrained for a few steps on ``qg_file``."""

    def make(name: str = "run", *overrides: str) -> Path:
        out = tmp_path_factory.mktemp(name) / name
        pretrain(load_config(None, [*TINY, f"data.train={qg_file}", *overrides]), out)
        return out

    return make
