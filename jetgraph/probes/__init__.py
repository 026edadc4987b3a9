"""Use a pretrained encoder: frozen representations, probes, baselines, plots and comparisons.

- :mod:`~jetgraph.probes.embed`: ``embed``, frozen representations of any jet file to HDF5;
- :mod:`~jetgraph.probes.tasks`: ``probe``, the qg/top/energy tasks behind ``jetgraph probe``;
- :mod:`~jetgraph.probes.classify`, :mod:`~jetgraph.probes.regress`: linear, MLP, kNN and GBDT probes;
- :mod:`~jetgraph.probes.observables`: the classic quark/gluon observables and the cell-energy sum;
- :mod:`~jetgraph.probes.metrics`: AUC, 1/ε_B, bootstrap intervals, response and resolution;
- :mod:`~jetgraph.probes.plots`, :mod:`~jetgraph.probes.compare`: figures, and runs side by side.
"""

from __future__ import annotations

from jetgraph.probes.compare import compare
from jetgraph.probes.embed import embed
from jetgraph.probes.metrics import ProbeError
from jetgraph.probes.tasks import ProbeConfig, probe

__all__ = ["ProbeConfig", "ProbeError", "compare", "embed", "probe"]
