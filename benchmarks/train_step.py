"""Training-step speed of every encoder in fp32 and bf16, its model FLOP utilisation, and bf16 training.

Everything runs in one process with ``--threads`` threads (OMP/MKL are set before numpy and torch are
imported, and ``torch.set_num_threads``), so the step and its references share the machine alike.

1. Matmul rate, per precision: the three GEMM layouts a Linear layer runs, forward ``x W^T``,
   ``dY W`` (input gradient) and ``dY^T X`` (weight gradient), with M = ``--gemm-rows`` rows and
   N = K = 1000 (the JetCLR width), fp32 and pure bf16 tensors, best of ``--repeats`` interleaved calls,
   timed at the start and again at the end of the run. FLOP/s = 2 M N K / seconds; the matmul rate of a
   precision is its fastest layout: the denominator of the MFU.
2. Training steps. A step is ``jetgraph.train.Trainer.train_step`` itself (the real code path): both
   views joined (``join``: 2B jets), one forward of ``Contrastive`` (encoder + ``ProjectionHead``,
   rep_dim -> 512 -> 128) under ``torch.autocast("cpu", bfloat16)`` for bf16, NT-Xent
   (temperature 0.1) on ``z.float()``, backward, gradient clipping at 1.0, AdamW and the schedule. The
   two views of each batch are made *beforehand* with ``jetgraph.inputs.Inputs.pair`` and the
   pretraining chain (rotate, translate 0.1, smear 0.1, collinear split 0.5 twice; jet images for
   ``resnet``) and handed to the trainer, so the augmentation is not in the step (benchmarks/augment.py
   times it). Rows: each encoder at its default parameters (transformer batch 128, edgeconv 64,
   resnet 128), the JetCLR size (Dillon et al. 2021: transformer dim 1000, 4 layers, 4 heads,
   feed-forward 1000, 50 particles, batch 128, on jets with at least 50 particles, so every jet gives
   exactly 50 tokens) and the default transformer at batch 512 (item 4). Each row: one warm-up step
   that also counts the FLOPs, then up to ``--repeats`` timed steps interleaved with the other rows of
   its encoder (a row stops repeating once it has spent ``--row-seconds``); the best counts.
   FLOPs per step: ``torch.utils.flop_counter.FlopCounterMode`` around the warm-up step (forward and
   backward matmuls, convolutions and attention; CPU flash attention added to its table; elementwise
   work and the optimiser count nothing). MFU = FLOPs per step / best step seconds / matmul rate of
   the row's precision.
   A bf16 row whose step would take longer than ``--bf16-limit`` seconds (the fp32 step time times the
   fp32/bf16 matmul-rate ratio, averaged over the three layouts) runs at a smaller batch (halved, at
   least 2 jets), next to an fp32 row at that batch; both are marked ``*`` and the bf16 speed-up is taken
   between them. This happens on CPUs without native bf16 (no AVX-512/AMX: bf16 matmuls fall back to
   slow reference kernels).
3. bf16 training: two trainers of the JetCLR size built with the same seed run ``--loss-steps`` (50)
   steps, fp32 and bf16, on the same batches with the same views. Criterion: the mean |bf16 - fp32|
   loss over the last 10 steps is smaller than the fp32 loss's step-to-step noise there, the standard
   deviation of its consecutive differences divided by sqrt(2) (the scatter of one loss around its
   trend from batch to batch): bf16 then drifts less than the loss moves between two batches. A full
   JetCLR step takes tens of seconds on a CPU, so the comparison uses the JetCLR widths at
   ``--loss-batch`` jets (default 16; ``--loss-batch 128`` for the full size), halved (at least 2) while
   its estimated bf16 time (from the JetCLR bf16 row) is over ``--loss-limit`` seconds, and JetCLR's
   learning rate, 5e-5 (at jetgraph's default 5e-4 this model collapses to one embedding for every jet
   within 20 steps of 2 jets: every loss is then ln(2B - 1) and there is nothing to compare).
4. NT-Xent share: the loss's forward and backward on (512, 128) embeddings per view (``Trainer.loss``,
   best of 20 calls after each timed step), over the best full step of the default transformer at
   batch 512 (fp32, a row of item 2).

Targets: the JetCLR size's fp32 MFU >= 50%, and the default transformer's at batch 512; bf16 autocast
speeds the JetCLR step up by >= 90% of what the matmul itself gains (the bf16/fp32 matmul-rate ratio
at its width), with the loss over 50 steps matching fp32 within noise; the NT-Xent loss <= 2% of the
step at batch 512. The exit code is 0 whether or not they are met.

Usage::

    python benchmarks/train_step.py              # every row, all cores (about 12 minutes on 2 cores)
    python benchmarks/train_step.py --quick      # small batches, a small JetCLR-shaped model: smoke check
    python benchmarks/train_step.py --threads 1                    # one thread
    python benchmarks/train_step.py --bf16-limit 1e9 --loss-batch 128 --loss-limit 1e9   # full sizes, however slow
"""

