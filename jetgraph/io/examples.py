"""Small files in public layouts, to exercise the readers (the demo, the tests, the benchmark).

The jets are *synthetic*: random multiplicities and momentum fractions around a random axis, with
exactly consistent four-momenta but no physics in them. They show how a layout is read, never what
a jet looks like; real jets come from Pythia 8 + FastJet (``jetgraph generate``).
"""

from __future__ import annotations

import os
from pathlib import Path

import awkward as ak
import numpy as np
import uproot
from tqdm.auto import tqdm

from jetgraph.io.native import ttree_types
from jetgraph.outputs import written_atomically

JETCLASS_LABELS = ("QCD", "Hbb", "Hcc", "Hgg", "H4q", "Hqql", "Zqq", "Wqq", "Tbqq", "Tbl")
_LABEL_DTYPES = (np.float32, np.bool_, np.int32)  # JetClass mixes these; so do we


def synthetic_jets(n_jets: int, seed: int = 0, mean_multiplicity: float = 40.0) -> dict[str, np.ndarray | ak.Array]:
    """Random jets as flat/jagged arrays: particle (pt, eta, phi, pid, charge) and jet axis.

    Shapes:
        returns ``part_*`` as N * var float32, ``jet_*`` as (N,), ``label`` as (N,) int in [0, 10).
    """
    rng = np.random.default_rng(seed)
    counts = np.maximum(1, rng.poisson(mean_multiplicity, n_jets))
    total = int(counts.sum())
    jet_index = np.repeat(np.arange(n_jets), counts)
    jet_pt = rng.uniform(500.0, 550.0, n_jets)
    jet_eta = rng.uniform(-2.0, 2.0, n_jets)
    jet_phi = rng.uniform(-np.pi, np.pi, n_jets)
    weights = rng.exponential(1.0, total)
    fraction = weights / np.bincount(jet_index, weights)[jet_index]
    deta = rng.normal(0.0, 0.12, total)
    dphi = rng.normal(0.0, 0.12, total)
    kind = rng.choice(5, size=total, p=[0.55, 0.1, 0.3, 0.03, 0.02])  # ch. had, neu. had, photon, e, mu
    charged = (kind == 0) | (kind >= 3)
    charge = np.where(charged, rng.choice([-1.0, 1.0], size=total), 0.0)
    return {
        "pt": ak.unflatten((fraction * jet_pt[jet_index]).astype(np.float32), counts),
        "eta": ak.unflatten((jet_eta[jet_index] + deta).astype(np.float32), counts),
        "phi": ak.unflatten(np.angle(np.exp(1j * (jet_phi[jet_index] + dphi))).astype(np.float32), counts),
        "kind": ak.unflatten(kind, counts),
        "charge": ak.unflatten(charge.astype(np.float32), counts),
        "d0": ak.unflatten(np.where(charged, rng.normal(0, 0.02, total), 0).astype(np.float32), counts),
        "dz": ak.unflatten(np.where(charged, rng.normal(0, 0.05, total), 0).astype(np.float32), counts),
        "label": rng.integers(0, len(JETCLASS_LABELS), n_jets),
    }


def jetclass_branches(n_jets: int, seed: int = 0) -> dict[str, np.ndarray | ak.Array]:
    """The branches of a JetClass ntuple for :func:`synthetic_jets` (massless particles)."""
    jets = synthetic_jets(n_jets, seed)
    pt, eta, phi = jets["pt"], jets["eta"], jets["phi"]
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    energy = pt * np.cosh(eta)
    sums = {
        k: ak.to_numpy(ak.sum(v, axis=1)).astype(np.float64)
        for k, v in (("px", px), ("py", py), ("pz", pz), ("e", energy))
    }
    jet_pt = np.hypot(sums["px"], sums["py"])
    mass = np.sqrt(np.clip(sums["e"] ** 2 - sums["px"] ** 2 - sums["py"] ** 2 - sums["pz"] ** 2, 0, None))
    part = {
        "px": px, "py": py, "pz": pz, "energy": energy,
        "deta": eta - ak.mean(eta, axis=1), "dphi": phi - ak.mean(phi, axis=1),
        "charge": jets["charge"], "d0val": jets["d0"], "dzval": jets["dz"],
    }  # fmt: skip
    for code, name in enumerate(("isChargedHadron", "isNeutralHadron", "isPhoton", "isElectron", "isMuon")):
        part[name] = ak.values_astype(jets["kind"] == code, np.float32)
    branches: dict[str, np.ndarray | ak.Array] = {
        "part": ak.zip({k: ak.values_astype(v, np.float32) for k, v in part.items()})
    }
    rng = np.random.default_rng(seed + 1)
    taus = np.sort(rng.uniform(0.01, 0.5, (n_jets, 4)), axis=1)[:, ::-1]
    branches.update(
        {
            "jet_pt": jet_pt.astype(np.float32),
            "jet_eta": np.arcsinh(sums["pz"] / jet_pt).astype(np.float32),
            "jet_phi": np.arctan2(sums["py"], sums["px"]).astype(np.float32),
            "jet_energy": sums["e"].astype(np.float32),
            "jet_nparticles": ak.to_numpy(ak.num(pt, axis=1)).astype(np.float32),
            "jet_sdmass": (0.9 * mass).astype(np.float32),
            **{f"jet_tau{i + 1}": taus[:, i].astype(np.float32) for i in range(4)},
        }
    )
    for i, name in enumerate(JETCLASS_LABELS):
        branches[f"label_{name}"] = (jets["label"] == i).astype(_LABEL_DTYPES[i % len(_LABEL_DTYPES)])
    return branches


def write_jetclass(
    path: str | os.PathLike,
    n_jets: int = 1000,
    seed: int = 0,
    chunk_size: int = 10_000,
    compression: str = "lz4",
    progress: bool = False,
) -> Path:
    """Write synthetic jets as a JetClass-layout ROOT file (TTree ``tree``, ``mktree``), in chunks.

    The file is written as ``<path>.partial`` and renamed when complete.
    """
    codecs = {"lz4": uproot.LZ4(1), "zlib": uproot.ZLIB(1), "none": None}
    path = Path(path)
    with (
        written_atomically(path) as partial,
        uproot.recreate(partial, compression=codecs[compression]) as handle,
        tqdm(total=n_jets, unit="jets", unit_scale=True, desc=f"writing {path.name}", disable=not progress) as bar,
    ):
        for start in range(0, n_jets, chunk_size):
            branches = jetclass_branches(min(chunk_size, n_jets - start), seed + start)
            if start == 0:
                handle.mktree("tree", ttree_types(branches))
            handle["tree"].extend(branches)
            bar.update(min(chunk_size, n_jets - start))
    return path


def main(argv: list[str] | None = None) -> None:
    """``python -m jetgraph.io.examples OUT.root [--jets N] [--seed S]``: write a synthetic JetClass-layout file."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--jets", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_jetclass(args.out, args.jets, args.seed, progress=True)
    print(f"wrote {args.jets} synthetic jets (JetClass layout, no physics) to {args.out}")


if __name__ == "__main__":
    main()
