"""``jetgraph compare``: several probed runs side by side, as one Markdown table and one figure.

Each run must have been probed on the same task (``RUN/probe/<task>.json``, by ``jetgraph probe``);
the table lists every probe of every run at the largest label fraction, with bootstrap intervals,
and the figure shows AUC against label fraction for each run's representation probes.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jetgraph.outputs import written_atomically
from jetgraph.probes.metrics import ProbeError
from jetgraph.probes.plots import label_fraction_figure


def load_result(run_dir: str | os.PathLike, task: str) -> dict[str, Any]:
    path = Path(run_dir) / "probe" / f"{task}.json"
    if not path.is_file():
        raise ProbeError(f"{run_dir}: no probe/{task}.json; run `jetgraph probe {run_dir} --task {task}` first")
    return json.loads(path.read_text())


def _name(result: dict[str, Any]) -> str:
    return f"{Path(result['run']).name} ({result['encoder']})"


def compare(
    run_dirs: Sequence[str | os.PathLike], task: str = "qg", out: str | os.PathLike = "compare"
) -> tuple[Path, Path]:
    """Write ``OUT/<task>.md`` (the table) and ``OUT/<task>.png`` (AUC vs label fraction) for the runs.

    Raises:
        ProbeError: a run not probed on ``task``, or the energy task (compare its JSON files instead).
    """
    if task == "energy":
        raise ProbeError("compare covers classification tasks (qg, top); for energy read each run's probe/energy.json")
    results = [load_result(run, task) for run in run_dirs]
    lines = [
        "| run | probe | AUC | 1/ε_B at ε_S=0.3 | 1/ε_B at ε_S=0.5 | labels |",
        "|---|---|---|---|---|---|",
    ]
    curves: dict[str, dict[float, Any]] = {}
    for result in results:
        top = str(max(result["label_fractions"]))
        for probe, values in result["probes"].items():
            if not probe.startswith("observables"):
                curves[f"{_name(result)}: {probe}"] = {float(f): v["auc"] for f, v in values.items()}
            if top not in values:  # a supervised reference trained at smaller label fractions only
                continue
            m = values[top]
            auc, r3, r5 = m["auc"], m["rejection_at_0.3"], m["rejection_at_0.5"]
            lines.append(
                f"| {_name(result)} | {probe} | {auc['value']:.3f} [{auc['low']:.3f}, {auc['high']:.3f}] "
                f"| {r3['value']:.1f} | {r5['value']:.1f} | {result['jets']['train']} × {float(top):g} |"
            )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = out / f"{task}.md"
    with written_atomically(table) as partial:
        partial.write_text("\n".join(lines) + "\n")
    figure = label_fraction_figure(curves, out / f"{task}.png")
    return table, figure


__all__ = ["compare", "load_result"]
