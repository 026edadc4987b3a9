"""Parametric detector simulation: truth particles -> calorimeter cells and tracks, in K replicas.

Each of the ``replicas`` is an independent simulation of the same truth jet, drawn from one
``numpy.random.Generator``; the work is vectorised over all particles of all jets and replicas (numpy,
no per-particle loop). Units: GeV and radians. Particles fly straight (no magnetic field) and deposit
at their own (eta, phi), taken from the momentum.

Tracker (charged particles):
    a particle with ``charge != 0``, ``|eta| < eta_max`` and true ``pT > pt_min`` makes a track with
    probability ``efficiency``; its pT is smeared by a Gaussian of relative width
    ``sigma(pT)/pT = sqrt((a pT)^2 + b^2)`` (``a = resolution_a`` per GeV, ``b = resolution_b``); eta,
    phi and charge are kept. A track whose smeared pT comes out <= 0 is lost (this needs
    ``sigma/pT`` of order one, i.e. pT of a TeV or more with the default ``a``).

Calorimeters (ECAL, HCAL), per particle of energy E:
    ``|pid|`` 11, 22 (electrons, photons): E in the ECAL (response 1). ``|pid|`` 12, 13, 14, 16
    (neutrinos, muons): nothing. Any other pid is a hadron: ``f E`` in the ECAL (response 1,
    ``f = hadron_ecal_fraction``) and ``(1 - f) E h`` in the HCAL (``h = hadron_response``, the
    non-compensating e/h response). A calorimeter sees only particles with ``|eta| < eta_max`` there.
    Each deposit ``E_dep`` is smeared with a Gaussian of
    ``sigma = E_dep sqrt(stochastic^2 / E_dep + constant^2)`` (the resolution of the deposited, not the
    true, energy) and clipped at 0 (so a low-energy deposit has a mean slightly above ``E_dep``).

Lateral spread and cells:
    the cell grid is fixed: in eta, cells ``[i w, (i + 1) w)`` for ``i = -m .. m - 1`` with
    ``m = ceil(eta_max / w)``; in phi, ``n = round(2 pi / size)`` cells of width ``2 pi / n`` from
    ``-pi``. A cell is reported at its centre. Each smeared deposit is shared over the 3 x 3 cells
    around the cell it falls in, with the weights of a 2D Gaussian of sigma ``spread`` (eta-phi units)
    integrated over each cell (erf differences, separable in eta and phi), renormalised over the 3 x 3
    cells inside the grid, so energy is conserved (``spread`` should not exceed about the cell size,
    since the tails beyond the 3 x 3 are folded back). Energies are summed per (jet, replica, layer,
    cell), Gaussian noise of sigma ``noise`` is added to every cell that received energy, and cells
    below ``threshold`` (and any with energy <= 0) are dropped. Noise in cells without any deposit is
    neglected.

Output order is deterministic: tracks in particle order; cells sorted by (calorimeter, eta index,
phi index) within each (jet, replica). The same generator state gives identical output.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import awkward as ak
import numpy as np

from jetgraph.errors import JetGraphError, RecipeError, SchemaError
from jetgraph.schema import EM_PIDS, INVISIBLE_PIDS, RECORDS, kinematics
from jetgraph.settings import from_mapping, read_named


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


@dataclass(frozen=True)
class Tracker:
    """Tracking acceptance, efficiency and pT resolution ``sigma(pT)/pT = sqrt((a pT)^2 + b^2)``.

    Attributes:
        eta_max: tracks only for ``|eta| < eta_max``.
        pt_min: tracks only for true ``pT > pt_min`` (GeV).
        efficiency: probability that an accepted charged particle makes a track.
        resolution_a: ``a`` (per GeV): the curvature term, growing with pT.
        resolution_b: ``b``: the multiple-scattering term, constant in pT.
    """

    eta_max: float = 2.5
    pt_min: float = 0.5
    efficiency: float = 0.9
    resolution_a: float = 5e-4
    resolution_b: float = 0.01

    def __post_init__(self) -> None:
        _check(self.eta_max > 0, f"tracker eta_max is {self.eta_max!r}; expected > 0")
        _check(self.pt_min >= 0, f"tracker pt_min is {self.pt_min!r} GeV; expected >= 0")
        _check(0 <= self.efficiency <= 1, f"tracker efficiency is {self.efficiency!r}; expected between 0 and 1")
        _check(self.resolution_a >= 0, f"tracker resolution_a is {self.resolution_a!r}; expected >= 0")
        _check(self.resolution_b >= 0, f"tracker resolution_b is {self.resolution_b!r}; expected >= 0")


@dataclass(frozen=True)
class Calorimeter:
    """One calorimeter layer: a fixed eta-phi cell grid with resolution ``a/sqrt(E) (+) c``, noise and threshold.

    Attributes:
        layer: the ``cells.layer`` value written for this calorimeter.
        cell_size: (eta, phi) cell widths; the phi width is adjusted to ``2 pi / round(2 pi / size)``.
        eta_max: acceptance ``|eta| < eta_max``.
        stochastic: ``a`` in ``sigma/E = a/sqrt(E) (+) c`` (E in GeV; 0.1 means 10%/sqrt(E)).
        constant: ``c`` in the same formula.
        noise: Gaussian sigma (GeV) added to each cell that has a deposit.
        threshold: cells below this energy (GeV) are dropped.
        spread: sigma of the lateral shower profile, in eta-phi units.
    """

    layer: int
    cell_size: tuple[float, ...]
    eta_max: float
    stochastic: float
    constant: float
    noise: float
    threshold: float
    spread: float

    def __post_init__(self) -> None:
        _check(self.layer >= 0, f"layer is {self.layer!r}; expected an integer >= 0")
        size = tuple(float(s) for s in self.cell_size)
        _check(
            len(size) == 2 and size[0] > 0 and 0 < size[1] <= math.pi,
            f"cell_size is {self.cell_size!r}; expected [eta width, phi width], both > 0 and phi width <= pi",
        )
        object.__setattr__(self, "cell_size", size)
        _check(self.eta_max > 0, f"eta_max is {self.eta_max!r}; expected > 0")
        for name in ("stochastic", "constant", "noise", "threshold", "spread"):
            value = getattr(self, name)
            _check(value >= 0, f"{name} is {value!r}; expected >= 0")

    @property
    def n_phi(self) -> int:
        """Number of cells around in phi."""
        return max(1, round(2 * math.pi / self.cell_size[1]))

    @property
    def phi_width(self) -> float:
        """Phi width of a cell (radians), so that the grid closes."""
        return 2 * math.pi / self.n_phi

    @property
    def half_eta_cells(self) -> int:
        """``m``: the grid has eta cells ``i = -m .. m - 1``."""
        return math.ceil(self.eta_max / self.cell_size[0] - 1e-9)


@dataclass(frozen=True)
class Detector:
    """A tracker, an ECAL and an HCAL, and how hadrons share their energy between the calorimeters.

    Attributes:
        tracker: tracking acceptance and resolution.
        ecal: electromagnetic calorimeter (``layer`` 0 by default).
        hcal: hadronic calorimeter (``layer`` 1 by default).
        hadron_ecal_fraction: share of a hadron's energy deposited in the ECAL (response 1 there).
        hadron_response: ``h/e``, the response of the HCAL to the rest of a hadron's energy.
        name: a label for reports (``load_detector`` sets it to the file's name).
    """

    tracker: Tracker
    ecal: Calorimeter
    hcal: Calorimeter
    hadron_ecal_fraction: float = 0.2
    hadron_response: float = 0.8
    name: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        _check(
            0 <= self.hadron_ecal_fraction <= 1,
            f"hadron_ecal_fraction is {self.hadron_ecal_fraction!r}; expected between 0 and 1",
        )
        _check(self.hadron_response > 0, f"hadron_response is {self.hadron_response!r}; expected > 0")
        _check(
            self.ecal.layer != self.hcal.layer,
            f"ecal and hcal both have layer {self.ecal.layer}; expected different layers",
        )


def load_detector(name_or_path: str | Path = "default") -> Detector:
    """A built-in detector by name (``data_recipes/detectors/<name>.yaml``) or one from a YAML file.

    Raises:
        RecipeError: unknown name, missing file, unknown key (with the nearest accepted one), a value
            of the wrong kind or out of range; the message names the file and the dotted key.
    """
    data, source = read_named(name_or_path, "detectors", "detector", RecipeError)
    detector = from_mapping(Detector, data, source, RecipeError)
    if not detector.name:
        detector = dataclasses.replace(detector, name=Path(str(name_or_path)).stem)
    return detector


# --- the simulation --------------------------------------------------------------------------------


_ERFC_COEFFICIENTS = (
    0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807,
    -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223,
)  # fmt: skip


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Standard normal CDF, vectorised (numpy has no erf; Numerical Recipes' erfc, relative error < 1.2e-7)."""
    z = np.abs(x) / math.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * z)
    poly = np.zeros_like(t)
    for coefficient in _ERFC_COEFFICIENTS:  # Horner, highest power first
        poly = poly * t + coefficient
    poly = -z * z + poly
    upper = 0.5 * t * np.exp(poly)  # P(X > |x|)
    return np.where(x < 0, upper, 1.0 - upper)


