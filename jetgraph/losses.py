"""Self-supervised objectives on pairs of views, and measures of the representation they give.

- :class:`NTXentLoss`: SimCLR's normalised-temperature cross-entropy (Chen et al. 2020), with the
  negatives of every DDP rank gathered with their gradients.
- :class:`VICRegLoss`: variance-invariance-covariance regularisation (Bardes et al. 2022), with the
  variance and covariance taken over the batch of every DDP rank.
- :func:`alignment` and :func:`uniformity`: Wang & Isola (2020), how close positive pairs lie and how
  evenly the embeddings cover the sphere.
- :data:`LOSSES` and :func:`build_loss`: find a loss by the name a config gives.

A loss knows nothing about the model: it takes the embeddings ``z1``, ``z2`` of the two views of the
same ``B`` jets (row ``i`` of each is jet ``i``) and returns a scalar::

    loss_fn = build_loss("ntxent", temperature=0.1)
    loss = loss_fn(head(encoder(view1)), head(encoder(view2)))

Under ``torch.distributed`` (DDP) every rank must give the same local batch size ``B``: the losses
check it with one small ``all_gather`` of the shapes per call and raise :class:`LossError` if not
(use ``JetDataset(..., drop_last=True)`` and the same ``batch_size`` on every rank).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from jetgraph.checks import Checks
from jetgraph.data import distributed_rank
from jetgraph.errors import JetGraphError
from jetgraph.registry import Registry

__all__ = [
    "LOSSES",
    "LossError",
    "NTXentLoss",
    "VICRegLoss",
    "alignment",
    "build_loss",
    "gather_with_grad",
    "pair_accuracy",
    "uniformity",
]


class LossError(JetGraphError, ValueError):
    """A bad loss argument (temperature, weights, name) or embeddings of the wrong shape."""


# --------------------------------------------------------------------------------------------------
# helpers


check = Checks(LossError)
"""The parameter checks of every loss (:class:`jetgraph.checks.Checks`)."""


def _check_pair(owner: str, z1: Any, z2: Any, minimum_rows: int = 1) -> None:
    """Both views are floating tensors of the same shape ``(B, D)`` with ``B >= minimum_rows``."""
    for name, z in (("z1", z1), ("z2", z2)):
        if not isinstance(z, Tensor):
            raise LossError(f"{owner}: {name} is a {type(z).__name__}: expected a torch.Tensor of shape (B, D)")
        if z.dim() != 2 or not z.is_floating_point():
            raise LossError(
                f"{owner}: {name} has shape {tuple(z.shape)!r} and dtype {z.dtype}: "
                f"expected a floating tensor of shape (B, D)"
            )
    if z1.shape != z2.shape:
        raise LossError(
            f"{owner}: z1 has shape {tuple(z1.shape)!r} but z2 has shape {tuple(z2.shape)!r}: "
            f"expected the same (B, D) for both views"
        )
    if z1.shape[0] < minimum_rows or z1.shape[1] < 1:
        raise LossError(f"{owner}: z1, z2 have shape {tuple(z1.shape)!r}: expected B >= {minimum_rows} rows, D >= 1")


def _at_least_float32(z: Tensor) -> Tensor:
    """Half-precision embeddings are upcast: normalisation and exp() need the range of float32."""
    return z.float() if z.dtype in (torch.float16, torch.bfloat16) else z


class _GatherWithGrad(torch.autograd.Function):
    """``all_gather`` along dim 0 whose backward sums the gradient over ranks and keeps this rank's rows.

    Rank ``r``'s loss ``L_r`` depends on every rank's embeddings; the gradient that reaches rank ``r``'s
    own rows must be ``sum_s dL_s/dz_r``. The backward all-reduces (SUM) the gradient of the gathered
    tensor and returns this rank's slice. DDP then averages the parameter gradients over ranks, so
    the parameters receive ``d(mean_s L_s)/dθ``: the gradient of the loss of the global batch.
    (``all_reduce`` works on every backend, where the reduce-scatter of
    ``torch.distributed.nn.functional.all_gather`` falls back to an all-to-all on gloo.)
    """

    @staticmethod
    def forward(ctx: Any, tensor: Tensor) -> Tensor:
        rank, world = distributed_rank()
        ctx.rank, ctx.rows = rank, tensor.shape[0]
        tensor = tensor.contiguous()
        parts = [torch.empty_like(tensor) for _ in range(world)]
        dist.all_gather(parts, tensor)
        return torch.cat(parts)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        grad = grad.contiguous().clone()  # never all-reduce autograd's own buffer in place
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def _same_shape_on_every_rank(z: Tensor, owner: str, name: str) -> None:
    """Raise :class:`LossError` on every rank alike unless ``z`` has the same shape on all ranks.

    All ranks must give the same local batch: the positives' offsets and the gathered layout assume
    it, and ``all_gather`` of unequal tensors is a backend error or garbage. The check costs one tiny
    collective per call; the alternative, trusting that the data pipeline drops the last partial
    batch, fails in ways that are hard to trace.
    """
    _, world = distributed_rank()
    shape = torch.tensor(z.shape, dtype=torch.int64, device=z.device)
    shapes = [torch.empty_like(shape) for _ in range(world)]
    dist.all_gather(shapes, shape)
    seen = [tuple(s.tolist()) for s in shapes]
    if len(set(seen)) != 1:
        raise LossError(
            f"{owner}: {name} has shapes {seen!r} on ranks 0..{world - 1}: expected the same batch size on "
            f"every rank (same batch_size, and drop_last=True so no rank ends on a partial batch)"
        )


def gather_with_grad(z: Tensor, owner: str = "gather_with_grad") -> Tensor:
    """Concatenate ``z`` of every rank along dim 0, in rank order, keeping the gradients.

    Without an initialised process group of more than one rank, ``z`` is returned as it is. The
    gradient that comes back to this rank's rows is the sum over ranks (see ``_GatherWithGrad``),
    which DDP's averaging turns into the gradient of the mean of the ranks' losses.

    All ranks must call it with the same shape: the shapes are gathered first (one small collective)
    and a mismatch raises :class:`LossError` on every rank alike, instead of a backend error or
    garbage from ``all_gather``.

    Args:
        z: this rank's rows.
        owner: the name used in error messages.

    Returns:
        The rows of rank 0, then rank 1, ... : rank ``r``'s rows are ``r * N ... (r + 1) * N``.

    Shapes:
        z: ``(N, *)`` → ``(N * world_size, *)``.
    """
    _, world = distributed_rank()
    if world == 1:
        return z
    _same_shape_on_every_rank(z, owner, "z")
    return _GatherWithGrad.apply(z)


# --------------------------------------------------------------------------------------------------
# NT-Xent


class NTXentLoss(torch.nn.Module):
    r"""SimCLR's NT-Xent loss (normalised temperature-scaled cross-entropy).

    The ``2B`` embeddings of the two views are L2-normalised; for each anchor, the logits are its
    cosine similarities with every other embedding divided by the temperature ``t``, the target is
    its partner in the other view, and the loss is the cross-entropy averaged over the ``2B`` anchors:

    .. math::

        \ell_i = -\log \frac{\exp(s_{i,p(i)}/t)}{\sum_{k \ne i} \exp(s_{i,k}/t)}

    The logits come from one ``(2B, D) @ (D, 2BW)`` product; no ``(B, B, D)`` tensor is built.

    Under DDP (``gather_distributed=True`` and an initialised group of ``W > 1`` ranks) the normalised
    embeddings of all ranks are gathered with their gradients and serve as extra negatives: each rank's
    anchors see all ``2BW - 1`` others, as one process with the whole batch would. The mean of the
    ranks' losses is then the loss of the global batch, and DDP's averaged gradients are its gradients.
    Every rank must give the same ``B`` (checked, :class:`LossError` otherwise).

    Args:
        temperature: ``t > 0``. With ``learnable=True`` it is the initial value and must lie in
            ``[min_temperature, max_temperature]``.
        learnable: learn ``log t`` as a parameter, clamped to ``[min_temperature, max_temperature]``
            in forward. Under DDP its gradient is *this rank's*: average it over ranks (or put the
            loss inside the DDP module) so that ranks keep the same temperature.
        gather_distributed: gather the negatives of every DDP rank.

    Shapes:
        z1, z2: ``(B, D)``, the two views of the same ``B`` jets, row ``i`` of each is jet ``i``.
        output: ``()``.
    """

    min_temperature: float = 0.01
    max_temperature: float = 1.0

    def __init__(self, temperature: float = 0.1, learnable: bool = False, gather_distributed: bool = True) -> None:
        super().__init__()
        temperature = check.number("NTXentLoss", "temperature", temperature, low=0.0, strict=True, finite=True)
        self.learnable = check.boolean("NTXentLoss", "learnable", learnable)
        self.gather_distributed = check.boolean("NTXentLoss", "gather_distributed", gather_distributed)
        if self.learnable:
            if not self.min_temperature <= temperature <= self.max_temperature:
                raise LossError(
                    f"NTXentLoss: temperature={temperature!r}: a learnable temperature must start in "
                    f"[{self.min_temperature:g}, {self.max_temperature:g}], the range it is clamped to"
                )
            self.log_temperature = torch.nn.Parameter(torch.tensor(math.log(temperature)))
        else:
            self._temperature = temperature

    @property
    def temperature(self) -> float:
        """The temperature used by the next forward, as a float."""
        if self.learnable:
            return float(self._temperature_tensor().detach())
        return self._temperature

    def _temperature_tensor(self) -> Tensor:
        low, high = math.log(self.min_temperature), math.log(self.max_temperature)
        return self.log_temperature.clamp(low, high).exp()

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """The NT-Xent loss of the ``2B`` anchors of this rank.

        Args:
            z1: embeddings of the first view.
            z2: embeddings of the second view, row ``i`` the partner of row ``i`` of ``z1``.

        Returns:
            The mean cross-entropy over this rank's ``2B`` anchors (a scalar).

        Shapes:
            z1, z2: ``(B, D)`` → ``()``.
        """
        _check_pair("NTXentLoss", z1, z2)
        batch = z1.shape[0]
        z = torch.cat([F.normalize(_at_least_float32(z1), dim=1), F.normalize(_at_least_float32(z2), dim=1)])

        rank, world = distributed_rank()
        if self.gather_distributed and world > 1:
            # rows of rank r: [z1_r; z2_r] at r*2B ... (r+1)*2B, so this rank's anchor j is column offset+j
            _same_shape_on_every_rank(z1, "NTXentLoss", "z1")
            columns = _GatherWithGrad.apply(z)
            offset = rank * 2 * batch
        else:
            columns, offset = z, 0

        temperature = self._temperature_tensor() if self.learnable else self._temperature
        logits = (z @ columns.T) / temperature  # (2B, 2BW): the one product
        rows = torch.arange(2 * batch, device=z.device)
        self_mask = torch.zeros_like(logits, dtype=torch.bool)
        self_mask[rows, offset + rows] = True
        logits = logits.masked_fill(self_mask, float("-inf"))
        # anchor j < B (view 1) pairs with j + B (view 2) and back
        targets = offset + (rows + batch) % (2 * batch)
        return F.cross_entropy(logits, targets)

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature:g}, learnable={self.learnable}, "
            f"gather_distributed={self.gather_distributed}"
        )


# --------------------------------------------------------------------------------------------------
# VICReg


class VICRegLoss(torch.nn.Module):
    r"""VICReg: variance-invariance-covariance regularisation (Bardes, Ponce & LeCun, ICLR 2022).

    .. math::

        L = \lambda\,\mathrm{MSE}(z_1, z_2)
            + \mu\,\tfrac12 \big[v(z_1) + v(z_2)\big]
            + \nu\,\big[c(z_1) + c(z_2)\big]

    with :math:`v(z) = \frac1D \sum_d \max(0, 1 - \sqrt{\mathrm{Var}(z_{\cdot d}) + \epsilon})` (unbiased
    variance over the batch) and :math:`c(z) = \frac1D \sum_{d \ne e} C(z)_{de}^2`, ``C`` the covariance
    matrix over the batch: the weighting of the authors' reference code. The embeddings are not
    normalised.

    Under DDP (``gather_distributed=True`` and ``W > 1`` ranks) the variance and covariance are taken
    over the gathered global batch (with gradients), so they are the same on every rank and equal to
    those of one process with the whole batch; the invariance term is a mean over this rank's pairs.
    The mean of the ranks' losses is the loss of the global batch. Every rank must give the same ``B``.

    Args:
        sim_weight: ``λ``, weight of the invariance (MSE) term, ``>= 0``.
        var_weight: ``μ``, weight of the variance hinge, ``>= 0``.
        cov_weight: ``ν``, weight of the covariance term, ``>= 0``.
        eps: ``ε > 0`` inside the square root of the variance.
        gather_distributed: take variance and covariance over the batch of every DDP rank.

    Shapes:
        z1, z2: ``(B, D)`` with a global batch ``B * W >= 2``.
        output: ``()``.
    """

    def __init__(
        self,
        sim_weight: float = 25.0,
        var_weight: float = 25.0,
        cov_weight: float = 1.0,
        eps: float = 1e-4,
        gather_distributed: bool = True,
    ) -> None:
        super().__init__()
        self.sim_weight = check.number("VICRegLoss", "sim_weight", sim_weight, low=0.0, finite=True)
        self.var_weight = check.number("VICRegLoss", "var_weight", var_weight, low=0.0, finite=True)
        self.cov_weight = check.number("VICRegLoss", "cov_weight", cov_weight, low=0.0, finite=True)
        self.eps = check.number("VICRegLoss", "eps", eps, low=0.0, strict=True, finite=True)
        self.gather_distributed = check.boolean("VICRegLoss", "gather_distributed", gather_distributed)

    def variance(self, z: Tensor) -> Tensor:
        """The hinge ``mean_d relu(1 - sqrt(Var(z[:, d]) + eps))``.

        Shapes:
            z: ``(N, D)`` with ``N >= 2`` → ``()``.
        """
        std = torch.sqrt(z.var(dim=0) + self.eps)
        return F.relu(1.0 - std).mean()

    @staticmethod
    def covariance(z: Tensor) -> Tensor:
        """The squared off-diagonal covariances over the batch, summed and divided by ``D``.

        Shapes:
            z: ``(N, D)`` with ``N >= 2`` → ``()``.
        """
        rows, dims = z.shape
        centred = z - z.mean(dim=0)
        cov = (centred.T @ centred) / (rows - 1)
        return (cov.pow(2).sum() - torch.diagonal(cov).pow(2).sum()) / dims

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        """The VICReg loss of this rank's pairs (variance and covariance over the global batch).

        Args:
            z1: embeddings of the first view.
            z2: embeddings of the second view, row ``i`` the partner of row ``i`` of ``z1``.

        Returns:
            The weighted sum of the three terms (a scalar).

        Shapes:
            z1, z2: ``(B, D)`` → ``()``.
        """
        _check_pair("VICRegLoss", z1, z2)
        z1, z2 = _at_least_float32(z1), _at_least_float32(z2)
        batch = z1.shape[0]
        invariance = F.mse_loss(z1, z2)

        _, world = distributed_rank()
        if self.gather_distributed and world > 1:
            _same_shape_on_every_rank(z1, "VICRegLoss", "z1")
            everything = _GatherWithGrad.apply(torch.cat([z1, z2])).view(world, 2 * batch, -1)
            g1, g2 = everything[:, :batch].flatten(0, 1), everything[:, batch:].flatten(0, 1)
        else:
            g1, g2 = z1, z2
        if g1.shape[0] < 2:
            raise LossError(
                f"VICRegLoss: z1, z2 have shape {tuple(z1.shape)!r}: expected a batch of B >= 2 jets "
                f"(over all ranks) to take a variance over"
            )
        variance = 0.5 * (self.variance(g1) + self.variance(g2))
        covariance = self.covariance(g1) + self.covariance(g2)
        return self.sim_weight * invariance + self.var_weight * variance + self.cov_weight * covariance

    def extra_repr(self) -> str:
        return (
            f"sim_weight={self.sim_weight:g}, var_weight={self.var_weight:g}, cov_weight={self.cov_weight:g}, "
            f"eps={self.eps:g}, gather_distributed={self.gather_distributed}"
        )


# --------------------------------------------------------------------------------------------------
# representation metrics (Wang & Isola 2020)


def alignment(z1: Tensor, z2: Tensor, alpha: float = 2.0) -> Tensor:
    """Mean distance of positive pairs on the unit sphere: ``mean_i ||f(x_i) - f(y_i)||^alpha``.

    Lower is better aligned (0: every pair coincides; at most ``2^alpha``). The rows are
    L2-normalised first. Differentiable, but needs no gradient.

    Args:
        z1: embeddings of the first view.
        z2: embeddings of the second view, row ``i`` the partner of row ``i`` of ``z1``.
        alpha: the power of the distance, ``> 0``.

    Returns:
        A scalar tensor.

    Shapes:
        z1, z2: ``(B, D)`` → ``()``.
    """
    alpha = check.number("alignment", "alpha", alpha, low=0.0, strict=True, finite=True)
    _check_pair("alignment", z1, z2)
    difference = F.normalize(_at_least_float32(z1), dim=1) - F.normalize(_at_least_float32(z2), dim=1)
    return difference.norm(dim=1).pow(alpha).mean()


def pair_accuracy(z1: Tensor, z2: Tensor) -> Tensor:
    """Fraction of rows of ``z1`` whose most similar row of ``z2`` (cosine) is their own partner.

    Top-1 retrieval of the positive among all second views: chance is ``1 / B``. Unlike
    :func:`alignment`, a collapsed representation (every jet at one point) does not score well.

    Shapes:
        z1, z2: ``(B, D)`` → ``()``.
    """
    _check_pair("pair_accuracy", z1, z2)
    similarity = F.normalize(_at_least_float32(z1), dim=1) @ F.normalize(_at_least_float32(z2), dim=1).T
    return (similarity.argmax(dim=1) == torch.arange(len(z1), device=z1.device)).float().mean()


def uniformity(z: Tensor, t: float = 2.0) -> Tensor:
    """How evenly the embeddings cover the sphere: ``log mean_{i<j} exp(-t ||f(x_i) - f(x_j)||^2)``.

    Lower is more uniform (0 when all coincide; about ``-t * 2`` for many points spread in high
    dimension). The rows are L2-normalised first; the mean runs over the ``N (N - 1) / 2`` distinct
    pairs (``torch.pdist``). Differentiable, but needs no gradient.

    Args:
        z: embeddings.
        t: the scale ``> 0`` of the Gaussian potential.

    Returns:
        A scalar tensor.

    Shapes:
        z: ``(N, D)`` with ``N >= 2`` → ``()``.
    """
    t = check.number("uniformity", "t", t, low=0.0, strict=True, finite=True)
    if not isinstance(z, Tensor) or z.dim() != 2 or z.shape[0] < 2 or not z.is_floating_point():
        shape = tuple(z.shape) if isinstance(z, Tensor) else type(z).__name__
        raise LossError(f"uniformity: z has shape {shape!r}: expected a floating tensor (N, D) with N >= 2")
    squared = torch.pdist(F.normalize(_at_least_float32(z), dim=1)).pow(2)
    return torch.logsumexp(-t * squared, dim=0) - math.log(squared.numel())


# --------------------------------------------------------------------------------------------------
# registry


LOSSES = Registry("loss", LossError, {"ntxent": NTXentLoss, "vicreg": VICRegLoss})
"""The losses a config can name (``loss.name``)."""


def build_loss(name: str, **params: Any) -> torch.nn.Module:
    """The loss registered as ``name`` (``"ntxent"``, ``"vicreg"``) with keyword ``params``.

    Raises:
        LossError: for an unknown name or parameter (with the nearest known one), or a bad value.
    """
    return LOSSES.build(name, **params)
