"""Real physics samples: Pythia 8 + FastJet jets, a parametric detector with replicas, jet images.

- :func:`generate` (``jetgraph generate``): labelled jets of a sample in ``data_recipes/samples/``,
  chunked, parallel, resumable and reproducible (:mod:`jetgraph.generate.run`).
- :mod:`jetgraph.generate.pythia`: events to jets (batched ``pythia8mc`` + ``fastjet`` awkward).
- :mod:`jetgraph.generate.detector`: tracker and ECAL/HCAL cells, ``replicas`` times per jet.
- :mod:`jetgraph.generate.images`: jets or cells to (Tracks, ECAL, HCAL) images in HDF5.

Pythia and FastJet are imported only when jets are generated.
"""

from __future__ import annotations

from jetgraph.generate.run import GenerationReport, generate
from jetgraph.generate.sample import Sample, load_sample

__all__ = ["GenerationReport", "Sample", "generate", "load_sample"]
