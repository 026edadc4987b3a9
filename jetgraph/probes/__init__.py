"""Use a pretrained encoder: frozen representations (:func:`embed`), and the probes built on them."""

from __future__ import annotations

from jetgraph.probes.embed import embed

__all__ = ["embed"]
