"""What is in a jet file: the data behind ``jetgraph inspect``, as a plain dictionary."""

from __future__ import annotations

import os
import warnings
from typing import Any

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

from jetgraph.io import RecipeLike, count, detect, iterate, load_recipe
from jetgraph.io.files import contents, file_kind
from jetgraph.schema import BadJetsWarning

DEFAULT_MAX_JETS = 100_000
MAX_SHOWN = 8
"""Top-level objects listed per file; the rest are counted."""


def _stats(values: np.ndarray) -> dict[str, float]:
    if values.size == 0:
        return {}
    return {
        "min": float(values.min()),
        "mean": round(float(values.mean()), 3),
        "median": float(np.median(values)),
        "max": float(values.max()),
    }


def _field_listing(jets: ak.Array) -> dict[str, list[str]]:
    listing = {}
    for name in ak.fields(jets):
        fields = ak.fields(jets[name])
        listing[name] = list(fields) if fields else [str(ak.type(jets[name]).content)]
    return listing


def _top_level(listing: dict[str, str]) -> dict[str, str]:
    """Trees/datasets/groups at the top of the file, with the number of branches under each tree."""
    out = {}
    top = [name for name in listing if "/" not in name]
    for name in top[:MAX_SHOWN]:
        what = listing[name]
        branches = sum(1 for k in listing if k.startswith(name + "/"))
        out[name] = f"{what} ({branches} branches)" if what.startswith("TTree") else what
    if len(top) > MAX_SHOWN:
        out["..."] = f"{len(top) - MAX_SHOWN} more"
    return out


