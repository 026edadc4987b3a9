"""Contrastive pretraining: :class:`Trainer` and :func:`pretrain`, on one core or under ``torchrun``.

One step: a batch of jets -> two views (:class:`jetgraph.inputs.Inputs`) -> one forward of the
encoder and head on both views together -> loss (NT-Xent gathers negatives from every rank) ->
backward, gradient clipping, AdamW, warm-up + cosine schedule. Every ``checkpoint_every`` steps
the whole state is saved atomically (:mod:`jetgraph.runs`), including the random generators and the
position in the epoch, so ``resume=True`` continues with the same next batch and the same numbers.
After every epoch the held-out jets give the loss and the alignment and uniformity of the
representation (Wang & Isola 2020).

Under ``torchrun --nproc-per-node N -m jetgraph pretrain ...`` each process joins the group
(gloo on CPU, NCCL on GPU), reads its own shard of the files, and DistributedDataParallel averages
the gradients. Ranks stop an epoch together when the first of them runs out of batches.
"""

from __future__ import annotations

import copy
import gc
import glob
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

import jetgraph
from jetgraph import outputs, runs
from jetgraph.batch import JetBatch
from jetgraph.config import ConfigError, PretrainConfig, differences, load_config, save_config
from jetgraph.data import JetDataset
from jetgraph.errors import JetGraphError
from jetgraph.features import num_node_features
from jetgraph.inputs import EncoderInput, Inputs, num_jets
from jetgraph.losses import alignment, build_loss, pair_accuracy, uniformity
from jetgraph.memory import HeapGuard, keep_freed_memory, resident_bytes
from jetgraph.models import ENCODERS
from jetgraph.paths import expand_paths, is_remote
from jetgraph.version import __version__


class TrainError(JetGraphError):
    """Training that cannot go on: e.g. an epoch without a single full batch on some rank."""


class Contrastive(torch.nn.Module):
    """An encoder and its projection head: ``forward(inputs) -> (representation h, embedding z)``."""

    def __init__(self, encoder: torch.nn.Module, head: torch.nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, inputs: EncoderInput) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(inputs)
        return h, self.head(h)


@dataclass
class PretrainResult:
    """What a finished :func:`pretrain` leaves: where, how far, and the last evaluation's metrics.

    ``held_out`` says whether those metrics were measured on held-out jets (``data.val``) or, with no
    held-out files, on the first training jets.
    """

    run_dir: Path
    steps: int
    metrics: dict[str, float] = field(default_factory=dict)
    held_out: bool = True


def join(first: EncoderInput, second: EncoderInput) -> EncoderInput:
    """Both views as one input (2B jets), so the model runs once per step (DDP needs one forward)."""
    if isinstance(first, JetBatch):
        return JetBatch.cat([first, second])
    return torch.cat([first, second])


def cosine_schedule(total_steps: int, warmup: float, decay: str = "cosine") -> Any:
    """Learning-rate factor per step: linear warm-up over ``warmup`` of the steps, then cosine to zero
    (``decay="cosine"``) or the full rate (``decay="constant"``)."""
    warm = max(1, round(warmup * total_steps)) if warmup > 0 else 0

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if decay == "constant":
            return 1.0
        progress = min(1.0, (step - warm) / max(1, total_steps - warm))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    return factor


