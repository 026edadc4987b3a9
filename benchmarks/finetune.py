"""Fine-tuning with few labels: which protocol turns a pretrained encoder into the better classifier.

Reads finished pretraining runs of ``benchmarks/quality.py`` (``WORKDIR/runs/<run>/seed<N>``) and,
for each seed and label fraction, trains on the same labelled jets as ``jetgraph probe`` (the seed's
split and nested label subset of the probe sample) but scores on the split's *validation* jets, so
that choosing a protocol here leaves the test jets of the quality table untouched:

- ``scratch``: the encoder's architecture freshly initialised (the seed's weights), lr 1e-3;
- ``fine-tune, random head``: the pretrained encoder with a fresh linear head, lr 3e-4
  (``jetgraph probe`` before 2026-12-02 afternoon);
- ``LP-FT``: the head starts as the cross-validated linear probe, lr 1e-4 (``jetgraph probe`` now);
- ``linear probe``: the frozen representation, no fine-tuning (LP-FT before its first step).

Every protocol trains as ``train_classifier`` does (20 epochs, at least 100 steps, AdamW). Prints a
table of validation AUC (mean ± standard deviation over seeds, and paired against ``scratch``) and
one line with the target: some fine-tuning of the pretrained encoder beats scratch at every fraction.

Usage::

    .venv/bin/python benchmarks/finetune.py                       # data/quality/budget20min_2threads, seeds 0-2
    .venv/bin/python benchmarks/finetune.py --workdir data/quality_quick/budget0.2min_2threads --seeds 0
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from jetgraph import runs
from jetgraph.batch import JetBatch
from jetgraph.data import JetDataset
from jetgraph.inputs import Inputs
from jetgraph.models import build_encoder
from jetgraph.paths import expand_paths
from jetgraph.probes.classify import fit_score, label_fraction_indices, split_indices
from jetgraph.probes.supervised import represent, train_classifier

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = ("scratch", "fine-tune, random head", "LP-FT", "linear probe")


def validation_aucs(run_dir: Path, seed: int, fractions: list[float]) -> dict[str, dict[float, float]]:
    """Each protocol's validation AUC at each label fraction, for the run of one seed."""
    pretrained, config, _ = runs.load_encoder(run_dir)
    inputs = Inputs(config.augment, pretrained.input_kind)
    jets = JetBatch.cat(list(JetDataset(expand_paths(config.data.val), 4096, rank=0, world_size=1)))
    labels = jets.label.numpy()
    train, val, _ = split_indices(jets.num_jets, seed=seed)
    representation = represent(pretrained, inputs, jets, np.arange(jets.num_jets))
    out: dict[str, dict[float, float]] = {name: {} for name in PROTOCOLS}
    for fraction in fractions:
        chosen = train[label_fraction_indices(labels[train], fraction, seed)]
        torch.manual_seed(seed)
        fresh = build_encoder(config.model.encoder, config.model.in_features, **config.model.params)
        scores = {
            "scratch": train_classifier(fresh, inputs, jets, labels, chosen, val, seed=seed),
            "fine-tune, random head": train_classifier(pretrained, inputs, jets, labels, chosen, val, seed=seed,
                                                       lr=3e-4),
            "LP-FT": train_classifier(pretrained, inputs, jets, labels, chosen, val, seed=seed, lr=1e-4,
                                      head_from_probe=True),
            "linear probe": fit_score("linear", representation[chosen], labels[chosen], representation[val],
                                      seed=seed),
        }  # fmt: skip
        for name, score in scores.items():
            out[name][fraction] = float(roc_auc_score(labels[val], score))
        print(f"  seed {seed}, {fraction:g} of labels: "
              + ", ".join(f"{n} {out[n][fraction]:.3f}" for n in PROTOCOLS), flush=True)  # fmt: skip
    return out


def _spread(values: list[float], signed: bool = False) -> str:
    mean = statistics.fmean(values)
    text = f"{mean:+.3f}" if signed else f"{mean:.3f}"
    return text if len(values) < 2 else f"{text} ± {statistics.stdev(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / "data" / "quality" / "budget20min_2threads")
    parser.add_argument("--run", default="transformer", help="the pretraining run under WORKDIR/runs [transformer]")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--fractions", default="0.01,0.1")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    fractions = [float(f) for f in args.fractions.split(",")]
    results = {}
    for seed in seeds:
        run_dir = args.workdir / "runs" / args.run / f"seed{seed}"
        if runs.latest_checkpoint(run_dir) is None:
            sys.exit(f"{run_dir}: no finished pretraining run; run benchmarks/quality.py first")
        results[seed] = validation_aucs(run_dir, seed, fractions)
    print(f"\nValidation AUC (2,000 jets per seed), seeds {seeds}; run {args.workdir / 'runs' / args.run}\n")
    print("| protocol | " + " | ".join(f"AUC, {f:g} of labels | − scratch, paired" for f in fractions) + " |")
    print("|---" * (2 * len(fractions) + 1) + "|")
    wins = {}
    for name in PROTOCOLS:
        cells = []
        for f in fractions:
            values = [results[s][name][f] for s in seeds]
            diffs = [results[s][name][f] - results[s]["scratch"][f] for s in seeds]
            cells += [_spread(values), "–" if name == "scratch" else _spread(diffs, signed=True)]
            if name in ("fine-tune, random head", "LP-FT"):
                error = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
                wins.setdefault(name, []).append(statistics.fmean(diffs) - error > 0)
        print(f"| {name} | " + " | ".join(cells) + " |")
    best = [name for name, won in wins.items() if all(won)]
    verdict = f"MET by {', '.join(best)}" if best else "NOT MET"
    labelled = ", ".join(f"{f:g}" for f in fractions)
    print(f"\nTARGET a fine-tuned pretrained encoder beats scratch at {labelled} of the labels by one standard"
          f" error ({len(seeds)} seeds): {verdict}")  # fmt: skip


if __name__ == "__main__":
    main()
