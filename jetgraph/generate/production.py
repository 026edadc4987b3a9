"""``jetgraph generate``: a labelled sample written in chunks, in parallel, resumable, reproducible.

The sample is cut into chunks of ``chunk_size`` jets. Chunk ``i`` is made from its own seeds
(``numpy.random.SeedSequence([seed, i])``: one Pythia seed per process, one for the detector and one
for the shuffle), so its jets do not depend on the worker that made it or on the number of workers:
the same seed gives a byte-identical file with one worker or eight.

Each finished chunk is written atomically to ``<out>.parts/chunk_XXXXX.h5`` beside a
``manifest.json`` of everything that changes the jets. A run that is killed leaves those parts; the
same command run again makes only the missing chunks. When all chunks exist they are merged in order
into ``<out>`` (written as ``<out>.partial`` and renamed), and the parts are removed.

With ``showers > 1`` (re-simulation, :mod:`jetgraph.generate.pythia`) the jets of one hard event
stay consecutive through the chunk's shuffle and share ``jet.event``, numbered across the file.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np
from tqdm.auto import tqdm

from jetgraph.errors import JetGraphError
from jetgraph.generate.sample import Sample, load_sample, sample_dict
from jetgraph.io.native import JetWriter, iterate
from jetgraph.io.recipe import load_recipe
from jetgraph.outputs import check_writable, written_atomically
from jetgraph.version import __version__

DEFAULT_CHUNK_SIZE = 100
MANIFEST = "manifest.json"
_CHUNK_FILE = "chunk_{:05d}.h5"
_SEED_STREAMS = 8
"""Seeds drawn per chunk: one per process (up to 6), then the detector and the shuffle."""


@dataclass(frozen=True)
class Chunk:
    """One unit of work: ``n_jets`` jets numbered ``index`` in the sample, written to ``path``."""

    index: int
    n_jets: int
    seed: int
    path: str


@dataclass(frozen=True)
class ChunkReport:
    """What a worker did for one chunk (for the progress bar and the closing summary)."""

    index: int
    n_jets: int
    events: int
    generate_s: float
    detector_s: float
    cells: int


def _seeds(seed: int, index: int) -> list[int]:
    return [int(s) for s in np.random.SeedSequence([seed, index]).generate_state(_SEED_STREAMS)]


def _split(n_jets: int, n_classes: int) -> list[int]:
    """``n_jets`` shared as evenly as possible; the first classes take the remainder."""
    return [n_jets // n_classes + (i < n_jets % n_classes) for i in range(n_classes)]


# --- worker side -------------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(sample: Sample, detector: Any, replicas: int, showers: int = 1, chunk_size: int = 0) -> None:
    """Build one Pythia per process once per worker (initialisation takes about a second)."""
    from jetgraph.generate.pythia import ProcessGenerator

    _WORKER.clear()
    _WORKER.update(
        generators=[ProcessGenerator(sample, name, showers) for name in sample.processes],
        sample=sample,
        detector=detector,
        replicas=replicas,
        showers=showers,
        chunk_size=chunk_size,
    )


def _make_chunk(chunk: Chunk) -> ChunkReport:
    """Generate, optionally simulate, shuffle and write one chunk (in a worker or in-process)."""
    generators = _WORKER["generators"]
    seeds = _seeds(chunk.seed, chunk.index)
    start = time.perf_counter()
    events_before = sum(g.events_generated for g in generators)
    showers = _WORKER["showers"]
    shares = [n * showers for n in _split(chunk.n_jets // showers, len(generators))]
    parts = [g.jets(n, seeds[i]) for i, (g, n) in enumerate(zip(generators, shares, strict=True)) if n]
    n_events = sum(g.events_generated for g in generators) - events_before
    jets = ak.concatenate(parts)
    generate_s = time.perf_counter() - start
    cells = 0
    start = time.perf_counter()
    if _WORKER["replicas"]:
        from jetgraph.generate.detector import simulate

        jets = simulate(jets, _WORKER["detector"], _WORKER["replicas"], np.random.default_rng(seeds[-2]))
        cells = int(ak.sum(ak.num(jets.cells, axis=2)))
    detector_s = time.perf_counter() - start
    events = np.random.default_rng(seeds[-1]).permutation(len(jets) // showers)
    if showers > 1:  # number the events across the file (chunks are equal but the last); keep them whole
        first = chunk.index * _WORKER["chunk_size"] // showers
        numbers = np.repeat(np.arange(first, first + len(jets) // showers), showers)
        jets = ak.with_field(jets, numbers.astype(np.int32), ["jet", "event"])
    jets = jets[(events[:, None] * showers + np.arange(showers)).ravel()]
    with JetWriter(chunk.path, label_names=list(_WORKER["sample"].label_names), reproducible=chunk.path) as out:
        out.write(jets)
    return ChunkReport(chunk.index, chunk.n_jets, n_events, generate_s, detector_s, cells)


# --- driver ------------------------------------------------------------------------------------


def _manifest(
    sample: Sample, n_jets: int, seed: int, chunk_size: int, replicas: int, detector: Any, showers: int = 1
) -> dict:
    return {
        "sample": sample.name,
        "settings": sample_dict(sample),
        "jets": n_jets,
        "seed": seed,
        "chunk_size": chunk_size,
        "replicas": replicas,
        "detector": asdict(detector) if replicas else None,
        **({"showers": showers} if showers > 1 else {}),
        "jetgraph": __version__,
    }


def _prepare_parts(parts: Path, manifest: dict) -> None:
    """Create the parts folder, or check that the one left by an earlier run is of the same run."""
    path = parts / MANIFEST
    if path.exists():
        earlier = json.loads(path.read_text())
        if earlier != json.loads(json.dumps(manifest)):
            differ = sorted(k for k in manifest if earlier.get(k) != json.loads(json.dumps(manifest))[k])
            raise JetGraphError(
                f"{parts}: holds chunks of a different run (differs in {differ}); "
                "rerun with the same options to resume, or delete the folder to start again"
            )
        return
    parts.mkdir(parents=True, exist_ok=True)
    with written_atomically(path) as partial:
        partial.write_text(json.dumps(manifest, indent=1))


def generate(
    sample: str | Path | Sample,
    n_jets: int,
    out: str | os.PathLike,
    *,
    seed: int = 0,
    workers: int = 1,
    replicas: int = 0,
    showers: int = 1,
    detector: Any = "default",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = True,
) -> GenerationReport:
    """Generate ``n_jets`` labelled jets of ``sample`` with Pythia 8 + FastJet into ``out``.

    Args:
        sample: a built-in sample (``qg``, ``top``, ``qcd``), a sample YAML path, or a :class:`Sample`.
        n_jets: jets to write, shared evenly between the sample's processes (classes).
        out: ``.root`` (JetClass-style TTree) or ``.h5``; written atomically.
        seed: the run's seed; the same seed gives a byte-identical file, whatever ``workers``.
        workers: processes generating chunks in parallel.
        replicas: if > 0, simulate the detector ``replicas`` times per jet (``cells``, ``tracks``).
        showers: parton showers per hard event (re-simulation); the jets of an event are consecutive
            and share ``jet.event``. ``n_jets`` and ``chunk_size`` must be multiples of it.
        detector: a built-in detector name, a YAML path, or a ``Detector`` (used when ``replicas``).
        chunk_size: jets per chunk (the unit of parallel work and of resuming).
        progress: show a progress bar (jets/s).

    Returns:
        A :class:`GenerationReport`: the path written, jets, events, and rates per core.
    """
    started = time.perf_counter()
    out = Path(out)
    if out.suffix.lower() not in (".root", ".h5", ".hdf5"):
        raise JetGraphError(f"{out}: cannot write this suffix; expected .root or .h5")
    checks = (("--jets", n_jets, 1), ("--workers", workers, 1), ("--replicas", replicas, 0), ("--showers", showers, 1))
    for name, value, low in checks:
        if value < low:
            raise JetGraphError(f"{name} is {value}; expected at least {low}")
    for name, value in (("--jets", n_jets), ("--chunk-size", chunk_size)):
        if value % showers:
            raise JetGraphError(f"{name} is {value}; expected a multiple of --showers {showers} (whole events)")
    if chunk_size < 1:
        raise JetGraphError(f"chunk_size is {chunk_size}; expected at least 1")
    if seed < 0:
        raise JetGraphError(f"--seed is {seed}; expected a non-negative integer")
    sample = load_sample(sample)
    if len(sample.processes) > _SEED_STREAMS - 2:
        raise JetGraphError(f"sample '{sample.name}' has {len(sample.processes)} processes; at most 6 are supported")
    if replicas:
        from jetgraph.generate.detector import load_detector

        detector = load_detector(detector) if not hasattr(detector, "ecal") else detector
    check_writable(out, "--out")
    manifest = _manifest(sample, n_jets, seed, chunk_size, replicas, detector, showers)
    parts = out.with_name(out.name + ".parts")
    _prepare_parts(parts, manifest)

    chunks = [
        Chunk(i, min(chunk_size, n_jets - i * chunk_size), seed, str(parts / _CHUNK_FILE.format(i)))
        for i in range(math.ceil(n_jets / chunk_size))
    ]
    todo = [c for c in chunks if not Path(c.path).exists()]
    done = n_jets - sum(c.n_jets for c in todo)
    setup = (sample, detector if replicas else None, replicas, showers, chunk_size)
    reports = _run_chunks(todo, setup, workers, n_jets, done, progress)
    _merge(chunks, out, sample, json.dumps(manifest, sort_keys=True))
    shutil.rmtree(parts)
    return _report(reports, out, n_jets, done, time.perf_counter() - started)


def _run_chunks(
    todo: list[Chunk],
    setup: tuple[Any, ...],
    workers: int,
    n_jets: int,
    done: int,
    progress: bool,
) -> list[ChunkReport]:
    """Make the chunks ``todo``; ``setup``: :func:`_init_worker`'s arguments."""
    reports: list[ChunkReport] = []
    bar = tqdm(total=n_jets, initial=done, unit="jet", desc=f"generate {setup[0].name}", disable=not progress)
    try:
        if workers == 1 or len(todo) <= 1:
            _init_worker(*setup)
            for chunk in todo:
                reports.append(_make_chunk(chunk))
                bar.update(chunk.n_jets)
        else:
            context = get_context("spawn")  # Pythia and FastJet hold C++ state: never fork a process using them
            with ProcessPoolExecutor(
                min(workers, len(todo)), mp_context=context, initializer=_init_worker, initargs=setup
            ) as pool:
                for future in as_completed([pool.submit(_make_chunk, chunk) for chunk in todo]):
                    report = future.result()
                    reports.append(report)
                    bar.update(report.n_jets)
    finally:
        bar.close()
    return reports


