from __future__ import annotations

from jetgraph.cli import app

app(prog_name="jetgraph")
