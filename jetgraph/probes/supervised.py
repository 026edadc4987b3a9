"""The references a probe is read against: the same encoder trained on the labels, from scratch or fine-tuned.

A label-fraction scan means something only next to these. With few labels a pretrained
representation should beat the same architecture trained from scratch on them; with all labels
the fine-tuned encoder shows how much the frozen probe leaves on the table.

Fine-tuning starts its head from the linear probe (LP-FT, Kumar et al., ICLR 2022,
arXiv:2202.10054): a random head sends large, random gradients into the pretrained encoder in the
first steps, which on a few dozen labels undoes the pretraining before the head has learnt anything.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from jetgraph.batch import JetBatch
from jetgraph.inputs import Inputs
from jetgraph.probes.classify import fit_linear
from jetgraph.probes.metrics import ProbeError

MIN_STEPS = 100
"""Optimisation steps a supervised reference gets at least, however few its labels."""


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
    batch_size = min(batch_size, max(8, len(train) // 4))  # a few labels: smaller batches, more steps
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


def represent(model: torch.nn.Module, inputs: Inputs, jets: JetBatch, chosen: np.ndarray) -> np.ndarray:
    """The representation of the ``chosen`` jets, in evaluation mode and without gradients, 1024 at a time."""
    model.eval()
    parts = []
    with torch.no_grad():
        for start in range(0, len(chosen), 1024):
            part = torch.as_tensor(np.asarray(chosen[start : start + 1024]))
            parts.append(model(inputs.plain(jets.take(part))).float())
    return torch.cat(parts).numpy()


__all__ = ["represent", "train_classifier"]
