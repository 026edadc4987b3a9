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
import vector
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


def write_nanoaod(
    jets: ak.Array, path: str | os.PathLike, jets_per_event: int = 2, layout: str = "pfnano", seed: int = 0
) -> Path:
    """Write canonical jets (with ``pid`` and ``charge``) as CMS NanoAOD-style events, for per-event readers.

    Consecutive jets become one event of ``jets_per_event`` jets (TTree ``Events``, ``mktree``):
    ``Jet_pt, Jet_eta, Jet_phi, Jet_mass``, ``Jet_partonFlavour`` (21 for a jet labelled ``gluon``, 1
    for ``quark``, else the label) and ``Jet_hadronFlavour`` (0), and the particles as ``PFCands_pt,
    _eta, _phi, _mass, _pdgId, _charge``. With ``layout="pfnano"`` the candidates of an event are
    shuffled and linked to their jet by ``JetPFCands_jetIdx`` / ``JetPFCands_pFCandsIdx``, as PFNano
    stores them; with ``layout="counts"`` they are stored jet after jet with ``Jet_nConstituents``.
    """
    if layout not in ("pfnano", "counts"):
        raise ValueError(f"layout={layout!r}; expected 'pfnano' or 'counts'")
    rng = np.random.default_rng(seed)
    n = len(jets)
    per_event = np.full(n // jets_per_event, jets_per_event)
    per_event = np.append(per_event, n % jets_per_event) if n % jets_per_event else per_event
    names = list(jets.attrs.get("label_names", []))
    codes = {"gluon": 21, "quark": 1}
    label = ak.to_numpy(jets.label) if "label" in ak.fields(jets) else np.zeros(n, np.int64)
    flavour = np.array([codes.get(names[v], v) if 0 <= v < len(names) else v for v in label], np.int32)
    p4 = vector.zip({k: jets.part[c] for k, c in (("px", "px"), ("py", "py"), ("pz", "pz"), ("E", "energy"))})
    counts = ak.to_numpy(ak.num(jets.part, axis=1))
    flat = {
        "pt": ak.to_numpy(ak.flatten(p4.pt)),
        "eta": ak.to_numpy(ak.flatten(p4.eta)),
        "phi": ak.to_numpy(ak.flatten(p4.phi)),
        "mass": np.nan_to_num(ak.to_numpy(ak.flatten(p4.tau))),
        "pdgId": ak.to_numpy(ak.flatten(jets.part.pid)),
        "charge": ak.to_numpy(ak.flatten(jets.part.charge)).astype(np.int32),
    }
    particle_jet = np.repeat(np.arange(n), counts)  # global jet of each particle
    event_of_jet = np.repeat(np.arange(len(per_event)), per_event)
    jets_before = np.concatenate([[0], np.cumsum(per_event)])
    local_jet = (np.arange(n) - jets_before[event_of_jet])[particle_jet]
    particle_event = event_of_jet[particle_jet]
    order = np.arange(len(particle_jet))
    if layout == "pfnano":  # the candidates of each event in a random order, as the event stores them
        order = np.lexsort((rng.random(len(order)), particle_event))
    stored_per_event = np.bincount(particle_event, minlength=len(per_event))

    def events(values: np.ndarray, lengths: np.ndarray) -> ak.Array:
        return ak.unflatten(values, lengths)

    branches = {
        "Jet": ak.zip(
            {
                "pt": events(ak.to_numpy(jets.jet.pt), per_event),
                "eta": events(ak.to_numpy(jets.jet.eta), per_event),
                "phi": events(ak.to_numpy(jets.jet.phi), per_event),
                "mass": events(ak.to_numpy(jets.jet.mass), per_event),
                "partonFlavour": events(flavour, per_event),
                "hadronFlavour": events(np.zeros(n, np.int32), per_event),
                **({"nConstituents": events(counts.astype(np.int32), per_event)} if layout == "counts" else {}),
            }
        ),
        "PFCands": ak.zip({k: events(v[order].astype(v.dtype), stored_per_event) for k, v in flat.items()}),
    }
    if layout == "pfnano":  # link i: candidate position[i] of the event belongs to jet local_jet[i]
        position = np.empty(len(order), np.int64)
        position[order] = (
            np.arange(len(order)) - np.concatenate([[0], np.cumsum(stored_per_event)])[particle_event[order]]
        )
        branches["JetPFCands"] = ak.zip(
            {
                "jetIdx": events(local_jet.astype(np.int32), stored_per_event),
                "pFCandsIdx": events(position.astype(np.int32), stored_per_event),
            }
        )
    path = Path(path)
    with written_atomically(path) as partial, uproot.recreate(partial) as handle:
        handle.mktree("Events", {k: v.type.content for k, v in branches.items()})
        handle["Events"].extend(branches)
    return path


def main(argv: list[str] | None = None) -> None:
    """Write an example file: synthetic jets in the JetClass layout, or the jets of a file of yours (with
    ``pid`` and ``charge``, e.g. from ``jetgraph generate``) as CMS NanoAOD-style events (``--nanoaod-from``).

    ``python -m jetgraph.io.examples OUT.root [--jets N] [--seed S]``
    ``python -m jetgraph.io.examples nano.root --nanoaod-from data/qg.root [--jets-per-event 2]``
    """
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--jets", type=int, default=1000, help="synthetic jets to write")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nanoaod-from", type=Path, help="a jet file whose jets to write as NanoAOD-style events")
    parser.add_argument("--jets-per-event", type=int, default=2)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.nanoaod_from is not None:
        from jetgraph.io import read

        jets = read(args.nanoaod_from)
        write_nanoaod(jets, args.out, jets_per_event=args.jets_per_event, seed=args.seed)
        print(f"wrote the {len(jets)} jets of {args.nanoaod_from} as NanoAOD-style events to {args.out}")
        return
    write_jetclass(args.out, args.jets, args.seed, progress=True)
    print(f"wrote {args.jets} synthetic jets (JetClass layout, no physics) to {args.out}")


if __name__ == "__main__":
    main()
