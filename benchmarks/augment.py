"""Cost of the pretraining augmentation chain, next to a training step and a per-jet loop.

The chain is the one contrastive pretraining runs on every batch: ``TwoViews(Compose([RandomRotate(),
RandomTranslate(), Smear(), CollinearSplit(splits=2)]))``, batched over a whole ``JetBatch``. In the
same run, on the same batches and one thread, it is timed against:

(a) one training step on its two views, the way ``jetgraph.train.Trainer`` runs it: both views joined
    into one batch (``join``), one forward of ``Contrastive`` (jetgraph's default encoder,
    ``build_encoder("transformer", num_node_features(batch))``: 4 layers, width 128, 8 heads,
    feed-forward 512, 128 particles at most, masked mean pooling; then ``ProjectionHead`` 128 -> 512 ->
    128), ``NTXentLoss(temperature=0.1)`` on the two halves of the embeddings, backward and an AdamW
    step (fp32; node features and padding happen inside the encoder);
(b) the same augmentations written as a straightforward loop over jets in numpy (rotate,
    translate, smear, split twice, two views), the way published implementations do it.

Targets: the chain costs under 5% of the training step, and runs at least 10x faster than the
per-jet loop. The exit code is 0 whether or not they are met.

Usage::

    python benchmarks/augment.py               # 8 batches of 256 jets, best of 5 passes
    python benchmarks/augment.py --batches 2   # a smoke check
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from jetgraph.augment import CollinearSplit, Compose, RandomRotate, RandomTranslate, Smear, TwoViews  # noqa: E402
from jetgraph.batch import JetBatch  # noqa: E402
from jetgraph.data import JetDataset  # noqa: E402
from jetgraph.features import num_node_features  # noqa: E402
from jetgraph.io.examples import write_jetclass  # noqa: E402
from jetgraph.losses import NTXentLoss  # noqa: E402
from jetgraph.models import ProjectionHead, build_encoder  # noqa: E402
from jetgraph.train import Contrastive, join  # noqa: E402

SHARE_TARGET = 0.05  # chain seconds / training-step seconds, at most
SPEEDUP_TARGET = 10.0  # chain jets/s / per-jet loop jets/s, at least
TRANSLATE_WIDTH, SMEAR_STRENGTH, SPLIT_FRACTION = 0.1, 0.1, 0.5


def chain() -> TwoViews:
    """The pretraining chain, as jetgraph runs it."""
    steps = [
        RandomRotate(),
        RandomTranslate(width=TRANSLATE_WIDTH),
        Smear(strength=SMEAR_STRENGTH),
        CollinearSplit(fraction=SPLIT_FRACTION, splits=2),
    ]
    return TwoViews(Compose(steps))


# ------------------------------------------------------------------------------- (b) the per-jet loop


def _one_view(pt, eta, phi, energy, axis_eta, axis_phi, rng):  # noqa: ANN001, ANN202
    mass2 = np.clip(energy**2 - (pt * np.cosh(eta)) ** 2, 0, None)
    angle = rng.uniform(0, 2 * np.pi)
    deta, dphi = eta - axis_eta, np.angle(np.exp(1j * (phi - axis_phi)))
    deta, dphi = np.cos(angle) * deta - np.sin(angle) * dphi, np.sin(angle) * deta + np.cos(angle) * dphi
    deta, dphi = deta + rng.normal(0, TRANSLATE_WIDTH), dphi + rng.normal(0, TRANSLATE_WIDTH)
    sigma = np.minimum(SMEAR_STRENGTH / pt, 0.5)
    eta = axis_eta + deta + rng.normal(0, 1, len(pt)) * sigma
    phi = np.angle(np.exp(1j * (axis_phi + dphi + rng.normal(0, 1, len(pt)) * sigma)))
    energy = np.sqrt(mass2 + (pt * np.cosh(eta)) ** 2)
    for _ in range(2):
        new = []
        for i in range(len(pt)):
            if rng.uniform() < SPLIT_FRACTION:
                z = rng.uniform()
                new.append((pt[i] * (1 - z), eta[i], phi[i], energy[i] * (1 - z)))
                pt[i], energy[i] = pt[i] * z, energy[i] * z
        if new:
            extra = np.array(new).T
            pt, eta, phi, energy = (np.concatenate([a, b]) for a, b in zip((pt, eta, phi, energy), extra, strict=True))
    return pt, eta, phi, energy


def per_jet_loop(batch: JetBatch, rng: np.random.Generator) -> int:
    """The same augmentations, one jet at a time in numpy; returns the particles made (to use them)."""
    ptr = batch.ptr.tolist()
    columns = [batch[name].numpy().astype(np.float64) for name in ("pt", "eta", "phi", "energy")]
    axis_eta, axis_phi = batch.jet_eta.tolist(), batch.jet_phi.tolist()
    made = 0
    for jet in range(batch.num_jets):
        piece = slice(ptr[jet], ptr[jet + 1])
        for _ in range(2):  # two views
            view = _one_view(*(c[piece].copy() for c in columns), axis_eta[jet], axis_phi[jet], rng)
            made += len(view[0])
    return made


# ------------------------------------------------------------------------------ (a) the training step


def default_model(batch: JetBatch) -> Contrastive:
    """jetgraph's default encoder (the transformer with its default parameters) and projection head."""
    encoder = build_encoder("transformer", num_node_features(batch))
    return Contrastive(encoder, ProjectionHead(encoder.rep_dim))