def _shares(frac: np.ndarray, spread_cells: float) -> np.ndarray:
    """Shares of a 1D Gaussian (sigma in cell widths) in the cells at offsets -1, 0, +1 of a point.

    Shapes:
        frac: (n,), the position inside its cell in [0, 1); returns (n, 3).
    """
    if spread_cells == 0:
        shares = np.zeros((len(frac), 3))
        shares[:, 1] = 1.0
        return shares
    edges = (np.arange(-1.0, 3.0)[None, :] - frac[:, None]) / spread_cells
    return np.clip(np.diff(_normal_cdf(edges), axis=1), 0.0, None)


def _spread(calo: Calorimeter, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The 3 x 3 cells around each point and the energy share of each, summing to one.

    Shapes:
        eta, phi: (n,); returns ieta, iphi (int64, iphi in [0, n_phi)) and weights, each (n, 9).
    """
    w_eta, w_phi, m = calo.cell_size[0], calo.phi_width, calo.half_eta_cells
    u = eta / w_eta
    ieta = np.clip(np.floor(u), -m, m - 1)  # the clip only guards rounding at |eta| ~ eta_max
    v = (phi + math.pi) / w_phi
    iphi = np.floor(v)
    share_eta = _shares(np.clip(u - ieta, 0.0, 1.0), calo.spread / w_eta)
    share_phi = _shares(v - iphi, calo.spread / w_phi)
    offsets = np.arange(-1, 2)
    cell_eta = ieta.astype(np.int64)[:, None] + offsets  # (n, 3)
    cell_phi = (iphi.astype(np.int64)[:, None] + offsets) % calo.n_phi
    share_eta = np.where((cell_eta >= -m) & (cell_eta < m), share_eta, 0.0)  # outside the grid: none
    weights = share_eta[:, :, None] * share_phi[:, None, :]
    weights /= weights.sum(axis=(1, 2), keepdims=True)
    cells_eta = np.broadcast_to(cell_eta[:, :, None], weights.shape).reshape(len(eta), 9)
    cells_phi = np.broadcast_to(cell_phi[:, None, :], weights.shape).reshape(len(eta), 9)
    return cells_eta, cells_phi, weights.reshape(len(eta), 9)


def _smear(energy: np.ndarray, calo: Calorimeter, replicas: int, rng: np.random.Generator) -> np.ndarray:
    """Deposits smeared by ``a/sqrt(E) (+) c`` and clipped at 0. Shapes: (n,) -> (replicas, n)."""
    sigma = np.sqrt(calo.stochastic**2 * energy + calo.constant**2 * energy**2)
    smeared = energy + sigma * rng.standard_normal((replicas, len(energy)))
    return np.clip(smeared, 0.0, None)


def _tracks(
    kin: dict[str, np.ndarray],
    charge: np.ndarray,
    jet_of: np.ndarray,
    tracker: Tracker,
    replicas: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Flat tracks of all jets and replicas in (jet, replica, particle) order, and their (jet, replica) slot."""
    pt = kin["pt"]
    cand = np.flatnonzero((charge != 0) & (np.abs(kin["eta"]) < tracker.eta_max) & (pt > tracker.pt_min))
    kept = rng.random((replicas, len(cand))) < tracker.efficiency
    rel = np.hypot(tracker.resolution_a * pt[cand], tracker.resolution_b)
    smeared = pt[cand] * (1.0 + rel * rng.standard_normal((replicas, len(cand))))
    kept &= smeared > 0
    rep, j = np.nonzero(kept)  # replica-major
    slot = jet_of[cand[j]] * replicas + rep
    order = np.argsort(slot, kind="stable")
    particle = cand[j][order]
    values = {
        "pt": smeared[rep, j][order],
        "eta": kin["eta"][particle],
        "phi": kin["phi"][particle],
        "charge": charge[particle],
    }
    return slot[order], {k: v.astype(np.float32) for k, v in values.items()}


def showers(pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which particles shower electromagnetically and which hadronically (neither: neutrinos, muons).

    Shapes:
        pid: (n,) PDG ids; returns two (n,) boolean masks, ``em`` and ``hadron``.
    """
    apid = np.abs(pid)
    em = np.isin(apid, EM_PIDS)
    return em, ~em & ~np.isin(apid, INVISIBLE_PIDS)


def _deposits(kin: dict[str, np.ndarray], pid: np.ndarray, detector: Detector) -> tuple[np.ndarray, np.ndarray]:
    """Unsmeared ECAL and HCAL deposits (GeV) of each particle, before acceptance."""
    em, hadron = showers(pid)
    energy = kin["energy"]
    f = detector.hadron_ecal_fraction
    ecal = np.where(em, energy, np.where(hadron, f * energy, 0.0))
    hcal = np.where(hadron, (1.0 - f) * detector.hadron_response * energy, 0.0)
    return ecal, hcal


def _cells(
    kin: dict[str, np.ndarray],
    pid: np.ndarray,
    jet_of: np.ndarray,
    detector: Detector,
    n_jets: int,
    replicas: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Flat cells of all jets and replicas, sorted by (jet, replica, calorimeter, ieta, iphi), and their slot."""
    calos = (detector.ecal, detector.hcal)
    stride = max(2 * c.half_eta_cells * c.n_phi for c in calos)
    if n_jets * replicas * len(calos) * stride >= 2**62:
        raise JetGraphError(
            f"{n_jets} jets x {replicas} replicas on a grid of {stride} cells overflow the cell index; "
            "simulate fewer jets at a time"
        )
    keys, energies = [], []
    for c, (calo, deposit) in enumerate(zip(calos, _deposits(kin, pid, detector), strict=True)):
        hit = np.flatnonzero((deposit > 0) & (np.abs(kin["eta"]) < calo.eta_max))
        smeared = _smear(deposit[hit], calo, replicas, rng)  # (K, n)
        ieta, iphi, weights = _spread(calo, kin["eta"][hit], kin["phi"][hit])  # (n, 9)
        cell = (ieta + calo.half_eta_cells) * calo.n_phi + iphi
        slot = jet_of[hit][None, :] * replicas + np.arange(replicas)[:, None]  # (K, n)
        key = (slot[:, :, None] * len(calos) + c) * stride + cell[None, :, :]  # (K, n, 9)
        energy = smeared[:, :, None] * weights[None, :, :]
        positive = energy > 0
        keys.append(key[positive])
        energies.append(energy[positive])
    key, inverse = np.unique(np.concatenate(keys), return_inverse=True)
    energy = np.bincount(inverse.ravel(), weights=np.concatenate(energies), minlength=len(key))
    calo_of = (key // stride) % len(calos)
    noise = np.array([c.noise for c in calos])[calo_of]
    energy = energy + noise * rng.standard_normal(len(key))
    keep = (energy >= np.array([c.threshold for c in calos])[calo_of]) & (energy > 0)
    key, energy, calo_of = key[keep], energy[keep], calo_of[keep]

    cell = key % stride
    n_phi = np.array([c.n_phi for c in calos])[calo_of]
    ieta = cell // n_phi - np.array([c.half_eta_cells for c in calos])[calo_of]
    iphi = cell % n_phi
    values = {
        "eta": (ieta + 0.5) * np.array([c.cell_size[0] for c in calos])[calo_of],
        "phi": -math.pi + (iphi + 0.5) * np.array([c.phi_width for c in calos])[calo_of],
        "energy": energy,
    }
    out = {k: v.astype(np.float32) for k, v in values.items()}
    out["layer"] = np.array([c.layer for c in calos], dtype=np.int32)[calo_of]
    return key // (len(calos) * stride), out


def _nest(values: dict[str, np.ndarray], slot: np.ndarray, n_jets: int, replicas: int) -> ak.Array:
    """Flat items with their (jet, replica) slot -> jets * replica * items (``var`` lengths throughout)."""
    counts = np.bincount(slot, minlength=n_jets * replicas)
    items = ak.unflatten(ak.zip(values), counts)
    return ak.unflatten(items, np.full(n_jets, replicas, dtype=np.int64))


def simulate(jets: ak.Array, detector: Detector, replicas: int, rng: np.random.Generator) -> ak.Array:
    """Add detector-level ``cells`` and ``tracks``, with a replica axis, to canonical truth jets.

    Args:
        jets: canonical jets whose ``part`` has ``px, py, pz, energy, pid, charge``.
        detector: the detector, e.g. from :func:`load_detector`.
        replicas: K >= 1 independent simulations of every jet.
        rng: the only source of randomness; the same state gives identical output.

    Returns:
        ``jets`` with ``cells`` (``eta, phi, energy, layer``) and ``tracks`` (``pt, eta, phi, charge``)
        added; every other field and the attrs are unchanged.

    Shapes:
        jets: N * var * particles; cells, tracks: N * K * var (a replica may be empty).

    Raises:
        SchemaError: the particles lack ``pid`` or ``charge``, or the jets already have cells/tracks.
        JetGraphError: ``replicas`` is not an integer >= 1.
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int | np.integer) or replicas < 1:
        raise JetGraphError(f"replicas={replicas!r}: expected an integer >= 1")
    replicas = int(replicas)
    fields = ak.fields(jets)
    if "part" not in fields:
        raise SchemaError(f"simulate needs particle-level jets with a 'part' record; the jets have {fields}")
    missing = [f for f in ("px", "py", "pz", "energy", "pid", "charge") if f not in ak.fields(jets.part)]
    if missing:
        raise SchemaError(f"simulate: the particles lack {missing} (needed to decide what each particle deposits)")
    present = [f for f in ("cells", "tracks") if f in fields]
    if present:
        raise SchemaError(f"simulate: the jets already have {present}; drop them before simulating again")

    n_jets = len(jets)
    part = jets.part
    counts = ak.to_numpy(ak.num(part, axis=1)).astype(np.int64)
    flat = {k: ak.to_numpy(ak.ravel(part[k])) for k in ("px", "py", "pz", "energy", "pid", "charge")}
    kin = kinematics(flat["px"], flat["py"], flat["pz"], flat["energy"])
    jet_of = np.repeat(np.arange(n_jets, dtype=np.int64), counts)

    track_slot, tracks = _tracks(kin, flat["charge"], jet_of, detector.tracker, replicas, rng)
    cell_slot, cells = _cells(kin, flat["pid"], jet_of, detector, n_jets, replicas, rng)

    out = {name: jets[name] for name in fields}
    out["cells"] = _nest(cells, cell_slot, n_jets, replicas)
    out["tracks"] = _nest(tracks, track_slot, n_jets, replicas)
    rank = {name: i for i, name in enumerate((*RECORDS, "label"))}
    ordered = {k: out[k] for k in sorted(out, key=lambda k: rank.get(k, len(rank)))}
    return ak.Array(ak.zip(ordered, depth_limit=1), attrs=jets.attrs)
