"""The references a probe is read against: the same encoder trained on the labels, from scratch or fine-tuned.

A label-fraction scan means something only next to these. With few labels a pretrained
representation should beat the same architecture trained from scratch on them; with all labels
the fine-tuned encoder shows how much the frozen probe leaves on the table.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from jetgraph.batch import JetBatch
from jetgraph.inputs import Inputs
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
) -> np.ndarray:
    """Train a copy of ``encoder`` (pretrained: fine-tuning; freshly built: from scratch) and a linear head.

    Binary cross-entropy, AdamW, no augmentation; the encoder sees what it saw in pretraining
    (:meth:`Inputs.plain`). Small training sets get smaller batches and more epochs, at least
    :data:`MIN_STEPS` steps in all. ``steps`` trains exactly that many steps instead (a fixed
    budget, as many epochs as it takes). Returns the probability of class 1 for the ``test`` jets.

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
    model.eval()
    scores = []
    with torch.no_grad():
        for start in range(0, len(test), 1024):
            chosen = torch.as_tensor(test[start : start + 1024])
            scores.append(torch.sigmoid(head(model(inputs.plain(jets.take(chosen)))).squeeze(1)))
    return torch.cat(scores).double().numpy()


__all__ = ["train_classifier"]
