"""Ship a probed run as a model of the package (``jetgraph/pretrained/NAME``), with its model card.

The card is written from what the run holds, not by hand: the encoder and its size, the training
data and budget (its ``config.yaml``), the augmentations, and the probe table of its
``probe/TASK.json`` (the test sample it was reported on). The rest is a model file under
``benchmarks/models/`` (data, read with ``yaml.safe_load``): ``name``, ``run``, ``task``, ``about``
(the paragraph a reader needs first) and ``commands`` (those that made the run, in order); the
card's last command is this one.

Usage::

    .venv/bin/python benchmarks/ship_model.py benchmarks/models/top_showers_transformer.yaml
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from jetgraph import pretrained, runs
from jetgraph.probes.tasks import format_table

ROOT = Path(__file__).resolve().parents[1]
VIEWS = {
    "two": "two copies of each jet",
    "detector": "two copies of the first detector replica of each jet",
    "showers": "the hardest jets of two showers of one hard process (consecutive jets of a `--showers 2` file)",
    "replicas": "two detector replicas of each jet",
}


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
            f"- Views: {VIEWS[config['augment'].get('views', 'two')]}; augmentations of each view: {transforms}.",
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
    parser.add_argument("spec", type=Path, help="a model file of benchmarks/models/ (name, run, task, about, commands)")
    args = parser.parse_args()
    spec = yaml.safe_load(args.spec.read_text())
    run, name, task = ROOT / spec["run"], spec["name"], spec["task"]
    commands = [*spec["commands"], f".venv/bin/python benchmarks/ship_model.py {args.spec}"]
    target = pretrained.ship(run, name, card(run, name, task, spec["about"], commands))
    files = sorted(p for p in target.rglob("*") if p.is_file())
    sizes = ", ".join(f"{p.relative_to(target)} {p.stat().st_size:,} B" for p in files)
    print(f"{target}: {sizes}")


if __name__ == "__main__":
    main()
