"""Generation speed per core: Pythia 8 + FastJet for each sample, then the detector simulation.

For each built-in sample (``qg``, ``top``, ``qcd``) one Pythia per process generates ``--jets`` jets
in this process (one core; the first chunk is a warm-up and does not count), and the rate is
jets/s of generation time (Pythia events, FastJet clustering, cuts, matching). The detector
simulation (``jetgraph.generate.detector.simulate``, default detector, one replica) then runs on the
``qg`` and ``top`` jets, and its rate is given in jets/s and cells/s; image pixelisation of the
simulated jets is timed too.

Target: the detector simulation must not be the bottleneck: its jets/s is at least 10x the
slowest generator's jets/s, measured in the same run. The exit code is 0 whether or not it is met.

Usage::

    python benchmarks/generate.py             # 200 jets per sample (about a minute and a half)
    python benchmarks/generate.py --jets 60   # a smoke check
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import awkward as ak  # noqa: E402
import numpy as np  # noqa: E402

from jetgraph.generate.detector import load_detector, simulate  # noqa: E402
from jetgraph.generate.pythia import ProcessGenerator  # noqa: E402
from jetgraph.generate.sample import load_sample  # noqa: E402
from jetgraph.images import jet_images  # noqa: E402

TARGET = 10.0  # detector jets/s over the slowest generator's jets/s, at least
SAMPLES = ("qg", "top", "qcd")


def _generate(name: str, n_jets: int, seed: int) -> tuple[ak.Array, float, int]:
    """Jets of every process of ``name`` (split evenly), generation seconds and events, after a warm-up."""
    sample = load_sample(name)
    generators = [ProcessGenerator(sample, process) for process in sample.processes]
    for generator in generators:
        generator.jets(5, seed=seed + 1000)  # warm-up: first-call costs (FastJet banner, caches)
    before = sum(g.events_generated for g in generators)
    start = time.perf_counter()
    share = n_jets // len(generators)
    jets = ak.concatenate([g.jets(share, seed=seed) for g in generators])
    seconds = time.perf_counter() - start
    return jets, seconds, sum(g.events_generated for g in generators) - before


def _best_of(repeats: int, function, *args):  # noqa: ANN001, ANN002, ANN202
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jets", type=int, default=200, help="jets per sample")
    parser.add_argument("--repeats", type=int, default=3, help="detector passes; the best counts")
    args = parser.parse_args()

    rows = []
    generated = {}
    for name in SAMPLES:
        jets, seconds, events = _generate(name, args.jets, seed=1)
        generated[name] = jets
        particles = int(ak.sum(ak.num(jets.part)))
        rows.append((f"generate {name}", len(jets) / seconds, f"{events} events, {100 * len(jets) / events:.0f}% kept"))
        rows[-1] += (f"{particles / len(jets):.0f} particles/jet",)
    slowest = min(rate for _, rate, *_ in rows)

    detector = load_detector("default")
    detector_rates = []
    for name in ("qg", "top"):
        jets = generated[name]
        seconds, simulated = _best_of(args.repeats, simulate, jets, detector, 1, np.random.default_rng(0))
        cells = int(ak.sum(ak.num(simulated.cells, axis=2)))
        detector_rates.append(len(jets) / seconds)
        rows.append((f"detector {name}", len(jets) / seconds, f"{cells / seconds:.3g} cells/s", "1 replica"))
        seconds, _ = _best_of(args.repeats, jet_images, simulated)
        rows.append((f"images {name}", len(jets) / seconds, "32x32, 3 channels", "from cells"))

    print(f"{'step':<16}{'jets/s per core':>16}   details")
    for step, rate, *details in rows:
        print(f"{step:<16}{rate:>16.1f}   {', '.join(details)}")
    ratio = min(detector_rates) / slowest
    verdict = "MET" if ratio >= TARGET else "NOT MET"
    print(
        f"TARGET detector jets/s >= {TARGET:.0f}x the slowest generator's jets/s: "
        f"{ratio:.0f}x ({min(detector_rates):.0f} vs {slowest:.1f}) -> {verdict}"
    )


if __name__ == "__main__":
    main()
