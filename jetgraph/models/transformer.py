"""A permutation-invariant transformer encoder over a jet's particles (JetCLR, Particle Transformer).

The jet is a set of particles: node features (:func:`jetgraph.features.node_features`) are padded to one
row per jet (:func:`jetgraph.features.to_dense`, hardest first, cut to ``max_particles``), embedded,
passed through pre-LayerNorm self-attention blocks in which padded slots are never attended to, and pooled
over the real particles. With ``pair_bias`` every attention score gets the Particle Transformer's bias
from the pair's kinematics (Qu, Gouskos, Kersevan 2022, arXiv:2202.03772).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from jetgraph.batch import JetBatch, wrap_phi
from jetgraph.features import to_dense
from jetgraph.models.base import ModelError, check, node_inputs

POOLINGS = ("mean", "sum", "cls")
PAIR_FEATURES = ("ln_delta_r", "ln_kt", "ln_z", "ln_m2")
"""Columns of :func:`pair_features`, in this order."""
PAIR_EPSILON = 1e-8
"""What ΔR, kT, z and m² are clamped to before their log (as in the Particle Transformer)."""
PAIR_HIDDEN = 64
"""Width of the pointwise MLP that maps the pair features to one bias per head."""


def _particle_terms(pt: torch.Tensor, eta: torch.Tensor, phi: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
    """(..., 6) per-particle ``pt, eta, phi, m^2, mT, y`` for :func:`_pairwise`.

    ``m^2 = max(E^2 - p^2, 0)`` (a massless particle when the energy is below ``|p|`` by rounding),
    ``mT = sqrt(pT^2 + m^2)`` and the rapidity ``y = asinh(pz / mT)``, so that ``E = mT cosh y`` exactly.
    """
    pt, eta, phi, energy = (t.float() for t in (pt, eta, phi, energy))
    m2 = (energy.square() - (pt * torch.cosh(eta)).square()).clamp(min=0)
    mt = torch.sqrt(pt.square() + m2)
    y = torch.asinh(pt * torch.sinh(eta) / mt.clamp(min=PAIR_EPSILON))
    return torch.stack([pt, eta, phi, m2, mt, y], dim=-1)


def _pairwise(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(..., 4) :data:`PAIR_FEATURES` of the particles ``a`` and ``b`` (broadcastable (..., 6) terms).

    The pair's invariant mass is computed without cancellation as
    ``m^2 = m_a^2 + m_b^2 + 2 (mT_a mT_b - pT_a pT_b) + 4 mT_a mT_b sinh^2(Δy/2) + 4 pT_a pT_b sin^2(Δφ/2)``
    (``E_a E_b - p_a.p_b = mT_a mT_b cosh Δy - pT_a pT_b cos Δφ``), so collinear soft pairs keep a
    meaningful ``ln m^2`` in float32.
    """
    pt_a, eta_a, phi_a, m2_a, mt_a, y_a = a.unbind(-1)
    pt_b, eta_b, phi_b, m2_b, mt_b, y_b = b.unbind(-1)
    dphi = wrap_phi(phi_a - phi_b)
    delta = torch.hypot(eta_a - eta_b, dphi)
    pt_min = torch.minimum(pt_a, pt_b)
    m2 = (
        m2_a
        + m2_b
        + 2 * (mt_a * mt_b - pt_a * pt_b)
        + 4 * mt_a * mt_b * torch.sinh((y_a - y_b) / 2).square()
        + 4 * pt_a * pt_b * torch.sin(dphi / 2).square()
    )
    columns = (delta, pt_min * delta, pt_min / (pt_a + pt_b).clamp(min=PAIR_EPSILON), m2)
    return torch.log(torch.stack(columns, dim=-1).clamp(min=PAIR_EPSILON))