def summarize(
    path: str | os.PathLike, recipe: RecipeLike = None, max_jets: int = DEFAULT_MAX_JETS, progress: bool = False
) -> dict[str, Any]:
    """Describe one file: containers, detected recipe, jet count, fields, multiplicities, labels.

    Statistics come from the first ``max_jets`` jets (all, if the file is smaller), streamed.
    Jets that fail validation are counted under ``"dropped"`` rather than warned about; ``"jets"`` is
    what the file stores, ``"valid"`` what :func:`jetgraph.read` returns (None when not all were read).
    """
    path = os.fspath(path)
    kind = file_kind(path)
    chosen = detect(path) if recipe is None else load_recipe(recipe)
    total = count(path, chosen)
    summary: dict[str, Any] = {
        "path": path,
        "kind": kind,
        "size_bytes": os.path.getsize(path) if os.path.exists(path) else None,
        "recipe": chosen.name,
        "format": chosen.format,
        "detected": recipe is None,
        "description": chosen.description,
        "contains": _top_level(contents(path)),
        "jets": total,
    }
    multiplicity, jet_pt, labels = [], [], []
    detector: dict[str, list[np.ndarray]] = {}  # cells/tracks per jet (and replica)
    replicas: dict[str, set[int]] = {}
    fields: dict[str, list[str]] = {}
    label_names: list[str] = chosen.label_names
    scanned = 0
    step = max(1, min(max_jets, 50_000))
    with (
        warnings.catch_warnings(record=True) as caught,
        tqdm(total=min(total, max_jets), unit="jets", disable=not progress, desc="scanning") as bar,
    ):
        warnings.simplefilter("always", BadJetsWarning)
        for chunk in iterate(path, chosen, step_size=step):
            chunk = chunk[: max_jets - scanned]
            fields = fields or _field_listing(chunk)
            label_names = chunk.attrs.get("label_names", label_names)
            multiplicity.append(ak.to_numpy(chunk.jet.nparticles))
            jet_pt.append(ak.to_numpy(chunk.jet.pt))
            for name in ("cells", "tracks"):
                if name in ak.fields(chunk):
                    items = chunk[name]
                    if items.ndim == 3:  # jets * replica * items
                        replicas.setdefault(name, set()).update(np.unique(ak.to_numpy(ak.num(items, axis=1))).tolist())
                        items = ak.flatten(items, axis=1)
                    detector.setdefault(name, []).append(ak.to_numpy(ak.num(items, axis=1)))
            if "label" in ak.fields(chunk):
                labels.append(ak.to_numpy(chunk.label))
            scanned += len(chunk)
            bar.update(len(chunk))
            if scanned >= max_jets:
                break
    dropped = sum(w.message.dropped for w in caught if isinstance(w.message, BadJetsWarning))
    summary.update(
        {
            "valid": scanned if scanned + dropped == total else None,
            "scanned": scanned,
            "dropped": dropped,
            "fields": fields,
            "multiplicity": _stats(np.concatenate(multiplicity)) if multiplicity else {},
            "jet_pt": _stats(np.concatenate(jet_pt)) if jet_pt else {},
            "detector": {
                name: {"mean": float(np.concatenate(counts).mean()), "replicas": sorted(replicas.get(name, []))}
                for name, counts in detector.items()
            },
        }
    )
    if labels:
        values, counts = np.unique(np.concatenate(labels), return_counts=True)
        name = lambda v: label_names[v] if 0 <= v < len(label_names) else str(v)  # noqa: E731
        summary["labels"] = {name(int(v)): int(c) for v, c in zip(values, counts, strict=True)}
        if len(labels) == len(multiplicity):  # every chunk had labels: mean multiplicity per class
            per_jet, classes = np.concatenate(multiplicity), np.concatenate(labels)
            summary["multiplicity_by_label"] = {name(int(v)): float(per_jet[classes == v].mean()) for v in values}
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as the aligned text ``jetgraph inspect`` prints."""
    size = summary["size_bytes"]
    size_text = f", {size / 1e6:.1f} MB" if size is not None else ""
    how = "detected" if summary["detected"] else "given"
    lines = [f"{summary['path']}  ({summary['kind'].upper()}{size_text})"]
    row = lambda key, text: lines.append(f"  {key:<11}{text}")  # noqa: E731
    row("recipe", f"{summary['recipe']} (format '{summary['format']}', {how})")
    if summary["description"]:
        row("", summary["description"][:110] + ("..." if len(summary["description"]) > 110 else ""))
    for i, (name, what) in enumerate(summary["contains"].items()):
        row("contains" if i == 0 else "", f"{name}: {what}")
    dropped, stored = summary["dropped"], summary["jets"]
    if summary["valid"] is not None:  # every jet was read: the count jetgraph.read returns comes first
        invalid = f"; {dropped} dropped as invalid" if dropped else ""
        row("jets", f"{summary['valid']} valid of {stored} stored{invalid} (statistics from all of them)")
    else:
        read = summary["scanned"] + dropped
        invalid = f", {dropped} of them dropped as invalid" if dropped else ""
        row(
            "jets", f"{stored} stored (statistics from the first {summary['scanned']} valid jets: {read} read{invalid})"
        )
    for i, (name, fields) in enumerate(summary["fields"].items()):
        row("fields" if i == 0 else "", f"{name}: {' '.join(fields)}")
    if summary["multiplicity"]:
        m = summary["multiplicity"]
        row(
            "particles",
            f"per jet: min {m['min']:.0f}, mean {m['mean']:.1f}, median {m['median']:.0f}, max {m['max']:.0f}",
        )
    if summary.get("multiplicity_by_label"):
        means = summary["multiplicity_by_label"].items()
        row("", "mean per class: " + ", ".join(f"{k} {v:.1f}" for k, v in means))
    for i, (name, what) in enumerate(summary["detector"].items()):
        copies = ", ".join(str(r) for r in what["replicas"])
        where = f" ({copies} replicas per jet)" if copies else ""
        row(
            "detector" if i == 0 else "",
            f"{name}: mean {what['mean']:.1f} per jet{' and replica' if copies else ''}{where}",
        )
    if summary["jet_pt"]:
        p = summary["jet_pt"]
        row("jet pT", f"min {p['min']:.1f}, mean {p['mean']:.1f}, max {p['max']:.1f} GeV")
    if summary.get("labels"):
        row("labels", ", ".join(f"{k} {v}" for k, v in summary["labels"].items()))
    return "\n".join(lines)


# ------------------------------------------------------------------ files no recipe reads: listing, template

_KINEMATICS = (("pt", "eta", "phi"), ("px", "py", "pz"))
_LABEL_WORDS = ("label", "flavour", "flavor", "issignal", "is_signal", "truth", "class", "target")


def _depth(typename: str) -> int:
    """How many lists deep a branch is: 0 a number per entry, 1 a list per entry, 2 lists of lists."""
    return typename.count("[]") + typename.count("vector<")


def listing(path: str | os.PathLike) -> dict[str, Any]:
    """Every tree (with each branch's type and list depth) or dataset (shape, dtype) of a file."""
    path = os.fspath(path)
    out: dict[str, Any] = {}
    for name, what in contents(path).items():
        container, _, leaf = name.rpartition("/")
        if not container:
            out.setdefault(name, {"what": what, "branches": {}})
        else:
            depth = _depth(what) if file_kind(path) == "root" else None
            out.setdefault(container, {"what": "", "branches": {}})["branches"][leaf] = {"type": what, "depth": depth}
    return out


def _collections(branches: dict[str, dict]) -> dict[str, dict[str, str]]:
    """Branches grouped by prefix (``Jet_pt`` -> ``Jet``, ``part_px`` -> ``part``) that hold kinematics."""
    groups: dict[str, dict[str, str]] = {}
    for name in branches:
        prefix, sep, field = name.rpartition("_")
        if sep:
            groups.setdefault(prefix, {})[field.lower()] = name
    return {k: v for k, v in groups.items() if any(all(f in v for f in kin) for kin in _KINEMATICS)}


def recipe_template(path: str | os.PathLike) -> str:
    """A recipe skeleton (YAML text) for a ROOT file no recipe reads: the particle, jet and label branches
    jetgraph could guess, the layout (one jet per entry, or per event with nested, counted or linked
    particles), and comments where a person must decide."""
    path = os.fspath(path)
    if file_kind(path) != "root":
        return f"# {path}: recipe templates are written for ROOT ntuples; HDF5 layouts need a reader of their own\n"
    trees = {k: v for k, v in listing(path).items() if v["what"].startswith("TTree")}
    if not trees:
        return f"# {path}: no TTree in this file\n"
    tree, info = max(trees.items(), key=lambda kv: len(kv[1]["branches"]))
    counters = {f"n{name}" for name in info["branches"]}  # nJet_pt counts Jet_pt: never a field
    branches = {name: about for name, about in info["branches"].items() if name not in counters}
    groups = _collections(branches)
    depth = {prefix: max(branches[b]["depth"] for b in fields.values()) for prefix, fields in groups.items()}
    jets = [p for p in groups if "jet" in p.lower() and "pf" not in p.lower() and depth[p] <= 1]
    particles = [p for p in groups if p not in jets]
    jet = max(jets, key=lambda p: ("fat" not in p.lower(), len(groups[p])), default=None)
    part = max(particles, key=lambda p: (depth[p], len(groups[p])), default=None)
    lines = [
        f"# a recipe for {os.path.basename(path)}, guessed by jetgraph inspect --recipe-template: check every line",
        "format: ntuple",
        f"tree: {tree}",
        "units: {energy: GeV}      # MeV or TeV if the file says so",
    ]
    per_event = jet is not None and depth[jet] == 1
    links = [b for b in branches if b.endswith(("_jetIdx", "_jetIndex"))]
    if per_event:
        lines.append("jets: per_event          # a jet collection per entry; each selected jet is one jet")
    lines.append("fields:")
    if part is not None:
        fields = groups[part]
        kin = ("pt", "eta", "phi", "mass", "energy", "e") if "pt" in fields else ("px", "py", "pz", "energy", "e")
        for name in kin:
            if name in fields:
                lines.append(f"  part.{'energy' if name == 'e' else name}: {fields[name]}")
        for canonical, options in (("pid", ("pdgid", "pid")), ("charge", ("charge", "q"))):
            found = [fields[o] for o in options if o in fields]
            if found:
                lines.append(f"  part.{canonical}: {found[0]}")
    else:
        lines.append("  # part.pt / part.eta / part.phi / part.mass: no particle branches were recognised")
    if jet is not None:
        for name in ("pt", "eta", "phi", "mass", "energy"):
            if name in groups[jet]:
                lines.append(f"  jet.{name}: {groups[jet][name]}")
    if per_event and part is not None and depth[part] == 1:
        index = [b for b in branches if b.lower().endswith(("candsidx", "candidx", "particleidx"))]
        counts = [
            b for b in branches if jet and b.startswith(jet) and b.lower().endswith(("nconstituents", "npfcands"))
        ]
        if links:
            lines.append("constituents:            # which jet each particle belongs to")
            lines.append(f"  jet_index: {links[0]}")
            if index:
                lines.append(f"  particle_index: {index[0]}")
        elif counts:
            lines.append(f"constituents: {{counts: {counts[0]}}}   # particles stored jet after jet")
        else:
            lines.append(
                "# constituents: {jet_index: ..., particle_index: ...} or {counts: ...}: how particles belong to jets"
            )
    if per_event:
        lines.append("select: {min_pt: 20.0, max_abs_eta: 2.5}   # which jets of each event; max_jets_per_event: N")
    labels = [b for b in branches if any(w in b.lower() for w in _LABEL_WORDS)]
    one_hot = [b for b in labels if b.lower().startswith("label_") and branches[b]["depth"] == 0]
    if len(one_hot) >= 2:  # JetClass-style: one flag branch per class
        lines.append("label:")
        lines.append("  one_hot: {" + ", ".join(f"{b[6:]}: {b}" for b in one_hot) + "}")
    elif labels:
        lines.append(f"label: {{branch: {labels[0]}}}   # other candidates: {', '.join(labels[1:6]) or 'none'}")
        lines.append("# codes to classes: label: {branch: ..., classes: {gluon: [21], quark: [1, 2, 3]}}")
    else:
        lines.append("# label: {branch: ..., names: [background, signal]}: no label branch was recognised")
    return "\n".join(lines) + "\n"


def format_listing(path: str | os.PathLike, shown: int = 40) -> str:
    """The text ``jetgraph inspect`` prints for a file no recipe reads."""
    lines = [f"{path}: no built-in recipe reads this file; what it holds:"]
    for name, info in listing(path).items():
        lines.append(f"  {name}: {info['what']}")
        for i, (branch, about) in enumerate(info["branches"].items()):
            if i == shown:
                lines.append(f"    ... ({len(info['branches']) - shown} more)")
                break
            depth = about["depth"]
            kind = {None: "", 0: "one per entry", 1: "a list per entry", 2: "lists of lists"}.get(
                depth, f"{depth}-deep"
            )
            lines.append(f"    {branch:<32} {about['type']:<24} {kind}")
    lines.append(f"write a recipe: jetgraph inspect {path} --recipe-template > my.yaml, edit it, then --recipe my.yaml")
    return "\n".join(lines)
