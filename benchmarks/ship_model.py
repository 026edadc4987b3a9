"""Ship a probed run as a model of the package (``jetgraph/pretrained/NAME``), with its model card.

The card is written from what the run holds, not by hand: the encoder and its size, the training
data and budget (its ``config.yaml`` and ``metrics.csv``), the augmentations, and the probe table of
its ``probe/TASK.json`` (the test sample it was reported on). ``--about`` adds the sentences a reader
needs first (what it was trained on and where its comparison lives); ``--command`` the commands that
made the run, in order.

Usage::

    .venv/bin/python benchmarks/ship_model.py data/quality_top/budget5min_2threads/runs/transformer/seed0 \\
        --name top_transformer --task top --about "..." --command "..." --command "..."
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from jetgraph import pretrained, runs
from jetgraph.probes.tasks import format_table


def card(run_dir: Path, name: str, task: str, about: str, commands: list[str]) -> str:
    """The model card of ``run_dir`` as Markdown."""
    config = yaml.safe_load((run_dir / runs.CONFIG).read_text())
    encoder, _, info = runs.load_encoder(run_dir)
    size = sum(p.numel() for p in encoder.parameters())
    result = json.loads((run_dir / "probe" / f"{task}.json").read_text())
    if Path(result["checkpoint"]).resolve() != Path(info["path"]).resolve():
        raise SystemExit(f"{run_dir}/probe/{task}.json probes {result['checkpoint']}, not {info['path']}: probe again")
    model, train = config["model"], config["train"]
    transforms = ", ".join(
        t if isinstance(t, str) else f"{next(iter(t))} {t[next(iter(t))]}" for t in config["augment"]["transforms"]
    )
    return "\n".join(
        [
            f"# {name}",
            "",
            about,
            "",
            "## What it is",
            "",
            f"- Encoder: `{model['encoder']}` {model['params']}, {size:,} parameters, a {encoder.rep_dim}-dimensional "
            f"representation (the encoder's output; the projection head is kept for `model.probe_layer`).",
            f"- Pretrained with `{config['loss']['name']}` {config['loss']['params']} on "
            f"{', '.join(Path(p).name for p in config['data']['train'])}: {info['step']} steps of "
            f"{train['batch_size']} jets (lr {train['lr']}, {train['schedule']} schedule, {train['precision']}), "
            f"{info['step'] * train['batch_size']:,} jets seen, on jetgraph {config.get('version')} "
            f"and torch {config.get('torch')}.",
            f"- Views: two augmentations of each jet: {transforms}.",
            "",
            f"## Probed, frozen, on {', '.join(Path(f).name for f in result['files'])}",
            "",
            format_table(result),
            "",
            "## Regenerate",
            "",
            "```bash",
            *commands,
            "```",
            "",
            "## Use",
            "",
            "```bash",
            f"jetgraph embed --model {name} --data my_jets.root --out my_embedding.h5",
            f"jetgraph probe --model {name} --task {task} --data my_labelled_jets.root --out {name}_probe",
            "```",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path, help="a probed run directory")
    parser.add_argument("--name", required=True)
    parser.add_argument("--task", required=True, help="the probe task whose table goes on the card")
    parser.add_argument("--about", required=True, help="the card's first paragraph")
    parser.add_argument("--command", action="append", default=[], help="a command that made the run (repeatable)")
    args = parser.parse_args()
    target = pretrained.ship(args.run, args.name, card(args.run, args.name, args.task, args.about, args.command))
    sizes = ", ".join(
        f"{p.relative_to(target)} {p.stat().st_size:,} B" for p in sorted(target.rglob("*")) if p.is_file()
    )
    print(f"{target}: {sizes}")


if __name__ == "__main__":
    main()