def pair_features(pt: torch.Tensor, eta: torch.Tensor, phi: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
    """Particle Transformer interaction features of every pair of particles in each row.

    For particles i, j: ``ln ΔR`` (Δη and wrapped Δφ), ``ln kT = ln(min(pT_i, pT_j) ΔR)``,
    ``ln z = ln(min(pT_i, pT_j) / (pT_i + pT_j))`` and ``ln m^2`` of the pair's four-momentum (from ``pt, eta,
    phi, energy``), each clamped at :data:`PAIR_EPSILON` before the log. Symmetric in i and j.

    Shapes:
        pt, eta, phi, energy: (..., M); returns (..., M, M, 4) float32, columns :data:`PAIR_FEATURES`.
    """
    terms = _particle_terms(pt, eta, phi, energy)
    return _pairwise(terms.unsqueeze(-2), terms.unsqueeze(-3))


ATTENTION_CHUNK = 64
"""Jets per attention call on a CPU: jets are sorted by size and attended in chunks of this many, each chunk
padded only to its own widest jet, so padding stays small and each call's working set stays in cache."""


@dataclass(frozen=True)
class _Chunk:
    """One attention call: the next ``jets * width`` rows of the padded buffer, as ``jets`` rows of ``width`` slots."""

    jets: int
    width: int
    attn_mask: torch.Tensor  # (jets, 1, 1, width) bool keys, or (jets, heads, width, width) additive bias


@dataclass(frozen=True)
class _Layout:
    """Where the packed tokens sit for attention: ``slots[t]`` is token t's row in a buffer of ``size`` rows."""

    slots: torch.Tensor
    size: int
    chunks: tuple[_Chunk, ...]


def _layout(keys: torch.Tensor, tokens: torch.Tensor, bias: torch.Tensor | None) -> _Layout:
    """The attention layout of padded rows ``keys`` (B, L), real slots first in each row, and its masks.

    Tokens are the true entries of ``keys`` in row-major order, at the flat positions ``tokens``. Rows are
    sorted by their number of tokens and cut into chunks of :data:`ATTENTION_CHUNK` rows on a CPU (one chunk
    elsewhere: the chunking was measured on CPUs only, and on a GPU it would add kernel launches), each padded
    to its widest row (at least one slot: a row without tokens attends to its zero slot 0, so its softmax stays
    finite). ``bias`` (B, heads, L, L) is the additive pair bias, or ``None`` for a boolean key mask.
    """
    counts = keys.sum(1)
    order = torch.argsort(counts, descending=True, stable=True)
    sorted_counts = counts[order].tolist()
    base = torch.empty_like(counts)
    chunks, offset = [], 0
    per_chunk = ATTENTION_CHUNK if keys.device.type == "cpu" else max(len(sorted_counts), 1)
    for start in range(0, len(sorted_counts), per_chunk):
        rows = order[start : start + per_chunk]
        width = max(sorted_counts[start], 1)
        base[rows] = offset + width * torch.arange(rows.numel(), device=keys.device)
        chunk_keys = torch.arange(width, device=keys.device) < counts[rows, None]
        chunk_keys[:, 0] = True  # real (a row's first slot is its first token) or the empty row's zero slot
        chunk_keys = chunk_keys[:, None, None, :]
        if bias is None:
            attn_mask = chunk_keys
        else:
            attn_mask = bias[rows, :, :width, :width].masked_fill(~chunk_keys, -math.inf)
        chunks.append(_Chunk(rows.numel(), width, attn_mask))
        offset += rows.numel() * width
    row, slot = tokens // keys.size(1), tokens % keys.size(1)
    return _Layout(base[row] + slot, offset, tuple(chunks))


class _Block(nn.Module):
    """Pre-LayerNorm transformer block: ``x + attention(LN(x))``, then ``x + FFN(LN(x))``."""

    def __init__(self, dim: int, heads: int, ffn: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = nn.Sequential(nn.Linear(dim, ffn), nn.GELU(), nn.Dropout(dropout), nn.Linear(ffn, dim))
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, layout: _Layout) -> torch.Tensor:
        """Tokens ``h`` (N, dim), packed; ``layout`` says where each sits in the padded attention rows.

        Linear layers and norms run on the N real tokens only; the attention runs padded, chunk by chunk.
        """
        dim = h.size(1)
        qkv = self.qkv(self.norm1(h))
        padded = qkv.new_zeros(layout.size, 3 * dim).index_copy_(0, layout.slots, qkv)
        dropout = self.dropout if self.training else 0.0
        outputs = []
        # split, not slices: the backward of a slice is a zero gradient of the whole buffer, per chunk
        for chunk, rows in zip(layout.chunks, padded.split([c.jets * c.width for c in layout.chunks]), strict=True):
            q, k, v = rows.view(chunk.jets, chunk.width, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
            attn_mask = chunk.attn_mask
            if attn_mask.is_floating_point():  # additive bias: in the dtype of q under autocast
                attn_mask = attn_mask.to(q.dtype)
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
            outputs.append(attended.transpose(1, 2).reshape(chunk.jets * chunk.width, dim))
        attended = torch.cat(outputs).index_select(0, layout.slots)
        h = h + self.drop(self.proj(attended))
        return h + self.drop(self.ffn(self.norm2(h)))


class ParticleTransformer(nn.Module):
    """Transformer encoder over each jet's particles, invariant to their order; ``encoder: transformer``.

    Node features are padded per jet (hardest ``max_particles`` first, then cut to the largest jet of the
    batch), embedded by a Linear layer, passed through ``layers`` pre-LayerNorm blocks (multi-head
    self-attention with ``scaled_dot_product_attention``, FFN Linear-GELU-Linear of width ``ffn``,
    residuals) and a final LayerNorm, then pooled. A boolean key mask (or ``-inf`` in the additive bias)
    keeps every query from attending to padded slots, so a jet's representation does not depend on the
    other jets of its batch. Only the attention itself runs on padded rows: norms, projections, FFNs and the
    pooling run on the packed real tokens, and the attention runs on jets sorted by multiplicity in chunks of
    :data:`ATTENTION_CHUNK` (on a CPU), each padded to its own widest jet, so padding costs little (a test checks the
    result against the plainly padded computation).

    At the JetCLR size (Dillon et al. 2021: ``dim=1000, layers=4, heads=4, ffn=1000, max_particles=50``) it
    has about 24M parameters (``layers * (4 dim^2 + 2 dim ffn)``).

    Args:
        in_features: node feature columns (:func:`jetgraph.features.num_node_features` of the batches).
        dim: width of the particle embeddings and of the representation (divisible by ``heads``).
        layers: transformer blocks.
        heads: attention heads.
        ffn: hidden width of each block's feed-forward network.
        dropout: dropout on attention weights, FFN hidden units and residual branches (0 <= dropout < 1).
        max_particles: particles per jet the encoder sees, the hardest in pT (``None``: all).
        pooling: ``"mean"`` or ``"sum"`` over the real particles, or ``"cls"``: a learned class token is
            prepended (never masked) and its output is the representation.
        pt_weighted: pool with ``sum_i z_i h_i`` where ``z_i = pT_i / sum_j pT_j`` over the particles the
            encoder sees (only with ``"sum"`` or ``"mean"``): an IR-safe pooling, in which a particle of
            zero pT adds nothing.
        pair_bias: add the Particle Transformer's pair bias to the attention scores: the
            :func:`pair_features` of each pair mapped by a pointwise MLP (Linear(4, 64)-GELU-Linear(64,
            heads)) to one bias per head, shared by all layers. The bias of a particle with itself (and
            with padding) is the MLP of zero features.

    Shapes:
        input: a :class:`~jetgraph.batch.JetBatch` of ``num_jets`` jets;
        output: (num_jets, dim) float32, the representation before any projection head.

    Raises:
        ModelError: a bad parameter (at construction); a batch whose node features are not ``in_features``.
    """

    input_kind: ClassVar[str] = "graph"

    def __init__(
        self,
        in_features: int,
        dim: int = 128,
        layers: int = 4,
        heads: int = 8,
        ffn: int = 512,
        dropout: float = 0.0,
        max_particles: int | None = 128,
        pooling: str = "mean",
        pt_weighted: bool = False,
        pair_bias: bool = False,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.in_features = check.integer(owner, "in_features", in_features, low=1)
        self.dim = check.integer(owner, "dim", dim, low=1)
        self.layers = check.integer(owner, "layers", layers, low=1)
        self.heads = check.integer(owner, "heads", heads, low=1)
        if self.dim % self.heads:
            divisors = [h for h in range(1, min(self.dim, 64) + 1) if self.dim % h == 0]
            raise ModelError(f"{owner}: heads={heads!r}; expected a divisor of dim={self.dim}, such as {divisors}")
        self.ffn = check.integer(owner, "ffn", ffn, low=1)
        self.dropout = check.number(owner, "dropout", dropout, low=0.0, high=1.0, expected="0 <= dropout < 1")
        if max_particles is not None:
            max_particles = check.integer(owner, "max_particles", max_particles, low=1)
        self.max_particles = max_particles
        self.pooling = check.choice(owner, "pooling", pooling, POOLINGS)
        self.pt_weighted = check.boolean(owner, "pt_weighted", pt_weighted)
        if self.pt_weighted and self.pooling == "cls":
            raise ModelError(f"{owner}: pt_weighted=True: expected pooling 'sum' or 'mean'; got pooling='cls'")
        self.pair_bias = check.boolean(owner, "pair_bias", pair_bias)
        self.rep_dim = self.dim

        self.embed = nn.Linear(self.in_features, self.dim)
        self.cls_token = None
        if self.pooling == "cls":
            self.cls_token = nn.Parameter(torch.empty(1, 1, self.dim))
            nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.pair_embed = None
        if self.pair_bias:
            self.pair_embed = nn.Sequential(
                nn.Linear(len(PAIR_FEATURES), PAIR_HIDDEN), nn.GELU(), nn.Linear(PAIR_HIDDEN, self.heads)
            )
        self.blocks = nn.ModuleList(_Block(self.dim, self.heads, self.ffn, self.dropout) for _ in range(self.layers))
        self.norm = nn.LayerNorm(self.dim)

    def _dense(self, batch: JetBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Padded node features, mask and raw (pt, eta, phi, energy), cut to the widest jet of the batch."""
        x = node_inputs(type(self).__name__, batch, self.in_features)
        raw = torch.stack([batch.pt, batch.eta, batch.phi, batch.energy], dim=1).to(x)
        dense, mask = to_dense(torch.cat([x, raw], dim=1), batch, self.max_particles)
        # real particles come first in every row: drop the columns no jet fills (less attention to pad)
        widest = max(int(mask.sum(1).max()), 1)
        dense, mask = dense[:, :widest], mask[:, :widest]
        return dense[..., : self.in_features], mask, dense[..., self.in_features :]

    def _bias(self, kinematics: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, heads, M, M) additive attention bias from :func:`pair_features`, for the pairs i <= j only."""
        length = mask.size(1)
        first, second = torch.triu_indices(length, length, device=mask.device)
        terms = _particle_terms(*kinematics.unbind(-1))
        features = _pairwise(terms[:, first], terms[:, second])  # (B, P, 4)
        valid = mask[:, first] & mask[:, second] & (first != second)
        values = self.pair_embed(features.masked_fill(~valid.unsqueeze(-1), 0.0)).transpose(1, 2)  # (B, H, P)
        lookup = torch.empty(length, length, dtype=torch.long, device=mask.device)
        pair = torch.arange(first.numel(), device=mask.device)
        lookup[first, second] = pair
        lookup[second, first] = pair
        return values[:, :, lookup]

    def _encode(self, batch: JetBatch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every token's output, packed, with ``keys`` (B, L), the token slots in them, and the kinematics.

        Tokens are the true entries of ``keys`` (the class token first in each row with ``"cls"``, then the
        real particles), in row-major order; ``slots`` are their flat positions in (B, L).
        """
        x, mask, kinematics = self._dense(batch)
        h = self.embed(x)
        keys = mask  # which slots hold a token
        bias = self._bias(kinematics, mask) if self.pair_embed is not None else None
        if self.cls_token is not None:
            h = torch.cat([self.cls_token.expand(h.size(0), 1, -1).to(h.dtype), h], dim=1)
            keys = F.pad(keys, (1, 0), value=True)
            if bias is not None:
                bias = F.pad(bias, (1, 0, 1, 0))
        # tokens are packed (padding dropped) for the Linear layers: with jets of 40 particles in rows of 50
        # or 128, most of the work would otherwise go to padding
        slots = keys.flatten().nonzero().squeeze(1)
        h = h.flatten(0, 1).index_select(0, slots)
        layout = _layout(keys, slots, bias)
        for block in self.blocks:
            h = block(h, layout)
        return self.norm(h), keys, slots, kinematics

    def particles(self, batch: JetBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Each particle's output (after the final LayerNorm, before pooling), hardest first, and the mask.

        Shapes:
            returns (num_jets, M, dim) and mask (num_jets, M) bool, M <= max_particles (the class token,
            if any, is not included).
        """
        h, keys, slots, _ = self._encode(batch)
        dense = h.new_zeros(keys.numel(), h.size(1)).index_copy(0, slots, h).view(*keys.shape, h.size(1))
        if self.cls_token is not None:
            return dense[:, 1:], keys[:, 1:]
        return dense, keys

    def forward(self, batch: JetBatch) -> torch.Tensor:
        """The representation of each jet (see the class for the pooling).

        Shapes:
            returns (num_jets, dim).
        """
        if isinstance(batch, JetBatch) and batch.num_jets == 0:
            return self.embed.weight.new_zeros(0, self.dim)
        h, keys, slots, kinematics = self._encode(batch)
        jets = keys.size(0)
        if self.cls_token is not None:  # the first token of every row
            counts = keys.sum(1)
            return h[counts.cumsum(0) - counts]
        if self.pt_weighted:
            weights = kinematics[..., 0] * keys
            weights = weights / weights.sum(1, keepdim=True).clamp(min=torch.finfo(weights.dtype).tiny)
        else:
            weights = keys.to(h.dtype)
            if self.pooling == "mean":
                weights = weights / weights.sum(1, keepdim=True).clamp(min=1)
        # pooled from the packed tokens: the weighted sum over each jet's particles
        token_weights = weights.flatten().index_select(0, slots).to(h.dtype)
        return h.new_zeros(jets, h.size(1)).index_add_(0, slots // keys.size(1), h * token_weights[:, None])