def _merge(chunks: list[Chunk], out: Path, sample: Sample, key: str) -> None:
    """Concatenate the chunk files in order into ``out`` (atomic, byte-reproducible)."""
    native = load_recipe("jetgraph")
    with JetWriter(out, label_names=list(sample.label_names), reproducible=key) as writer:
        for chunk in chunks:
            for _, jets in iterate(chunk.path, native, step_size=max(chunk.n_jets, 1)):
                writer.write(jets)


@dataclass(frozen=True)
class GenerationReport:
    """What :func:`generate` wrote and how fast (rates per core: summed over the chunks made now)."""

    path: Path
    n_jets: int
    resumed_jets: int
    events: int
    generate_s: float
    detector_s: float
    cells: int
    wall_s: float

    @property
    def jets_per_core_s(self) -> float:
        """Jets made per second of one core's generation time (Pythia + FastJet + cuts)."""
        return (self.n_jets - self.resumed_jets) / self.generate_s if self.generate_s else float("nan")

    @property
    def cells_per_s(self) -> float:
        """Detector cells made per second of one core's simulation time."""
        return self.cells / self.detector_s if self.detector_s else float("nan")

    def __str__(self) -> str:
        made = self.n_jets - self.resumed_jets
        text = f"wrote {self.path}: {self.n_jets} jets in {self.wall_s:.0f} s"
        if self.resumed_jets:
            text += f" ({self.resumed_jets} from an earlier, interrupted run)"
        if made:
            text += (
                f"; {self.events} events generated, {100 * made / max(self.events, 1):.1f}% gave a jet, "
                f"{self.jets_per_core_s:.1f} jets/s per core"
            )
        if self.cells:
            text += f"; detector: {self.cells_per_s:.3g} cells/s per core"
        return text


def _report(reports: list[ChunkReport], out: Path, n_jets: int, resumed: int, wall_s: float) -> GenerationReport:
    return GenerationReport(
        path=out,
        n_jets=n_jets,
        resumed_jets=resumed,
        events=sum(r.events for r in reports),
        generate_s=sum(r.generate_s for r in reports),
        detector_s=sum(r.detector_s for r in reports),
        cells=sum(r.cells for r in reports),
        wall_s=wall_s,
    )
