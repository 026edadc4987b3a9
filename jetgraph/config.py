"""Pretraining configs: typed sections, YAML in, dotted ``--set key=value`` overrides, resolved YAML out.

A config is plain data read by :mod:`jetgraph.settings`: sections and their keys are the fields of
the dataclasses below; an unknown key is an error that names the file (or the ``--set``), the key and
the nearest known one, so a typo never silently falls back to a default.

    data:   {train: data/qg.root, val: data/qg_val.root, recipe: null, shuffle_buffer: 20000}
    model:  {encoder: transformer, params: {dim: 64}, head: {out_dim: 128}}
    augment: {views: two, transforms: [rotate, translate, smear, {collinear_split: {splits: 2}}]}
    loss:   {name: ntxent, params: {temperature: 0.1}}
    train:  {epochs: 5, batch_size: 256, lr: 5.0e-4, precision: bf16}

``model.params`` go to :func:`jetgraph.models.build_encoder`, ``loss.params`` to
:func:`jetgraph.losses.build_loss`, ``augment.transforms`` to :func:`jetgraph.augment.build_transforms`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from jetgraph.errors import JetGraphError
from jetgraph.outputs import written_atomically
from jetgraph.settings import Overrides, apply_overrides, from_mapping, origin, read_yaml

if TYPE_CHECKING:
    from torch import nn

VIEWS = ("two", "replicas", "detector", "showers")
SCHEDULES = ("cosine", "constant")


class ConfigError(JetGraphError, ValueError):
    """A config file or override with an unknown key, a value of the wrong type or an impossible value."""


@dataclass
class DataConfig:
    """Where the jets come from and how they are streamed (:class:`jetgraph.data.JetDataset`)."""

    train: list[str] = field(default_factory=list)
    """Training files (paths or globs)."""
    val: list[str] = field(default_factory=list)
    """Held-out files for the per-epoch metrics (loss, alignment, uniformity); empty: none."""
    recipe: str | None = None
    """How to read the files; None detects the format."""
    step_size: int = 10_000
    shuffle_buffer: int = 20_000
    workers: int = 0
    """DataLoader worker processes per rank (0: read in the training process)."""
    val_jets: int = 2_000
    """At most this many held-out jets are used for the metrics."""


@dataclass
class ModelConfig:
    """The encoder (by registry name), its parameters and the projection head."""

    encoder: str = "transformer"
    params: dict[str, Any] = field(default_factory=dict)
    head: dict[str, Any] = field(default_factory=dict)
    """Parameters of :class:`jetgraph.models.ProjectionHead` (``hidden``, ``out_dim``, ``layers``)."""
    in_features: int | None = None
    """Input columns (graph) or channels (image); found from the first batch when None."""
    probe_layer: int = 0
    """What probes and ``jetgraph embed`` read: 0 the encoder's output (the representation); k >= 1 the
    output of the projection head's k-th layer (JetCLR's linear classifier test reads layer 1)."""

    def build(self, in_features: int | None = None) -> tuple[nn.Module, nn.Module]:
        """The encoder (:data:`jetgraph.models.ENCODERS`) and its projection head, as this section describes them.

        Args:
            in_features: the encoder's input columns or channels; this section's ``in_features`` by default.

        Raises:
            ConfigError: the number of inputs is not known yet (the trainer finds it from the data).
            ModelError: an unknown encoder or parameter, or a bad value.
        """
        from jetgraph.models import ProjectionHead, build_encoder

        features = self.in_features if in_features is None else in_features
        if features is None:
            raise ConfigError("model.in_features is not set; expected the encoder's input columns (from the data)")
        encoder = build_encoder(self.encoder, features, **self.params)
        return encoder, ProjectionHead(encoder.rep_dim, **self.head)


@dataclass
class AugmentConfig:
    """How a positive pair is made: two augmented views, two detector replicas, or two showers."""

    views: str = "two"
    """``two``: two augmentations of each jet; ``replicas``: two detector replicas of it (then
    ``transforms``); ``detector``: two augmentations of replica 0 (one detector, no replica pairing);
    ``showers``: two showers of one hard process, consecutive jets of a ``jetgraph generate --showers 2``
    file (then ``transforms``; ``train.batch_size`` counts jets, so it makes half as many pairs)."""
    transforms: list[Any] = field(default_factory=list)
    """Particle transforms, a registry list (:func:`jetgraph.augment.build_transforms`), applied to each view."""
    image_transforms: list[Any] = field(default_factory=list)
    """Image encoders: image transforms applied to each view after pixelisation."""
    pixels: int = 32
    """Image encoders: pixels per side of the jet image."""
    width: float = 1.6
    """Image encoders: side of the jet image in Δη and Δφ."""


@dataclass
class LossConfig:
    name: str = "ntxent"
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainConfig:
    """Optimisation, precision, logging and checkpoints."""

    epochs: int = 10
    batch_size: int = 256
    """Jets per step and per rank."""
    lr: float = 5e-4
    weight_decay: float = 0.05
    warmup: float = 0.05
    """Linear warm-up, as a fraction of all steps (then the ``schedule``)."""
    schedule: str = "cosine"
    """After the warm-up: ``cosine`` decay to zero, or ``constant`` (JetCLR's plain Adam)."""
    clip_grad: float | None = 1.0
    precision: str = "auto"
    """``fp32``, ``bf16`` (autocast: on GPUs and CPUs with native bf16), or ``auto``: whichever a short timing
    of this model's step on this device finds faster; the choice is printed and recorded in the run."""
    compile: bool = False
    seed: int = 0
    device: str = "auto"
    """``auto`` (CUDA if available), ``cpu``, ``cuda`` or ``cuda:N``."""
    max_steps: int | None = None
    """Stop after this many steps in all; the warm-up and cosine then span these steps (a budgeted run).
    0 saves the encoder as initialised: the random-initialisation control for probes."""
    steps_per_epoch: int | None = None
    """Steps in one epoch, for the schedule; None counts the jets of the training files once."""
    log_every: int = 10
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    threads: int | None = None
    """torch intra-op threads; None leaves torch's default."""
    progress: bool = True


@dataclass
class PretrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------- loading


def from_dict(values: dict[str, Any], source: str = "<config>", overrides: Overrides | None = None) -> PretrainConfig:
    """A checked :class:`PretrainConfig` from nested dicts (as read from YAML; run metadata is skipped).

    ``overrides`` maps the dotted keys that ``--set`` changed to the user's ``key=value`` text, so that
    an error in one of them names the ``--set`` rather than the file.
    """
    if isinstance(values, dict):
        values = {k: v for k, v in values.items() if k not in RUN_METADATA}
    config = from_mapping(PretrainConfig, values, source, ConfigError, overrides)
    validate(config, source, overrides)
    return config


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def differences(before: PretrainConfig, after: PretrainConfig) -> dict[str, tuple[Any, Any]]:
    """``{dotted key: (before, after)}`` for every setting that differs (``model.params.dim``, ``train.epochs``)."""
    old, new = _flat(before.to_dict()), _flat(after.to_dict())
    return {key: (old.get(key), new.get(key)) for key in {**old, **new} if old.get(key) != new.get(key)}


def validate(config: PretrainConfig, source: str = "<config>", overrides: Overrides | None = None) -> None:
    """Values that cannot work, each reported with the key that holds it."""
    train = config.train
    head_layers = config.model.head.get("layers", 2)  # a bad value is the head's own error, when it is built
    head_layers = head_layers if isinstance(head_layers, int) else config.model.probe_layer
    checks = [
        ("train.epochs", train.epochs >= 1, "at least 1"),
        ("train.batch_size", train.batch_size >= 2, "at least 2 (contrastive losses need negatives)"),
        ("train.lr", train.lr > 0, "a positive learning rate"),
        ("train.warmup", 0 <= train.warmup < 1, "a fraction in [0, 1)"),
        ("train.schedule", train.schedule in SCHEDULES, "'cosine' or 'constant'"),
        ("train.precision", train.precision in ("auto", "fp32", "bf16"), "'auto', 'fp32' or 'bf16'"),
        ("train.log_every", train.log_every >= 1, "at least 1"),
        ("train.checkpoint_every", train.checkpoint_every >= 1, "at least 1"),
        ("train.keep_checkpoints", train.keep_checkpoints >= 1, "at least 1"),
        ("train.max_steps", train.max_steps is None or train.max_steps >= 0, "at least 0, or null"),
        ("train.steps_per_epoch", train.steps_per_epoch is None or train.steps_per_epoch >= 1, "at least 1, or null"),
        ("train.clip_grad", train.clip_grad is None or train.clip_grad > 0, "a positive norm, or null"),
        ("augment.views", config.augment.views in VIEWS, "'two', 'replicas', 'detector' or 'showers'"),
        (
            "train.batch_size",
            config.augment.views != "showers" or train.batch_size % 2 == 0 and train.batch_size >= 4,
            "an even number of at least 4 with augment.views=showers (jets, two per pair)",
        ),
        (
            "model.probe_layer",
            0 <= config.model.probe_layer <= head_layers,
            "0 (the encoder's output) up to the head's layers",
        ),
        ("data.workers", config.data.workers >= 0, "0 or more"),
        ("data.step_size", config.data.step_size >= 1, "a positive number of jets per chunk"),
        ("data.shuffle_buffer", config.data.shuffle_buffer >= 0, "0 (no shuffling) or more jets"),
        ("data.val_jets", config.data.val_jets >= 0, "0 or more jets"),
        ("augment.pixels", config.augment.pixels >= 1, "a positive number of pixels per side"),
        ("augment.width", config.augment.width > 0, "a positive image width in radians (e.g. 1.6)"),
    ]
    for key, ok, expected in checks:
        if not ok:
            section, name = key.split(".")
            value = getattr(getattr(config, section), name)
            where = origin(key, source, overrides or {})
            shown = where if where.startswith("--set") else f"{source}: {key}={value!r}"
            raise ConfigError(f"{shown}; expected {expected}")


def load_config(path: str | os.PathLike | None, overrides: list[str] | None = None) -> PretrainConfig:
    """Read a YAML config (or start from the defaults when ``path`` is None) and apply ``--set`` overrides.

    Raises:
        ConfigError: an unreadable file, invalid YAML, an unknown section or key, a bad value.
    """
    values = read_yaml(path, "config", ConfigError) if path is not None else {}
    origins = apply_overrides(values, list(overrides or []), ConfigError)
    return from_dict(values, "<defaults>" if path is None else str(path), origins)


def save_config(config: PretrainConfig, path: str | os.PathLike, **extra: Any) -> Path:
    """Write the resolved config as YAML (atomically), with ``extra`` top-level keys such as the version."""
    with written_atomically(path) as partial:
        partial.write_text(yaml.safe_dump({**extra, **config.to_dict()}, sort_keys=False))
    return Path(path)


RUN_METADATA = ("version", "torch")
"""Top-level keys :func:`save_config` adds to a run's config, skipped when it is read back."""

__all__ = [
    "AugmentConfig",
    "ConfigError",
    "DataConfig",
    "LossConfig",
    "ModelConfig",
    "PretrainConfig",
    "TrainConfig",
    "differences",
    "from_dict",
    "load_config",
    "save_config",
]
