"""``JetDataset``: stream jet files as :class:`~jetgraph.batch.JetBatch` es, sharded and shuffled.

The work is split into *units*, the chunks of ``step_size`` jets that :func:`jetgraph.io.iterate`
reads from each file. Every shard (one DataLoader worker of one DDP rank) takes every
``shards``-th unit, so in an epoch each jet is seen by exactly one shard, once. Within a shard a
bounded buffer of at least ``shuffle_buffer`` jets is shuffled before it is cut into batches, and the
file order and the units' assignment change with the epoch (:meth:`JetDataset.set_epoch`).

Use it with ``batch_size=None``: the dataset already yields whole batches::

    dataset = JetDataset("data/qg.root", batch_size=256, shuffle_buffer=20_000, seed=1)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=2)
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        for batch in loader:
            ...

Every shard reads the whole of each file it has a unit in and skips the units of other shards;
reading runs at hundreds of thousands of jets per second, far above what training consumes, so this
costs less than the bookkeeping that reading exact entry ranges from every format would need.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import awkward as ak
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from jetgraph.batch import JetBatch
from jetgraph.checks import Checks
from jetgraph.errors import FileFormatError, JetGraphError
from jetgraph.io import iterate
from jetgraph.paths import expand_paths

DEFAULT_STEP_SIZE = 10_000
"""Jets per unit of work (read at once)."""


class DataError(JetGraphError, ValueError):
    """A bad dataset argument: batch size, buffer, shard."""


check = Checks(DataError)


def distributed_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of the default torch.distributed group, ``(0, 1)`` without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class JetDataset(IterableDataset):
    """An iterable dataset of :class:`JetBatch` es read from jet files.

    Args:
        paths: a path, a glob or a list (anything :func:`jetgraph.io.iterate` reads).
        batch_size: jets per batch.
        recipe: passed to :func:`jetgraph.io.iterate` (``None``: detected per file).
        step_size: jets per unit of work (a read; the unit of sharding).
        shuffle_buffer: jets held and shuffled before batching; 0 keeps the file order (and
            ``shuffle_buffer`` >= the number of jets shuffles the shard's whole share).
        seed: seeds the shuffles; with :meth:`set_epoch`, the same seed and epoch give the same batches.
        drop_last: drop each shard's last, smaller batch.
        group: consecutive jets that stay together and in order through the shuffle and the cut into
            batches (2 for the shower pairs of ``jetgraph generate --showers 2``); ``batch_size`` and
            ``step_size`` must be multiples of it.
        rank, world_size: this process's place among DDP ranks; by default from torch.distributed
            when the dataset is made (so make it after ``init_process_group``).

    Raises:
        DataError: a non-positive ``batch_size`` or ``step_size``, a negative buffer, a bad rank.
        FileFormatError: ``paths`` match no file.
    """

    def __init__(
        self,
        paths: str | os.PathLike | list[str | os.PathLike],
        batch_size: int = 256,
        *,
        recipe: str | None = None,
        step_size: int = DEFAULT_STEP_SIZE,
        shuffle_buffer: int = 0,
        seed: int = 0,
        drop_last: bool = False,
        group: int = 1,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        self.files = expand_paths(paths)
        if not self.files:
            raise FileFormatError(f"{paths}: no input files")
        self.batch_size = check.integer("JetDataset", "batch_size", batch_size, low=1)
        self.step_size = check.integer("JetDataset", "step_size", step_size, low=1)
        self.shuffle_buffer = check.integer("JetDataset", "shuffle_buffer", shuffle_buffer, low=0)
        self.recipe = recipe
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.group = check.integer("JetDataset", "group", group, low=1)
        for name in ("batch_size", "step_size"):
            if getattr(self, name) % self.group:
                raise DataError(f"{name}={getattr(self, name)}: expected a multiple of group={self.group}")
        if (rank is None) != (world_size is None):
            raise DataError("give both rank and world_size, or neither (then torch.distributed decides)")
        if world_size is not None:
            check.integer("JetDataset", "world_size", world_size, low=1)
            if not 0 <= check.integer("JetDataset", "rank", rank, low=0) < world_size:
                raise DataError(f"rank={rank!r}: expected 0 <= rank < world_size={world_size}")
        else:  # asked here, in the rank's own process: DataLoader workers do not see the group
            rank, world_size = distributed_rank()
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Reshuffle for ``epoch`` (call before iterating, in every rank, as with DistributedSampler)."""
        self.epoch = check.integer("JetDataset", "epoch", epoch, low=0)

    def shard(self) -> tuple[int, int]:
        """``(shard, shards)`` of the iterating process: DDP rank x DataLoader worker."""
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return self.rank * workers + worker, self.world_size * workers

    def _units(self) -> Iterator[ak.Array]:
        """This shard's chunks, in this epoch's file order."""
        shard, shards = self.shard()
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.files))
        unit = self.epoch  # shifts which shard gets which unit from one epoch to the next
        for index in order:
            for chunk in iterate(self.files[index], self.recipe, self.step_size):
                if unit % shards == shard:
                    yield chunk
                unit += 1

    def __iter__(self) -> Iterator[JetBatch]:
        shard, _ = self.shard()
        rng = np.random.default_rng([self.seed, self.epoch, shard])
        pending: list[JetBatch] = []
        count = 0
        for chunk in self._units():
            pending.append(JetBatch.from_jets(chunk))  # a whole chunk at once: per batch costs 4x more
            count += len(chunk)
            if count >= max(self.shuffle_buffer, self.batch_size):
                leftover = yield from self._flush(pending, rng)
                pending, count = ([leftover], leftover.num_jets) if leftover is not None else ([], 0)
        if count:
            leftover = yield from self._flush(pending, rng)
            if leftover is not None and not self.drop_last:
                yield leftover

    def _flush(self, pending: list[JetBatch], rng: np.random.Generator) -> Iterator[JetBatch]:
        """Yield the buffered jets as full (shuffled) batches; return the leftover jets (fewer than a batch) or None.

        Without shuffling the buffer is never copied whole: batches are views into each chunk, and
        only a batch that straddles two chunks is joined.
        """
        if self.shuffle_buffer:
            buffer = JetBatch.cat(pending) if len(pending) > 1 else pending[0]
            if buffer.num_jets % self.group:
                raise DataError(
                    f"{self.files}: a chunk of {buffer.num_jets} jets does not hold whole groups of {self.group}"
                )
            groups = rng.permutation(buffer.num_jets // self.group)
            order = (groups[:, None] * self.group + np.arange(self.group)).ravel()
            pending = [buffer.take(torch.from_numpy(order))]
        size = self.batch_size
        carry: list[JetBatch] = []  # the pieces of a batch that straddles chunks
        carried = 0
        for part in pending:
            if carried:
                head = part.take(slice(0, size - carried))
                carry.append(head)
                carried += head.num_jets
                if carried < size:
                    continue
                yield JetBatch.cat(carry)
                carry, carried = [], 0
                part = part.take(slice(head.num_jets, None))
            batches = part.split(size) if part.num_jets else []
            if batches and batches[-1].num_jets < size:
                carry, carried = [batches[-1]], batches.pop().num_jets
            yield from batches
        return JetBatch.cat(carry) if len(carry) > 1 else (carry[0] if carry else None)


__all__ = ["DataError", "JetDataset", "distributed_rank"]