class Distributed:
    """This process's place in a DDP group: it joins one under ``torchrun`` (gloo on CPU, NCCL on GPU)
    when ``WORLD_SIZE`` > 1, takes part in the few collectives the trainer needs, and leaves the group
    it joined at the end."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.owns_group = False
        if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            self.owns_group = True
            if device.type == "cuda":
                torch.cuda.set_device(device)
        joined = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if joined else 0
        self.world_size = dist.get_world_size() if joined else 1
        self.is_main = self.rank == 0

    def all_have(self, has_batch: bool) -> bool:
        """True while every rank still has a batch (ranks may hold unequal shards)."""
        if self.world_size == 1:
            return has_batch
        flag = torch.tensor([int(has_batch)], device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item())

    def average_gradients(self, parameters: list[torch.nn.Parameter]) -> None:
        """Average the gradients of parameters that DDP does not see (a learnable temperature of the loss)."""
        if self.world_size > 1:
            for parameter in parameters:
                if parameter.grad is not None:
                    dist.all_reduce(parameter.grad)
                    parameter.grad /= self.world_size

    def close(self) -> None:
        """Leave the group this object joined, once every rank got here (rank 0 may still be saving)."""
        if self.owns_group and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
            self.owns_group = False


def located(config: PretrainConfig) -> PretrainConfig:
    """A copy of ``config`` whose data files are absolute paths (a run is probed from anywhere), checked to exist.

    Raises:
        ConfigError: a ``data.train`` or ``data.val`` entry that matches no file, named as the key to change.
    """
    config = copy.deepcopy(config)
    turn_off = {"train": "", "val": ", or --set 'data.val=[]' to hold none out (the metrics then use training jets)"}
    for key, hint in turn_off.items():
        paths = []
        for path in getattr(config.data, key):
            if is_remote(path):
                paths.append(path)
                continue
            path = os.path.abspath(os.path.expanduser(path))
            if not glob.glob(path):
                raise ConfigError(f"data.{key}: {path}: no such file; give the files with --set data.{key}=FILE{hint}")
            paths.append(path)
        setattr(config.data, key, paths)
    return config


def resolve(config: PretrainConfig, file_jets: list[int], world_size: int, warn: bool = True) -> PretrainConfig:
    """A copy of ``config`` with what the data decides filled in: ``model.in_features`` (from the first
    jets, as the encoder will see them) and a ``data.step_size`` small enough that every shard (rank x
    DataLoader worker) gets some chunks (shards own whole chunks: a 5,000-jet file read in 10,000-jet
    chunks is one chunk, and a second rank would train on nothing). The given config is not changed.
    """
    config = copy.deepcopy(config)
    data, group = config.data, Inputs.group_of(config.augment)
    shards = world_size * max(1, data.workers)
    chunks = sum(math.ceil(n / data.step_size) for n in file_jets)
    if shards > 1 and chunks < 2 * shards:
        smaller = max(1, sum(file_jets) // (2 * shards))
        smaller -= smaller % group  # whole shower pairs
        if 0 < smaller < data.step_size:
            if warn:
                warnings.warn(
                    f"data.step_size={data.step_size} makes {chunks} chunk(s) of the training files for "
                    f"{shards} shards (ranks x workers); using data.step_size={smaller} so that each gets data",
                    stacklevel=3,
                )
            data.step_size = smaller
    if config.model.in_features is None:
        kind = ENCODERS[config.model.encoder].input_kind
        first = next(iter(JetDataset(data.train, 2, recipe=data.recipe, rank=0, world_size=1)))
        inputs = Inputs(config.augment, kind).plain(first)
        config.model.in_features = int(inputs.shape[1]) if kind == "image" else num_node_features(inputs)
    return config


def _optimizer(module: torch.nn.Module, loss: torch.nn.Module, train: Any) -> torch.optim.Optimizer:
    """AdamW, with weight decay on the weight matrices only (not on biases, norms or the loss's temperature)."""
    decay = [p for p in module.parameters() if p.ndim >= 2]
    no_decay = [p for p in module.parameters() if p.ndim < 2] + list(loss.parameters())
    groups = [{"params": decay, "weight_decay": train.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=train.lr)


def _device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device={name!r}; expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device={name!r}, but torch sees no CUDA device; use auto or cpu")
    return device


class Trainer:
    """Pretrain the encoder of ``config`` into ``run_dir`` (see the module for what a step does).

    Args:
        config: the pretraining config; it is not changed (:attr:`config` is its resolved copy).
        run_dir: where the config, checkpoints and metrics go (rank 0 writes them, holding ``RUN/.lock``).
        resume: continue from the latest checkpoint in ``run_dir`` that loads (from scratch when there is none).

    Raises:
        RunError: ``run_dir`` already holds checkpoints and ``resume`` is False.
        OutputError: another process is writing ``run_dir``.
        ConfigError, FileFormatError, ModelError, LossError, AugmentError: from the config's pieces.
    """

    def __init__(self, config: PretrainConfig, run_dir: str | os.PathLike, *, resume: bool = False) -> None:
        if not config.data.train:
            raise ConfigError("data.train is empty; expected the training files (e.g. --set data.train=data/qg.root)")
        if config.train.threads:
            torch.set_num_threads(config.train.threads)
        self.run_dir = Path(run_dir)
        self.device = _device(config.train.device)
        # on a CPU, large activations reuse freed memory instead of page-faulting each step; the guard hands
        # it back when the heap fragments (jetgraph/memory.py)
        self.heap = HeapGuard() if self.device.type == "cpu" and keep_freed_memory() else None
        self.dist = Distributed(self.device)
        self.rank, self.world_size, self.is_main = self.dist.rank, self.dist.world_size, self.dist.is_main
        self._lock = outputs.lock(self.run_dir, "pretrain") if self.is_main else None  # one writer per run
        try:
            self._setup(config, resume)
        except BaseException:
            outputs.unlock(self._lock)
            raise

    def _setup(self, config: PretrainConfig, resume: bool) -> None:
        has_checkpoints = bool(runs.checkpoints(self.run_dir))
        if has_checkpoints and not resume:
            raise runs.RunError(f"{self.run_dir} already holds checkpoints; pass --resume, or another --out")
        config = located(config)
        if resume and (self.run_dir / runs.CONFIG).is_file():
            config = check_resumable(config, self.run_dir)
        if self.is_main:  # the run carries its recipe: embed and probe read the data as it was read here
            config.data.recipe = runs.keep_recipe(self.run_dir, config.data.recipe)
        self.file_jets = [jetgraph.count(path, config.data.recipe) for path in expand_paths(config.data.train)]
        self.config = config = resolve(config, self.file_jets, self.world_size, warn=self.is_main)
        train = config.train

        # data: each rank reads its own shard; drop_last keeps every batch (and rank) the same size
        group = Inputs.group_of(config.augment)
        self.dataset = JetDataset(
            config.data.train,
            train.batch_size,
            recipe=config.data.recipe,
            step_size=config.data.step_size,
            shuffle_buffer=config.data.shuffle_buffer,
            seed=train.seed,
            drop_last=True,
            group=group,
        )
        self.loader = DataLoader(self.dataset, batch_size=None, num_workers=config.data.workers)
        self.inputs = Inputs(config.augment, ENCODERS[config.model.encoder].input_kind)
        self.val_batches = self._validation_batches(group) if self.is_main else []

        # model: identical on every rank (seeded, then DDP broadcasts)
        torch.manual_seed(train.seed)
        self.module = Contrastive(*config.model.build()).to(self.device)
        self.loss = build_loss(config.loss.name, **config.loss.params).to(self.device)
        self.eval_loss = build_loss(config.loss.name, **{**config.loss.params, "gather_distributed": False})
        self.model: torch.nn.Module = self.module
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = torch.nn.parallel.DistributedDataParallel(self.module, device_ids=ids)
        if train.compile:
            self.model = torch.compile(self.model)
        if train.precision == "auto":  # decided once, recorded in config.yaml: a resumed run keeps it
            train.precision = self._fastest_precision()
        self.optimizer = _optimizer(self.module, self.loss, train)
        steps_per_epoch = train.steps_per_epoch or max(1, sum(self.file_jets) // (train.batch_size * self.world_size))
        self.total_steps = steps_per_epoch * train.epochs
        if train.max_steps is not None:
            self.total_steps = min(self.total_steps, train.max_steps)
        schedule = cosine_schedule(self.total_steps, train.warmup, train.schedule)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, schedule)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(int(np.random.SeedSequence([train.seed, self.rank]).generate_state(1)[0]))

        # position, metrics and the run's config.yaml (a resumed run records the settings it goes on with)
        self.step = self.epoch = self.batch_in_epoch = 0  # batch_in_epoch: batches of this epoch trained on
        self.log = runs.MetricsLog(self.run_dir, enabled=self.is_main)
        if resume and has_checkpoints:
            self._restore(*runs.load_latest(self.run_dir))
        else:
            self.log.start()
        if self.is_main:
            save_config(config, self.run_dir / runs.CONFIG, version=__version__, torch=str(torch.__version__))

    def _fastest_precision(self, repeats: int = 2) -> str:
        """``bf16`` or ``fp32``: whichever runs this model's forward and backward on one batch faster here.

        bf16 autocast pays where the matmuls are large and the hardware has bf16 units (GPUs; CPUs with
        AVX-512 BF16 or AMX: JetCLR's width ran 2.0x faster), and costs where they are small (the default
        transformer on a CPU: 0.92x), so the answer depends on the model and the device: it is measured,
        once, on a copy of the model (no parameter or random state of the run changes), and rank 0's
        answer holds for every rank.
        """
        batch = next(iter(JetDataset(self.config.data.train, self.config.train.batch_size,
                                     recipe=self.config.data.recipe, rank=0, world_size=1)))  # fmt: skip
        inputs = self.inputs.plain(batch.to(self.device))
        model, rng = copy.deepcopy(self.module), torch.get_rng_state()
        seconds = {}
        for precision in ("fp32", "bf16", "fp32", "bf16"):  # the first of each warms up
            start = time.perf_counter()
            for _ in range(repeats):
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=precision == "bf16"):
                    _, z = model(join(inputs, inputs))
                z.float().square().mean().backward()
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            seconds[precision] = time.perf_counter() - start
        torch.set_rng_state(rng)
        chosen = torch.tensor([int(seconds["bf16"] < 0.95 * seconds["fp32"])], device=self.device)
        if self.world_size > 1:
            dist.broadcast(chosen, src=0)
        precision = "bf16" if chosen.item() else "fp32"
        if self.is_main:
            ratio = seconds["fp32"] / seconds["bf16"]
            speed = f"a bf16 step at {ratio:.2f}x the speed of fp32 here"
            print(f"train.precision=auto: {precision} ({speed})", file=sys.stderr)
        return precision

    def _validation_batches(self, group: int) -> list[JetBatch]:
        """Up to ``data.val_jets`` held-out jets (the training files' first ones when there are none)."""
        data, wanted = self.config.data, self.config.data.val_jets
        dataset = JetDataset(
            data.val or data.train, self.config.train.batch_size, recipe=data.recipe, rank=0, world_size=1, group=group
        )
        batches, seen = [], 0
        for batch in dataset:
            if seen >= wanted:
                break
            left = wanted - seen
            batch = batch.take(slice(0, left - left % group))
            if batch.num_jets >= 2 * group:
                batches.append(batch)
            seen += batch.num_jets
        return batches

    # ------------------------------------------------------------------------------- checkpoints

    def state(self) -> dict[str, Any]:
        """Everything a resume needs, as tensors and plain values (checkpoints load as weights only)."""
        return {
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "metric_rows": self.log.rows,
            "in_features": self.config.model.in_features,
            "encoder": self.module.encoder.state_dict(),
            "head": self.module.head.state_dict(),
            "loss": self.loss.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "torch_rng": torch.get_rng_state(),
            "version": __version__,
        }

    def _restore(self, path: Path, state: dict[str, Any]) -> None:
        try:
            self.module.encoder.load_state_dict(state["encoder"])
            self.module.head.load_state_dict(state["head"])
            self.loss.load_state_dict(state["loss"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.generator.set_state(state["generator"])
            torch.set_rng_state(state["torch_rng"])
        except (KeyError, RuntimeError, ValueError, TypeError) as err:
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            raise runs.RunError(f"{path}: does not match the model of {self.run_dir / runs.CONFIG} ({first})") from None
        # the learning rate and the schedule follow the config (a resumed run may change train.lr or train.epochs)
        lr, factor = self.config.train.lr, self.scheduler.lr_lambdas[0]
        self.scheduler.base_lrs = [lr] * len(self.optimizer.param_groups)
        for group in self.optimizer.param_groups:
            group["initial_lr"], group["lr"] = lr, lr * factor(self.scheduler.last_epoch)
        self.scheduler._last_lr = [group["lr"] for group in self.optimizer.param_groups]
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.log.resume(rows=int(state["metric_rows"]), step=self.step)  # rows after the checkpoint come again

    def save(self) -> None:
        if self.is_main:
            runs.save_checkpoint(self.run_dir, self.step, self.state(), self.config.train.keep_checkpoints)

    # ----------------------------------------------------------------------------------- training

    def _forward_loss(self, batch: JetBatch) -> torch.Tensor:
        first, second = self.inputs.pair(batch.to(self.device), self.generator)
        n = num_jets(first)  # jets per view: half the batch's for showers
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.train.precision == "bf16"):
            _, z = self.model(join(first, second))
        z = z.float()
        return self.loss(z[:n], z[n:])

    def train_step(self, batch: JetBatch) -> float:
        """One optimisation step on ``batch``; returns the loss."""
        loss = self._forward_loss(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.dist.average_gradients(list(self.loss.parameters()))  # outside DDP
        if self.config.train.clip_grad is not None:
            torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.config.train.clip_grad)
        self.optimizer.step()
        self.scheduler.step()
        return float(loss.detach())

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Loss; alignment, uniformity and pair accuracy of the representation on held-out jets (rank 0; {} elsewhere).

        Alignment alone misleads early: an untrained encoder maps all jets close together, so its
        positive pairs are "aligned" and nothing is uniform. ``pair_accuracy`` (is a view's nearest
        neighbour among the other views its partner?) and uniformity show the representation spreading out.
        """
        if not self.is_main or not self.val_batches:
            return {}
        self.module.eval()
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self.config.train.seed + 1_000_003)  # the same views at every evaluation
        total, jets, firsts, seconds = 0.0, 0, [], []
        for batch in self.val_batches:
            first, second = self.inputs.pair(batch.to(self.device), generator)
            n = num_jets(first)
            h, z = self.module(join(first, second))
            total += float(self.eval_loss(z[:n].float(), z[n:].float())) * n
            jets += n
            firsts.append(h[:n].float())
            seconds.append(h[n:].float())
        self.module.train()
        h1, h2 = torch.cat(firsts), torch.cat(seconds)
        return {
            "loss": total / jets,
            "alignment": float(alignment(h1, h2)),
            "uniformity": float(uniformity(h1)),
            "pair_accuracy": float(pair_accuracy(h1, h2)),
        }

    def _evaluate_and_log(self) -> dict[str, float]:
        metrics = self.evaluate()
        if metrics:
            self.log.write({"step": self.step, "epoch": self.epoch, "split": "val", **metrics})
        return metrics

    def fit(self) -> PretrainResult:
        """Train until ``train.epochs`` (or ``train.max_steps``); checkpoint, log, evaluate on the way."""
        try:
            return self._fit()
        except BaseException:
            outputs.unlock(self._lock)  # a failed run frees its directory at once, not at exit
            raise

    def _fit(self) -> PretrainResult:
        train = self.config.train
        metrics: dict[str, float] = {}
        if self.step == 0:
            metrics = self._evaluate_and_log()  # the untrained encoder: the reference for the curves
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            disable=not (self.is_main and train.progress),
            desc="pretrain",
            unit="step",
            dynamic_ncols=True,
        )
        done = self.step >= self.total_steps
        window_jets, window_start, last_loss = 0, time.perf_counter(), float("nan")
        while not done and self.epoch < train.epochs:
            self.dataset.set_epoch(self.epoch)
            batches = iter(self.loader)
            for _ in range(self.batch_in_epoch):  # a resumed epoch: the batches already trained on
                next(batches, None)
            while True:
                batch = next(batches, None)
                if not self.dist.all_have(batch is not None):
                    break
                last_loss = self.train_step(batch)
                if self.heap is not None:
                    self.heap.after_step()
                self.step += 1
                self.batch_in_epoch += 1
                window_jets += batch.num_jets * self.world_size
                bar.update(1)
                if self.step % train.log_every == 0:
                    rate = window_jets / (time.perf_counter() - window_start)
                    bar.set_postfix(loss=f"{last_loss:.4f}", jets_s=f"{rate:,.0f}")
                    self.log.write(
                        {
                            "step": self.step,
                            "epoch": self.epoch,
                            "split": "train",
                            "loss": last_loss,
                            "lr": self.scheduler.get_last_lr()[0],
                            "jets_per_s": rate,
                            "temperature": getattr(self.loss, "temperature", ""),
                            "resident_gb": round(resident_bytes() / 2**30, 2) or "",  # blank without /proc
                        }
                    )
                    window_jets, window_start = 0, time.perf_counter()
                if self.step >= self.total_steps:
                    done = True
                    break
                if self.step % train.checkpoint_every == 0:
                    self.save()
            if self.batch_in_epoch == 0:
                raise TrainError(
                    f"epoch {self.epoch} had no training batch on every rank: the training files hold "
                    f"{sum(self.file_jets)} jets, fewer than train.batch_size={train.batch_size} per rank "
                    f"x {self.world_size} rank(s) per chunk; lower train.batch_size or data.step_size"
                )
            metrics = self._evaluate_and_log() or metrics
            if not done:
                self.epoch += 1
                self.batch_in_epoch = 0
        bar.close()
        self.save()
        self.close()
        return PretrainResult(self.run_dir, self.step, metrics, held_out=bool(self.config.data.val))

    def close(self) -> None:
        """Close the logs, leave the process group, free the run directory."""
        self.log.close()
        # DistributedDataParallel's reducer must be freed before its process group is destroyed: one
        # freed at interpreter exit, after the group, aborts the process (gloo: "terminate called
        # without an active exception", in about one run in five). It sits in reference cycles, hence gc.
        self.model = self.module
        gc.collect()
        self.dist.close()
        outputs.unlock(self._lock)


# fmt: off
RESUMABLE = ("train.epochs", "train.max_steps", "train.lr", "train.clip_grad", "train.precision", "train.compile",
             "train.device", "train.threads", "train.progress", "train.log_every", "train.checkpoint_every",
             "train.keep_checkpoints", "data.workers", "data.val", "data.val_jets")
# fmt: on
"""Settings a resumed run may change; the rest (model, loss, augmentations, training data and its order,
batch size, seed, optimiser) would not continue the same run, or would be silently ignored by the restore."""


def check_resumable(config: PretrainConfig, run_dir: Path) -> PretrainConfig:
    """Refuse to resume ``run_dir`` with settings that differ from its ``config.yaml`` outside :data:`RESUMABLE`.

    ``config.model.in_features`` left at None is taken to be the run's, and a recipe file with the text
    of the run's copy is that copy.

    Returns:
        ``config`` with those two filled in (a copy).

    Raises:
        ConfigError: the first setting that may not change, with both values.
    """
    saved = runs.run_config(run_dir)
    config = copy.deepcopy(config)
    if config.model.in_features is None:  # not known yet: the run's
        config.model.in_features = saved.model.in_features
    kept, given = saved.data.recipe, config.data.recipe
    if kept and given and kept != given and Path(kept).is_file() and Path(given).is_file():
        config.data.recipe = kept if Path(kept).read_bytes() == Path(given).read_bytes() else given
    for key, (before, now) in differences(saved, config).items():
        if key not in RESUMABLE:
            raise ConfigError(
                f"--resume {run_dir}: {key} is {now!r} now but {before!r} in the run's {runs.CONFIG}; a resumed run "
                f"keeps its model, data and augmentations and may change only {', '.join(RESUMABLE)} "
                f"(start a new run with another --out)"
            )
    return config


def pretrain(
    config: PretrainConfig | str | os.PathLike | None,
    out: str | os.PathLike,
    *,
    overrides: list[str] | None = None,
    resume: bool = False,
) -> PretrainResult:
    """Pretrain an encoder (the public entry point behind ``jetgraph pretrain``).

    Args:
        config: a config, or a YAML file; with ``resume`` and None, the run's own ``config.yaml``.
        out: the run directory.
        overrides: ``key=value`` strings applied on top (``train.epochs=5``).
        resume: continue the run in ``out`` from its latest checkpoint.
    """
    if config is None or not isinstance(config, PretrainConfig):
        if config is None and resume and (Path(out) / runs.CONFIG).is_file():
            config = Path(out) / runs.CONFIG
        config = load_config(config, overrides)
    elif overrides:
        raise ConfigError("overrides apply to a config file; got a PretrainConfig object and overrides")
    return Trainer(config, out, resume=resume).fit()


__all__ = [
    "RESUMABLE",
    "Contrastive",
    "PretrainResult",
    "TrainError",
    "Trainer",
    "check_resumable",
    "cosine_schedule",
    "resolve",
    "join",
    "pretrain",
]