from __future__ import annotations

import argparse
import os


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _early_threads() -> int:
    """``--threads`` before numpy and torch are imported, so OpenMP and MKL start with that many."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--threads", type=int, default=_usable_cores())
    return max(1, parser.parse_known_args()[0].threads)


THREADS = _early_threads()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import math  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import awkward as ak  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils import flop_counter  # noqa: E402

import jetgraph  # noqa: E402
from jetgraph.batch import JetBatch  # noqa: E402
from jetgraph.config import AugmentConfig, load_config  # noqa: E402
from jetgraph.inputs import Inputs  # noqa: E402
from jetgraph.io.examples import write_jetclass  # noqa: E402
from jetgraph.memory import keep_freed_memory  # noqa: E402
from jetgraph.models import ENCODERS  # noqa: E402
from jetgraph.train import Trainer  # noqa: E402

MFU_TARGET = 0.50  # JetCLR fp32, and the default transformer fp32 at batch 512: model FLOP/s over the fp32 matmul rate
BF16_TARGET = 0.90  # JetCLR: the bf16 step speed-up over the bf16/fp32 matmul-rate ratio, at least
LOSS_SHARE_TARGET = 0.02  # NT-Xent forward + backward over the whole step at batch 512, at most
SHARE_BATCH = 512
LAST = 10  # the bf16 loss criterion looks at the last LAST steps
CHAIN = [
    "rotate",
    {"translate": {"width": 0.1}},
    {"smear": {"strength": 0.1}},
    {"collinear_split": {"fraction": 0.5, "splits": 2}},
]
JETCLR = {"dim": 1000, "layers": 4, "heads": 4, "ffn": 1000, "max_particles": 50}
JETCLR_LR = 5e-5  # JetCLR's Adam learning rate; at jetgraph's default 5e-4 this model collapses in a few small steps
QUICK_JETCLR = {"dim": 256, "layers": 2, "heads": 4, "ffn": 256, "max_particles": 50}
GEMM_WIDTH = 1000
PRECISIONS = ("fp32", "bf16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


# ------------------------------------------------------------------------------------ the machine


def cpu_summary() -> str:
    """CPU model, torch's kernel level, and whether oneDNN runs bf16 natively (AVX-512 / AMX)."""
    flags: set[str] = set()
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in (platform.processor(), platform.machine()):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    bf16_flags = sorted(f for f in flags if f in ("avx512f", "avx512_bf16", "amx_bf16")) or ["none of avx512f/bf16/amx"]
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    return (
        f"{model}; torch {torch.__version__} kernels {torch.backends.cpu.get_cpu_capability()}; "
        f"oneDNN bf16: {'yes' if native else 'NO (bf16 matmuls use slow fallback kernels)'}; "
        f"CPU flags: {', '.join(bf16_flags)}"
    )


