"""The references a probe is read against: the same encoder trained on the labels, from scratch or fine-tuned.

A label-fraction scan means something only next to these. With few labels a pretrained
representation should beat the same architecture trained from scratch on them; with all labels
the fine-tuned encoder shows how much the frozen probe leaves on the table.

Fine-tuning starts its head from the linear probe (LP-FT, Kumar et al., ICLR 2022,
arXiv:2202.10054): a random head sends large, random gradients into the pretrained encoder in the
first steps, which on a few dozen labels undoes the pretraining before the head has learnt anything.

:func:`supervised_baseline` is the reference at equal compute: the encoder trained on every label of
the pretraining sample for the wall-clock time the pretraining had.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from jetgraph.batch import JetBatch
from jetgraph.inputs import Inputs
from jetgraph.probes.classify import fit_linear
from jetgraph.probes.metrics import ProbeError

MIN_STEPS = 100
"""Optimisation steps a supervised reference gets at least, however few its labels."""


@dataclass(frozen=True)
class Baseline:
    """What :func:`supervised_baseline` trained and scored."""

    scores: np.ndarray  # probability of class 1 for each test jet, (num_test_jets,) float64
    steps: int  # optimisation steps the budget bought
    jets_seen: int  # training jets over those steps (with repeats)
    step_s: float  # seconds per step, measured before training
    wall_s: float  # seconds the training and scoring took


def train_classifier(
    encoder: torch.nn.Module,
    inputs: Inputs,
    jets: JetBatch,
    labels: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    *,
    epochs: int = 20,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    steps: int | None = None,
    head_from_probe: bool = False,
) -> np.ndarray:
    """Train a copy of ``encoder`` (pretrained: fine-tuning; freshly built: from scratch) and a linear head.

    Binary cross-entropy, AdamW, no augmentation; the encoder sees what it saw in pretraining
    (:meth:`Inputs.plain`). Small training sets get smaller batches and more epochs, at least
    :data:`MIN_STEPS` steps in all. ``steps`` trains exactly that many steps instead (a fixed
    budget, as many epochs as it takes). ``head_from_probe`` starts the head from the linear probe
    (:func:`~jetgraph.probes.classify.fit_linear`, its penalty cross-validated) on the encoder's
    frozen representation of the training jets, instead of at random: LP-FT. Returns the
    probability of class 1 for the ``test`` jets.

    Shapes:
        labels: (num_jets,) 0/1; train, test: indices into ``jets``; returns (len(test),) float64.
    """
    if len(train) < 2:
        raise ProbeError(f"a supervised reference needs at least 2 training jets; got {len(train)}")
    torch.manual_seed(seed)
    batch_size = _batch_size(batch_size, len(train))
    per_epoch = math.ceil(len(train) / batch_size)
    steps = steps if steps is not None else max(epochs * per_epoch, MIN_STEPS)
    model = copy.deepcopy(encoder)
    head = torch.nn.Linear(model.rep_dim, 1)
    if head_from_probe:
        weight, bias = fit_linear(represent(model, inputs, jets, train), labels[train], seed=seed)
        with torch.no_grad():
            head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype)[None])
            head.bias.fill_(bias)
    parameters = [*model.parameters(), *head.parameters()]
    optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01)
    target = torch.as_tensor(labels, dtype=torch.float32)
    generator = np.random.default_rng(seed)
    model.train()
    done = 0
    with torch.enable_grad():
        while done < steps:
            order = generator.permutation(train)
            for start in range(0, len(order), batch_size):
                chosen = torch.as_tensor(np.sort(order[start : start + batch_size]))
                if len(chosen) < 2:
                    continue
                if done == steps:
                    break
                done += 1
                logits = head(model(inputs.plain(jets.take(chosen)))).squeeze(1)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, target[chosen])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
    representation = torch.as_tensor(represent(model, inputs, jets, test))
    with torch.no_grad():
        return torch.sigmoid(head(representation).squeeze(1)).double().numpy()


def supervised_baseline(
    encoder: torch.nn.Module,
    inputs: Inputs,
    train_jets: JetBatch,
    test_jets: JetBatch,
    budget_s: float,
    *,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    calibration_s: float = 30.0,
) -> Baseline:
    """Train a copy of ``encoder`` on every label of ``train_jets`` for about ``budget_s`` seconds; score ``test_jets``.

    The budget becomes a step count measured on this machine: trainings of 5 and of 5 + n steps (n
    worth about ``min(calibration_s, budget_s / 10)`` seconds, at least 10) are timed, and their
    difference, in which copying the encoder and the warm-up cancel, gives the time per step. Then
    exactly ``budget_s`` worth of steps are trained (:func:`train_classifier` with ``steps``, as
    many epochs as it takes). The labels are ``JetBatch.label``, 0 or 1. Training jets from a
    ``--showers`` file may be used: the hard event of each jet (``jet_event``) is not read.

    Raises:
        ProbeError: a budget that is not a positive number of seconds, fewer than 2 training jets.
    """
    if not budget_s > 0:
        raise ProbeError(f"budget_s={budget_s!r}; expected a positive number of seconds")
    jets = JetBatch.cat([_without_events(train_jets), _without_events(test_jets)])
    labels = jets.label.numpy()
    train = np.arange(train_jets.num_jets)
    test = train_jets.num_jets + np.arange(test_jets.num_jets)
    kwargs = {"batch_size": batch_size, "lr": lr, "seed": seed}

    def timed(steps: int) -> float:
        start = time.perf_counter()
        train_classifier(encoder, inputs, jets, labels, train, test[:8], steps=steps, **kwargs)
        return time.perf_counter() - start

    timed(2)  # warm-up: five timed steps alone gave 17 to 22 minutes for a budget of 20
    short = timed(5)
    extra = max(10, int(min(calibration_s, budget_s / 10) / (short / 5)))
    step_s = max(timed(5 + extra) - short, 1e-6) / extra
    steps = max(1, int(budget_s / step_s))
    start = time.perf_counter()
    scores = train_classifier(encoder, inputs, jets, labels, train, test, steps=steps, **kwargs)
    wall_s = time.perf_counter() - start
    jets_seen = steps * _batch_size(batch_size, len(train))
    return Baseline(scores=scores, steps=steps, jets_seen=jets_seen, step_s=step_s, wall_s=wall_s)


def _without_events(jets: JetBatch) -> JetBatch:
    """``jets`` without ``jet_event`` (the pairing of a shower-pair file), so that any two sets can be joined."""
    if "jet_event" not in jets:
        return jets
    out = copy.copy(jets)
    del out["jet_event"]
    return out


def _batch_size(batch_size: int, num_train: int) -> int:
    """The batch size :func:`train_classifier` uses: a few labels get smaller batches, more steps."""
    return min(batch_size, max(8, num_train // 4))


def represent(model: torch.nn.Module, inputs: Inputs, jets: JetBatch, chosen: np.ndarray) -> np.ndarray:
    """The representation of the ``chosen`` jets, in evaluation mode and without gradients, 1024 at a time."""
    model.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(chosen), 1024):
            part = torch.as_tensor(np.asarray(chosen[start : start + 1024]))
            parts.append(model(inputs.plain(jets.take(part))).float())
    return torch.cat(parts).numpy()


__all__ = ["Baseline", "represent", "supervised_baseline", "train_classifier"]
