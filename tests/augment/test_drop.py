"""DropParticles: only soft particles go, never a jet's hardest, never a whole jet."""

from __future__ import annotations

import math

import torch
from torch_geometric.utils import scatter

from jetgraph.augment import DropParticles
from jetgraph.batch import JetBatch
from tests.augment.jets import counts


def test_fixture_pt_values_are_distinct(batch: JetBatch) -> None:
    """The tests below find the kept particles by their pT."""
    assert batch.pt.unique().numel() == batch.num_nodes


def hardest(batch: JetBatch) -> torch.Tensor:
    return scatter(batch.pt, batch.batch, dim=0, dim_size=batch.num_jets, reduce="max")


def test_drops_only_soft_particles(batch: JetBatch) -> None:
    out = DropParticles(probability=0.5, max_pt=2.0)(batch, torch.Generator().manual_seed(0))
    hard = torch.zeros(batch.num_jets, dtype=torch.long)
    assert torch.equal(
        hard.index_add(0, out.batch, (out.pt >= 2.0).long()), hard.index_add(0, batch.batch, (batch.pt >= 2.0).long())
    )
    soft_before, soft_after = int((batch.pt < 2.0).sum()), int((out.pt < 2.0).sum())
    assert 0.4 < 1 - soft_after / soft_before < 0.6
    assert torch.equal(hardest(out), hardest(batch))
    kept = torch.isin(batch.pt, out.pt)  # pT values are distinct floats
    assert int(kept.sum()) == out.num_nodes and torch.equal(batch.pt[kept], out.pt)  # order kept


def test_never_empties_a_jet_nor_drops_the_hardest(batch: JetBatch) -> None:
    out = DropParticles(probability=1.0, max_pt=math.inf)(batch, torch.Generator().manual_seed(1))
    assert torch.equal(counts(out), torch.ones(batch.num_jets, dtype=torch.long))
    assert torch.equal(out.pt, hardest(batch))
    assert torch.equal(out.pid, batch.pid[torch.isin(batch.pt, out.pt)])


def test_probability_zero_keeps_everything(batch: JetBatch) -> None:
    out = DropParticles(probability=0.0, max_pt=math.inf)(batch, torch.Generator().manual_seed(2))
    assert torch.equal(out.pt, batch.pt) and torch.equal(out.ptr, batch.ptr)


def test_repr() -> None:
    assert repr(DropParticles(probability=0.2)) == "DropParticles(probability=0.2, max_pt=2.0)"