def gemm_rates(rows: int, repeats: int, best: dict[tuple[str, str], float]) -> None:
    """Update ``best[(precision, layout)]`` with the best FLOP/s of each Linear-layer GEMM layout."""
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for precision, dtype in DTYPES.items():
        x = torch.randn(rows, GEMM_WIDTH, generator=generator).to(dtype)
        w = torch.randn(GEMM_WIDTH, GEMM_WIDTH, generator=generator).to(dtype)
        dy = torch.randn(rows, GEMM_WIDTH, generator=generator).to(dtype)
        tensors[precision] = (x, w, dy)
    layouts: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
        "x W^T": lambda x, w, dy: F.linear(x, w),
        "dY W": lambda x, w, dy: dy @ w,
        "dY^T X": lambda x, w, dy: dy.T @ x,
    }
    flops = 2.0 * rows * GEMM_WIDTH * GEMM_WIDTH
    for precision in PRECISIONS:  # warm-up
        for layout in layouts.values():
            layout(*tensors[precision])
    for _ in range(repeats):
        for precision in PRECISIONS:
            for name, layout in layouts.items():
                start = time.perf_counter()
                layout(*tensors[precision])
                rate = flops / (time.perf_counter() - start)
                best[precision, name] = max(best.get((precision, name), 0.0), rate)


# ---------------------------------------------------------------------------------------- FLOPs


def _cpu_attention(query, key, value, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    return flop_counter.sdpa_flop_count(query, key, value)


def _cpu_attention_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:  # noqa: ANN001
    return flop_counter.sdpa_backward_flop_count(grad_out, query, key, value)


CPU_ATTENTION = {
    op: formula
    for name, formula in (
        ("_scaled_dot_product_flash_attention_for_cpu", _cpu_attention),
        ("_scaled_dot_product_flash_attention_for_cpu_backward", _cpu_attention_backward),
    )
    if (op := getattr(torch.ops.aten, name, None)) is not None
}
"""torch's FLOP table lacks the CPU flash-attention kernels scaled_dot_product_attention runs here."""


# ----------------------------------------------------------------------------------- the steps


class ReadyViews:
    """Stands in for ``Trainer.inputs``: gives each batch the two views made for it beforehand."""

    def __init__(self) -> None:
        self._views: dict[int, tuple[JetBatch, tuple[Any, Any]]] = {}

    def add(self, batch: JetBatch, views: tuple[Any, Any]) -> JetBatch:
        self._views[id(batch)] = (batch, views)  # the batch is kept, so its id stays its own
        return batch

    def pair(self, batch: JetBatch, generator: torch.Generator | None = None) -> tuple[Any, Any]:
        return self._views[id(batch)][1]


@dataclass
class Setup:
    """One model configuration of the table."""

    label: str
    encoder: str
    params: dict[str, Any]
    batch: int
    jetclr: bool = False  # jets with at least max_particles particles, every jet the same number of tokens
    lr: float | None = None  # the trainer's learning rate (None: the config default)


@dataclass
class Row:
    setup: Setup
    precision: str
    batch: JetBatch
    jets: int
    trainer: Trainer
    inputs_per_jet: str
    flops: int = 0
    times: list[float] = field(default_factory=list)
    reduced: bool = False

    @property
    def best(self) -> float:
        return min(self.times)


class Bench:
    """The data, the trainers and the views; every step goes through ``Trainer.train_step``."""

    def __init__(self, folder: Path, path: Path, jets: ak.Array, threads: int) -> None:
        self.folder, self.path, self.threads = folder, path, threads
        self.jets = jets
        self.long_jets = jets[ak.num(jets.part) >= JETCLR["max_particles"]]
        self.views = ReadyViews()
        self.generator = torch.Generator().manual_seed(7)
        self._runs = 0
        self._timing_batches: dict[tuple[str, int], JetBatch] = {}

    def trainer(self, setup: Setup, precision: str, steps: int = 1000) -> Trainer:
        """A fresh trainer (seed 0: every trainer of a setup starts from the same weights)."""
        config = load_config(None, [f"data.train={self.path}", "data.recipe=jetclass", "data.val_jets=2"])
        config.model.encoder, config.model.params = setup.encoder, dict(setup.params)
        config.augment = AugmentConfig(transforms=list(CHAIN))
        train = config.train
        train.precision, train.threads, train.progress, train.seed = precision, self.threads, False, 0
        train.epochs, train.steps_per_epoch = 1, steps
        if setup.lr is not None:
            train.lr = setup.lr
        self._runs += 1
        trainer = Trainer(config, self.folder / f"run{self._runs}")
        trainer.inputs = self.views
        return trainer

    def batches(self, setup: Setup, jets: int, count: int = 1, start: int = 0) -> list[JetBatch]:
        """``count`` batches of ``jets`` jets with their views (made with the pretraining chain) registered."""
        pool = self.long_jets if setup.jetclr else self.jets
        inputs = Inputs(AugmentConfig(transforms=list(CHAIN)), ENCODERS[setup.encoder].input_kind)
        out = []
        for index in range(start, start + count):
            picked = np.arange(index * jets, (index + 1) * jets) % len(pool)
            batch = JetBatch.from_jets(pool[picked])
            out.append(self.views.add(batch, inputs.pair(batch, self.generator)))
        return out

    def inputs_per_jet(self, setup: Setup, batch: JetBatch) -> str:
        first, _ = self.views.pair(batch)
        if not isinstance(first, JetBatch):
            return f"{first.shape[-2]}x{first.shape[-1]} px"
        counts = first.ptr.diff().float()
        limit = setup.params.get("max_particles", 128) if setup.encoder == "transformer" else None
        if limit is not None:
            counts = counts.clamp(max=limit)
        return f"{counts.mean():.1f}"

    def row(self, setup: Setup, precision: str, trainer: Trainer, jets: int, reduced: bool = False) -> Row:
        """A row, after its warm-up step (which counts the FLOPs); rows of a setup and size share batch and views."""
        if (setup.label, jets) not in self._timing_batches:
            (self._timing_batches[setup.label, jets],) = self.batches(setup, jets)
        batch = self._timing_batches[setup.label, jets]
        row = Row(setup, precision, batch, jets, trainer, self.inputs_per_jet(setup, batch), reduced=reduced)
        with flop_counter.FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION) as counter:
            trainer.train_step(batch)
        row.flops = counter.get_total_flops()
        return row


MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::_scaled_dot_product_flash_attention_for_cpu")


def matmul_seconds(row: Row) -> tuple[float, float]:
    """Seconds of one profiled step spent in matmuls and attention (forward and backward), and in all operators.

    The first number is what the step would take if everything else (elementwise work, norms, copies, the
    optimiser) took no time: the MFU the step's own matmul shapes allow.
    """
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler:
        row.trainer.train_step(row.batch)
    events = profiler.key_averages()
    kernels = sum(e.self_cpu_time_total for e in events if e.key.startswith(MATMUL_OPS))
    return kernels / 1e6, sum(e.self_cpu_time_total for e in events) / 1e6


def timed_step(row: Row) -> float:
    start = time.perf_counter()
    row.trainer.train_step(row.batch)
    seconds = time.perf_counter() - start
    row.times.append(seconds)
    return seconds


def repeat(rows: list[Row], repeats: int, row_seconds: float, extra: Callable[[], None] | None = None) -> None:
    """Interleaved timed steps: round after round over ``rows``, each row until it has ``repeats`` or its budget."""
    for _ in range(repeats):
        pending = [r for r in rows if len(r.times) < repeats and (not r.times or sum(r.times) < row_seconds)]
        if not pending:
            break
        for row in pending:
            timed_step(row)
        if extra is not None:
            extra()


def measure_setup(bench: Bench, setup: Setup, args: argparse.Namespace, slowdown: float) -> list[Row]:
    """fp32 and bf16 rows of ``setup`` (bf16 at a smaller batch, beside an fp32 one, when it would be too slow)."""
    fp32 = bench.trainer(setup, "fp32")
    rows = [bench.row(setup, "fp32", fp32, setup.batch)]
    first = timed_step(rows[0])
    jets = setup.batch
    while jets > 2 and first * jets / setup.batch * slowdown > args.bf16_limit:
        jets //= 2
    if jets < setup.batch:
        rows.append(bench.row(setup, "fp32", fp32, jets, reduced=True))
    rows.append(bench.row(setup, "bf16", bench.trainer(setup, "bf16"), jets, reduced=jets < setup.batch))
    repeat(rows, args.repeats, args.row_seconds)
    return rows


# ------------------------------------------------------------------------------------- the output


