"""Real physics samples: Pythia 8 + FastJet jets and a parametric detector with replicas.

- :func:`generate` (``jetgraph generate``): a sample file of labelled jets, produced in chunks by
  parallel workers, resumable and reproducible (:mod:`jetgraph.generate.production`).
- :mod:`jetgraph.generate.sample`: what a sample is (``data_recipes/samples/*.yaml``).
- :mod:`jetgraph.generate.pythia`: events to jets (batched ``pythia8mc`` + ``fastjet`` awkward).
- :mod:`jetgraph.generate.detector`: tracker and ECAL/HCAL cells, ``replicas`` times per jet.

Jet images (``jetgraph images``) are :mod:`jetgraph.images`.

Pythia and FastJet are imported only when jets are generated.
"""

from __future__ import annotations

from jetgraph.generate.production import GenerationReport, generate
from jetgraph.generate.sample import Sample, load_sample

__all__ = ["GenerationReport", "Sample", "generate", "load_sample"]