def training_step(
    model: Contrastive, loss_fn: NTXentLoss, optimiser: torch.optim.Optimizer, views: tuple[JetBatch, JetBatch]
) -> None:
    """What ``Trainer.train_step`` does with two views (fp32, without clipping and schedule)."""
    optimiser.zero_grad(set_to_none=True)
    _, z = model(join(*views))
    n = views[0].num_jets
    loss = loss_fn(z[:n], z[n:])
    loss.backward()
    optimiser.step()


# ------------------------------------------------------------------------------------------- the run


def _best(repeats: int, function, batches) -> float:  # noqa: ANN001
    """Best total seconds over ``repeats`` passes of ``function`` over every batch."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for batch in batches:
            function(batch)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=8, help="batches of --batch-size jets")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5, help="passes; the best counts")
    parser.add_argument("--step-batches", type=int, default=2, help="batches the training step is timed on")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory(prefix="jetgraph-bench-") as folder:
        n_jets = args.batches * args.batch_size
        path = write_jetclass(Path(folder) / "jets.root", n_jets=n_jets, seed=1)
        batches = list(JetDataset(path, args.batch_size, recipe="jetclass"))
    particles = sum(b.num_nodes for b in batches) / n_jets

    augment = chain()
    generator = torch.Generator().manual_seed(1)
    views = [augment(b, generator) for b in batches]  # warm-up, and the step's input
    model = default_model(batches[0])
    loss_fn = NTXentLoss(temperature=0.1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    rng = np.random.default_rng(2)
    per_jet_loop(batches[0], rng)  # warm-up

    chain_s = _best(args.repeats, lambda b: augment(b, generator), batches)
    loop_s = _best(max(1, args.repeats // 2), lambda b: per_jet_loop(b, rng), batches)
    step_batches = views[: args.step_batches]  # seconds per step on one CPU thread: a few suffice
    step = functools.partial(training_step, model, loss_fn, optimiser)
    step(step_batches[0])  # warm-up
    step_s = _best(1, step, step_batches) * args.batches / len(step_batches)
    after = sum(v[0].num_nodes for v in views) / n_jets

    print(
        f"{n_jets} jets ({args.batches} batches of {args.batch_size}, {particles:.0f} particles/jet, "
        f"{after:.0f} after 2 splits), 1 thread, best of {args.repeats} passes"
    )
    print(f"chain: {augment!r}")
    print(f"{'step':<44}{'seconds':>9}{'jets/s':>11}{'ms/batch':>10}")
    for name, seconds in (
        ("augmentation chain (batched, jetgraph)", chain_s),
        ("augmentation, per-jet numpy loop", loop_s),
        ("training step (features, fwd+bwd, 2 views)*", step_s),
    ):
        print(f"{name:<44}{seconds:>9.3f}{n_jets / seconds:>11,.0f}{1000 * seconds / args.batches:>10.1f}")
    print(f"* timed on {len(step_batches)} batch(es) once, scaled to {args.batches}")
    share, speedup = chain_s / step_s, loop_s / chain_s
    print(
        f"TARGET chain <= {SHARE_TARGET:.0%} of the training step: {share:.1%} -> "
        f"{'MET' if share <= SHARE_TARGET else 'NOT MET'}"
    )
    print(
        f"TARGET chain >= {SPEEDUP_TARGET:.0f}x the per-jet loop's rate: {speedup:.0f}x -> "
        f"{'MET' if speedup >= SPEEDUP_TARGET else 'NOT MET'}"
    )


if __name__ == "__main__":
    main()