def print_rows(rows: list[Row], rate: dict[str, float]) -> None:
    print(
        f"{'encoder':<22}{'prec':>5}{'batch':>7}{'in/jet':>11}{'ms/step':>10}{'jets/s':>9}"
        f"{'GFLOP/step':>12}{'GFLOP/s':>9}{'MFU':>7}{'steps':>6}"
    )
    for row in rows:
        gflops = row.flops / 1e9
        mfu = row.flops / row.best / rate[row.precision]
        batch = f"{row.jets}{'*' if row.reduced else ''}"
        print(
            f"{row.setup.label:<22}{row.precision:>5}{batch:>7}{row.inputs_per_jet:>11}{1e3 * row.best:>10,.0f}"
            f"{row.jets / row.best:>9,.1f}{gflops:>12,.1f}{gflops / row.best:>9,.1f}{mfu:>7.1%}{len(row.times):>6}"
        )


def verdict(met: bool) -> str:
    return "MET" if met else "NOT MET"


def loss_comparison(bench: Bench, setup: Setup, steps: int, jets: int) -> tuple[list[float], list[float]]:
    """Losses of ``steps`` steps in fp32 and bf16, same initial weights, same batches and views."""
    batches = bench.batches(setup, jets, count=steps, start=1000)
    losses = {}
    for precision in PRECISIONS:
        trainer = bench.trainer(setup, precision, steps=steps)
        losses[precision] = [trainer.train_step(batch) for batch in batches]
    return losses["fp32"], losses["bf16"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--threads", type=int, default=THREADS, help="torch, OpenMP and MKL threads (default: every usable core)")
    add("--quick", action="store_true", help="small batches and a small JetCLR-shaped model: a smoke check")
    add("--repeats", type=int, default=None, help="timed steps per row, best counts (default 3; 1 with --quick)")
    add("--row-seconds", type=float, default=60.0, help="a row stops repeating after this many timed seconds")
    add("--bf16-limit", type=float, default=30.0, help="seconds per bf16 step before its batch is halved")
    add("--gemm-rows", type=int, default=None, help="M of the reference GEMMs (default 2048; 512 with --quick)")
    add("--loss-steps", type=int, default=None, help="steps of the bf16/fp32 loss comparison (default 50; 5 quick)")
    add("--loss-batch", type=int, default=None, help="jets per step of the loss comparison (default 16; 4 quick)")
    add("--loss-limit", type=float, default=420.0, help="seconds of bf16 steps before --loss-batch is halved")
    args = parser.parse_args()
    quick = args.quick
    args.repeats = args.repeats or (1 if quick else 3)
    args.gemm_rows = args.gemm_rows or (512 if quick else 2048)
    args.loss_steps = args.loss_steps or (5 if quick else 50)
    args.loss_batch = args.loss_batch or (4 if quick else 16)
    share_batch = 64 if quick else SHARE_BATCH
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    if quick:
        jetclr = Setup("JetCLR-shaped (small)", "transformer", QUICK_JETCLR, 8, jetclr=True, lr=JETCLR_LR)
    else:
        jetclr = Setup("JetCLR transformer", "transformer", JETCLR, 128, jetclr=True, lr=JETCLR_LR)
    setups = [
        Setup("transformer", "transformer", {}, 16 if quick else 128),
        Setup("edgeconv", "edgeconv", {}, 8 if quick else 64),
        Setup("resnet", "resnet", {}, 16 if quick else 128),
        jetclr,
    ]
    kept = keep_freed_memory()  # as the trainer does on a CPU, before the reference matmuls too
    print(f"{args.threads} thread(s); {cpu_summary()}")
    print(f"malloc keeps freed memory (jetgraph.memory): {'yes' if kept else 'no (not glibc)'}")
    started = time.perf_counter()

    gemm: dict[tuple[str, str], float] = {}
    gemm_rates(args.gemm_rows, max(1, args.repeats), gemm)
    rate = {p: max(v for (q, _), v in gemm.items() if q == p) for p in PRECISIONS}
    # a step's matmul FLOPs are split about evenly between the three layouts: bf16 seconds per fp32 second
    slowdown = float(np.mean([gemm["fp32", name] / gemm["bf16", name] for (p, name) in gemm if p == "fp32"]))

    with tempfile.TemporaryDirectory(prefix="jetgraph-bench-") as folder:
        # jets with >= 50 particles are ~7% of these (Poisson, mean 40): enough for the JetCLR rows and the comparison
        wanted = max(jetclr.batch, args.loss_steps * args.loss_batch)
        n_jets = max(2 * share_batch, math.ceil(wanted / 0.05))
        path = write_jetclass(Path(folder) / "jets.root", n_jets=n_jets, seed=1)
        bench = Bench(Path(folder), path, jetgraph.read(path, recipe="jetclass"), args.threads)
        print(
            f"{n_jets:,} synthetic jets ({float(ak.mean(ak.num(bench.jets.part))):.1f} particles/jet; "
            f"{len(bench.long_jets):,} with >= {JETCLR['max_particles']} for the JetCLR rows); views: {CHAIN}"
        )

        rows: list[Row] = []
        for setup in setups:
            rows += measure_setup(bench, setup, args, slowdown)

        # the NT-Xent share: the default transformer's step at batch 512, and the loss alone, interleaved
        share_setup = Setup("transformer", "transformer", {}, share_batch)
        share_row = bench.row(share_setup, "fp32", rows[0].trainer, share_batch)
        z1, z2 = (torch.randn(share_batch, 128, requires_grad=True) for _ in range(2))
        loss_times: list[float] = []

        def time_loss() -> None:
            for _ in range(20):
                start = time.perf_counter()
                share_row.trainer.loss(z1, z2).backward()
                loss_times.append(time.perf_counter() - start)

        time_loss()
        repeat([share_row], args.repeats, args.row_seconds, extra=time_loss)
        rows.append(share_row)
        kernels, profiled = matmul_seconds(share_row)

        # bf16 training against fp32 at the JetCLR widths
        fp32_jetclr = next(r for r in rows if r.setup is jetclr and r.precision == "fp32" and r.jets == jetclr.batch)
        bf16_jetclr = next(r for r in rows if r.setup is jetclr and r.precision == "bf16")
        small = next(r for r in rows if r.setup is jetclr and r.precision == "fp32" and r.jets == bf16_jetclr.jets)
        loss_jets = args.loss_batch
        bf16_per_jet = bf16_jetclr.best / bf16_jetclr.jets
        while loss_jets > 2 and args.loss_steps * loss_jets * bf16_per_jet > args.loss_limit:
            loss_jets //= 2
        loss_started = time.perf_counter()
        fp32_losses, bf16_losses = loss_comparison(bench, jetclr, args.loss_steps, loss_jets)
        loss_seconds = time.perf_counter() - loss_started

    gemm_rates(args.gemm_rows, max(1, args.repeats // 2), gemm)  # again at the end: the best rate of the run
    rate = {p: max(v for (q, _), v in gemm.items() if q == p) for p in PRECISIONS}

    print()
    print(f"matmul rate, {args.gemm_rows} x {GEMM_WIDTH} x {GEMM_WIDTH} (GFLOP/s, best at start and end of the run):")
    for precision in PRECISIONS:
        layouts = "  ".join(f"{name} {gemm[precision, name] / 1e9:,.1f}" for (p, name) in gemm if p == precision)
        print(f"  {precision}: {layouts}  -> rate {rate[precision] / 1e9:,.1f}")
    print()
    print_rows(rows, rate)
    dims = jetclr.params
    tokens = 2 * jetclr.batch * dims["max_particles"]
    analytic = 3 * tokens * dims["layers"] * 2 * (4 * dims["dim"] ** 2 + 2 * dims["dim"] * dims["ffn"])
    print(
        "in/jet: tokens per jet the model sees in the views (particles, cut to max_particles), or the image size. "
        "MFU: GFLOP/s over the matmul rate of the row's precision."
    )
    print(
        f"{jetclr.label} FLOPs per step: counted {fp32_jetclr.flops / 1e12:.3f} TFLOP; the blocks' Linear "
        f"layers alone, 3 x {tokens:,} tokens x {dims['layers']} layers x 2(4 d^2 + 2 d ffn) = "
        f"{analytic / 1e12:.3f} TFLOP"
    )
    if bf16_jetclr.reduced:
        print(
            f"* bf16 batch halved until its estimated step (the fp32 step x {slowdown:.1f}, the mean over the three "
            f"layouts of fp32/bf16 matmul rate) fits --bf16-limit {args.bf16_limit:g} s; fp32 at that batch beside it"
        )
    loss_share = min(loss_times) / share_row.best
    print(
        f"the transformer's fp32 step at batch {share_batch}, profiled once ({1e3 * profiled:,.0f} ms): matmuls and "
        f"attention {1e3 * kernels:,.0f} ms ({kernels / profiled:.0%}) at {share_row.flops / kernels / 1e9:,.1f} "
        f"GFLOP/s = {share_row.flops / kernels / rate['fp32']:.0%} of the matmul rate; the rest (elementwise, norms, "
        f"copies, optimiser) {1e3 * (profiled - kernels):,.0f} ms"
    )
    print(
        f"NT-Xent forward+backward on 2 x ({share_batch}, 128): {1e3 * min(loss_times):.2f} ms (best of "
        f"{len(loss_times)}), over the transformer's fp32 step at batch {share_batch}: {1e3 * share_row.best:,.0f} ms"
    )

    print()
    last = min(LAST, args.loss_steps // 2)
    a, b = np.array(fp32_losses), np.array(bf16_losses)
    drift = float(np.mean(np.abs(b[-last:] - a[-last:])))
    noise = float(np.std(np.diff(a[-last - 1 :]), ddof=1) / math.sqrt(2)) if last >= 2 else float("nan")
    print(
        f"loss, {jetclr.label} widths, {loss_jets} jets/step (asked {args.loss_batch}), {args.loss_steps} steps, "
        f"lr {JETCLR_LR:g}, same weights, batches and views ({loss_seconds:.0f} s):"
    )
    shown = sorted({0, *range(9, args.loss_steps, 10), args.loss_steps - 1})
    print("  step " + "".join(f"{i + 1:>8}" for i in shown))
    print("  fp32 " + "".join(f"{a[i]:>8.4f}" for i in shown))
    print("  bf16 " + "".join(f"{b[i]:>8.4f}" for i in shown))
    print(
        f"  last {last}: mean |bf16 - fp32| {drift:.4f}; fp32 step-to-step noise {noise:.4f}; "
        f"chance level ln(2B - 1) = {math.log(2 * loss_jets - 1):.4f}"
    )
    if not noise > 0:
        print("  the fp32 loss does not move (a collapsed embedding): the comparison says nothing; raise --loss-batch")
    print(f"elapsed {time.perf_counter() - started:.0f} s")

    mfu = fp32_jetclr.flops / fp32_jetclr.best / rate["fp32"]
    speedup = (bf16_jetclr.jets / bf16_jetclr.best) / (small.jets / small.best)
    at = f" (at batch {bf16_jetclr.jets}*)" if bf16_jetclr.reduced else ""
    tag = " [quick: not the JetCLR size]" if quick else ""
    matmul_gain = rate["bf16"] / rate["fp32"]
    small_mfu = share_row.flops / share_row.best / rate["fp32"]
    print(f"TARGET {jetclr.label} fp32 MFU >= {MFU_TARGET:.0%}{tag}: {mfu:.1%} -> {verdict(mfu >= MFU_TARGET)}")
    print(
        f"TARGET default transformer fp32 MFU at batch {share_batch} >= {MFU_TARGET:.0%}: {small_mfu:.1%} -> "
        f"{verdict(small_mfu >= MFU_TARGET)}"
    )
    print(
        f"TARGET {jetclr.label} bf16 speed-up >= {BF16_TARGET:.0%} of the bf16/fp32 matmul-rate ratio{tag}: "
        f"{speedup:.2f}x{at} of {matmul_gain:.2f}x = {speedup / matmul_gain:.0%} -> "
        f"{verdict(speedup >= BF16_TARGET * matmul_gain)}"
    )
    print(
        f"TARGET bf16 loss over {args.loss_steps} steps matches fp32 within noise{tag}: mean |diff| {drift:.4f} vs "
        f"noise {noise:.4f} ({loss_jets} jets/step) -> {verdict(drift < noise)}"
    )
    print(
        f"TARGET NT-Xent loss <= {LOSS_SHARE_TARGET:.0%} of the step at batch {share_batch}: {loss_share:.2%} -> "
        f"{verdict(loss_share <= LOSS_SHARE_TARGET)}"
    )


if __name__ == "__main__":
    main()
