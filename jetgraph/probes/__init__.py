"""Use a pretrained encoder: frozen representations, probes, baselines, plots and comparisons.

- :mod:`~jetgraph.probes.embed`: ``embed``, frozen representations of any jet file to HDF5;
- :mod:`~jetgraph.probes.run`: ``probe``, the task runner behind ``jetgraph probe``;
- :mod:`~jetgraph.probes.classify`, :mod:`~jetgraph.probes.regress`: linear, MLP, kNN and GBDT probes;
- :mod:`~jetgraph.probes.observables`: the classic quark/gluon observables and the cell-energy sum;
- :mod:`~jetgraph.probes.metrics`: AUC, 1/ε_B, bootstrap intervals, response and resolution;
- :mod:`~jetgraph.probes.plots`, :mod:`~jetgraph.probes.compare`: figures, and runs side by side.
"""

from __future__ import annotations

from jetgraph.probes.compare import compare
from jetgraph.probes.embed import embed
from jetgraph.probes.metrics import ProbeError
from jetgraph.probes.run import probe

__all__ = ["ProbeError", "compare", "embed", "probe"]
