"""The ``jetgraph`` command: parse, call the public function, print (the CLI is thin: no logic of its own).

Every :class:`~jetgraph.errors.JetGraphError` becomes one line on stderr and exit code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
import warnings
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
import typer.core
from typer.exceptions import TyperException

from jetgraph.errors import JetGraphError
from jetgraph.version import __version__


class _OneLineErrors(typer.core.TyperGroup):
    """The ``jetgraph`` group: a usage error (a missing argument, an unknown option) is one line too.

    typer draws them as framed boxes with the usage above; here they read like every other error,
    ``error: <what>`` with the command's ``--help`` to turn to, and exit code 2.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # noqa: ANN001, ANN003, ANN201
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except TyperException as err:  # click's ClickException and UsageError
            if type(err).__name__ == "NoArgsIsHelpError":  # plain `jetgraph`: the help, as asked for
                err.show()
            else:
                context = getattr(err, "ctx", None)
                command = context.command_path if context is not None else "jetgraph"
                typer.echo(f"error: {err.format_message()} (see '{command} --help')", err=True)
            code = err.exit_code
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineErrors,
    rich_markup_mode=None,  # plain help: bracketed text and defaults shown as written
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    name="jetgraph",
    help="Self-supervised jet representations: read jet files, pretrain contrastively, probe.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_state = {"debug": False}


def _version(value: bool) -> None:
    if value:
        typer.echo(f"jetgraph {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
    version: Annotated[
        bool | None, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = None,
) -> None:
    """jetgraph: learn jet representations without labels."""
    _state["debug"] = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s: %(message)s")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    typer.echo(f"warning: {message}", err=True)


def _call(function, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
    """Call a public function; turn a JetGraphError into one line on stderr and exit code 2."""
    warnings.showwarning = _show_warning
    try:
        return function(*args, **kwargs)
    except JetGraphError as err:
        if _state["debug"]:
            raise
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(code=2) from None


class Task(StrEnum):
    qg = "qg"
    top = "top"
    energy = "energy"


class Source(StrEnum):
    auto = "auto"
    particles = "particles"
    cells = "cells"


def _example(*lines: str) -> str:
    """An epilog with examples, kept as written (``\b``: click does not rewrap the paragraph)."""
    return "\b\nExamples:\n" + "\n".join(f"  {line}" for line in lines)


RECIPE_HELP = "Built-in recipe name (jetgraph recipes) or recipe YAML; default: detect from the file."


@app.command(epilog=_example("jetgraph inspect data/qg.root", "jetgraph inspect nano.root --recipe-template > my.yaml"))
def inspect(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="ROOT, HDF5 or NPZ files (globs expand in the shell).")
    ],
    recipe: Annotated[str | None, typer.Option(metavar="RECIPE", help=RECIPE_HELP)] = None,
    max_jets: Annotated[int, typer.Option(help="Jets to scan per file for the statistics.")] = 100_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document for scripts.")] = False,
    recipe_template: Annotated[
        bool, typer.Option("--recipe-template", help="Print a recipe skeleton guessed from a ROOT file's branches.")
    ] = False,
) -> None:
    """Show what a jet file holds: containers, format and recipe, jets, fields, multiplicities, labels.

    A file that no built-in recipe reads gets a listing of its trees and branches (type, list depth);
    --recipe-template turns that into a first recipe to edit.
    """
    from jetgraph.errors import UnknownFormatError
    from jetgraph.io.summary import format_listing, format_summary, listing, summarize
    from jetgraph.io.summary import recipe_template as template

    if recipe_template:
        typer.echo("\n".join(_call(template, path) for path in files), nl=False)
        return
    texts, summaries = [], []
    for path in files:
        try:
            summary = summarize(path, recipe=recipe, max_jets=max_jets, progress=not as_json and sys.stderr.isatty())
        except UnknownFormatError:
            summary = {"path": str(path), "recipe": None, "listing": _call(listing, path)}
            texts.append(_call(format_listing, path))
        except JetGraphError:
            summary = _call(summarize, path, recipe=recipe, max_jets=max_jets)  # the one-line error, exit 2
        else:
            texts.append(format_summary(summary))
        summaries.append(summary)
    if as_json:
        typer.echo(json.dumps(summaries if len(summaries) > 1 else summaries[0], indent=2))
    else:
        typer.echo("\n\n".join(texts))


@app.command(
    epilog=_example(
        "jetgraph generate qg --jets 20000 --workers 2 --out data/qg.root",
        "jetgraph generate top_qcd --jets 40000 --seed 2 --out data/top_test.root",
        "jetgraph generate qg --jets 400 --replicas 2 --out data/qg_detector.root",
    )
)
def generate(
    sample: Annotated[
        str, typer.Argument(metavar="SAMPLE", help="Built-in sample (qg, top, qcd, top_qcd) or a sample YAML file.")
    ],
    jets: Annotated[int, typer.Option("--jets", "-n", help="Jets to generate, split evenly between classes.")] = 1000,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", metavar="FILE", help="Output .root or .h5 (default: data/SAMPLE.root)."),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives a byte-identical file.")] = 0,
    workers: Annotated[int, typer.Option(help="Processes generating in parallel.")] = 1,
    replicas: Annotated[int, typer.Option(help="Detector simulations per jet (0: particles only).")] = 0,
    showers: Annotated[
        int, typer.Option(help="Showers per hard process (re-simulation: consecutive jets share one parton).")
    ] = 1,
    detector: Annotated[
        str, typer.Option(metavar="DETECTOR", help="Built-in detector name or detector YAML.")
    ] = "default",
    chunk_size: Annotated[int, typer.Option(help="Jets per chunk: the unit of parallel work and resuming.")] = 100,
) -> None:
    """Generate labelled jets with Pythia 8 + FastJet (resumable: rerun the same command after a kill)."""
    from jetgraph.generate import generate as generate_sample

    target = out if out is not None else Path("data") / f"{Path(sample).stem}.root"
    report = _call(
        generate_sample,
        sample,
        jets,
        target,
        seed=seed,
        workers=workers,
        replicas=replicas,
        showers=showers,
        detector=detector,
        chunk_size=chunk_size,
        progress=sys.stderr.isatty(),
    )
    typer.echo(str(report))


@app.command(epilog=_example("jetgraph images data/qg.root --out data/qg_images.h5 --pixels 32 --width 1.6"))
def images(
    files: Annotated[
        list[Path], typer.Argument(metavar="FILE...", help="Jet files to pixelise (any format jetgraph reads).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE", help="The jet-image HDF5 file to write.")],
    pixels: Annotated[int, typer.Option(help="Pixels per side.")] = 32,
    width: Annotated[float, typer.Option(help="Full image width in eta and in phi (radians).")] = 1.6,
    source: Annotated[Source, typer.Option(help="What to draw: cells when present (auto), particles or cells.")] = (
        Source.auto
    ),
    replica: Annotated[int, typer.Option(help="Detector replica to draw when the source is cells.")] = 0,
    recipe: Annotated[str | None, typer.Option(metavar="RECIPE", help=RECIPE_HELP)] = None,
) -> None:
    """Turn jets into (eta, phi) images with Tracks (pT), ECAL and HCAL (energy) channels, for image encoders."""
    import h5py

    from jetgraph.images import ImageGrid, make_images

    def make() -> Path:
        grid = ImageGrid(pixels=pixels, width=width)
        paths = [str(f) for f in files]
        return make_images(paths, out, grid, source.value, replica, progress=sys.stderr.isatty(), recipe=recipe)

    written = _call(make)
    with h5py.File(written, "r") as handle:
        n, drawn = len(handle["y"]), handle.attrs["source"]
    typer.echo(f"{written}: {n} jet images, {pixels}x{pixels} pixels over {width:g} rad, from {drawn}")


@app.command(
    epilog=_example(
        "jetgraph pretrain --config configs/pretrain/qg_transformer.yaml --out runs/qg --set train.epochs=5",
        "jetgraph pretrain --config configs/pretrain/qg_transformer.yaml --out runs/mine \\",
        "    --set data.train=nano.root --set data.recipe=my.yaml --set 'data.val=[]'",
        "jetgraph pretrain --out runs/qg --resume --set train.epochs=8",
        "torchrun --nproc-per-node 4 -m jetgraph pretrain --config configs/pretrain/qg_transformer.yaml",
    )
)
def pretrain(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", metavar="FILE", help="Pretraining config (YAML).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="DIR", help="Run directory (default: runs/CONFIG_NAME).")
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="Override a config key: --set train.epochs=5 (repeatable)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its latest checkpoint.")
    ] = False,
) -> None:
    """Pretrain an encoder contrastively (run it under torchrun for several processes or GPUs).

    Without --config the defaults apply (docs/tutorial.md lists the keys), with --set on top. The run
    directory keeps the resolved config (absolute data paths) and a copy of a recipe file.
    """
    from jetgraph.train import pretrain as pretrain_run

    if config is None and out is None:
        typer.echo("error: give --config (or --out and the settings with --set, or --out and --resume)", err=True)
        raise typer.Exit(code=2)
    target = out if out is not None else Path("runs") / config.stem
    result = _call(pretrain_run, config, target, overrides=list(overrides or []), resume=resume)
    if result is not None and _is_main_process():
        shown = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
        where = "held-out" if result.held_out else "on training jets (data.val is empty, nothing held out):"
        typer.echo(f"{result.run_dir}: {result.steps} steps" + (f"; {where} {shown}" if shown else ""))


def _is_main_process() -> bool:
    """False in the processes torchrun starts besides rank 0 (they would print the same line)."""
    return os.environ.get("RANK", "0") == "0"


MODEL_HELP = "A model shipped with jetgraph instead of a RUN (jetgraph models lists them)."
RUN_HELP = "A run directory written by jetgraph pretrain (or --model NAME)."


def _run_or_model(run_dir: Path | None, model: str | None) -> None:
    """Exactly one of RUN and --model; the error in the words of the command line."""
    if (run_dir is None) == (model is None):
        typer.echo("error: give a RUN directory or --model NAME (one of them; jetgraph models lists them)", err=True)
        raise typer.Exit(code=2)


@app.command(
    epilog=_example(
        "jetgraph embed runs/qg --data data/qg_test.root --out qg_test_embedding.h5",
        "jetgraph embed --model top_pair_bias_transformer --data my_jets.root --out my_embedding.h5",
    )
)
def embed(
    data: Annotated[list[Path], typer.Option("--data", "-d", metavar="FILE", help="Jet files to embed (repeatable).")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE", help="The HDF5 file to write.")],
    run_dir: Annotated[Path | None, typer.Argument(metavar="[RUN]", help=RUN_HELP, show_default=False)] = None,
    model: Annotated[str | None, typer.Option(metavar="NAME", help=MODEL_HELP)] = None,
    recipe: Annotated[
        str | None, typer.Option(metavar="RECIPE", help="Recipe name or YAML; default: the run's recipe.")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Jets per forward pass.")] = 1024,
    checkpoint: Annotated[
        Path | None, typer.Option(metavar="FILE", help="A checkpoint of the run (default: the latest that loads).")
    ] = None,
) -> None:
    """Write frozen representations (with jet ids, labels and jet kinematics) of any jet file to HDF5."""
    import h5py

    from jetgraph.probes import embed as embed_files

    _run_or_model(run_dir, model)
    if model is not None:
        from jetgraph.pretrained import model_dir

        run_dir = _call(model_dir, model)
    written = _call(
        embed_files,
        run_dir,
        [str(d) for d in data],
        out,
        recipe=recipe,
        batch_size=batch_size,
        checkpoint=checkpoint,
        progress=sys.stderr.isatty(),
    )
    with h5py.File(written, "r") as handle:
        shape = handle["representation"].shape
    typer.echo(f"{written}: {shape[0]} jets, representation of {shape[1]} dimensions")


@app.command(
    epilog=_example(
        "jetgraph probe runs/qg --task qg --data data/qg_test.root",
        "jetgraph probe runs/top --config configs/probe/top.yaml --threads 2",
        "jetgraph probe runs/replicas --task energy --label-fractions 1 --no-supervised",
        "jetgraph probe --model top_pair_bias_transformer --task top --data my_top_jets.root --out top_model",
    )
)
def probe(
    run_dir: Annotated[Path | None, typer.Argument(metavar="[RUN]", help=RUN_HELP, show_default=False)] = None,
    model: Annotated[str | None, typer.Option(metavar="NAME", help=MODEL_HELP)] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", metavar="DIR", help="With --model: where its copy and the results go; default ./NAME."
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", metavar="FILE", help="Probe config (configs/probe/*.yaml).")
    ] = None,
    task: Annotated[
        Task | None, typer.Option(help="qg or top (classification), energy (regression); default qg.")
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data", "-d", metavar="FILE", help="Labelled jet files (repeatable); default: the run's data.val."
        ),
    ] = None,
    label_fractions: Annotated[
        str | None,
        typer.Option(metavar="F,F,...", help="Fractions of training labels, comma-separated; default 0.01,0.1,1."),
    ] = None,
    recipe: Annotated[
        str | None, typer.Option(metavar="RECIPE", help="Recipe name or YAML; default: the run's recipe.")
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="Seed of the split, the probes and the bootstrap; default 0.")
    ] = None,
    supervised: Annotated[
        bool | None,
        typer.Option(help="Also train the encoder on the labels, from scratch and fine-tuned; default yes."),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for the probes (as train.threads).")] = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Replace the earlier probe/TASK.json of RUN (or of --out) when it probed other --data files.",
            show_default=False,
        ),
    ] = False,
) -> None:
    """Measure what a frozen representation knows: probes, label-fraction scan, baselines, plots.

    Options given on the command line override those of --config.
    """
    from jetgraph.probes.tasks import ProbeConfig, format_table, load_probe_config
    from jetgraph.probes.tasks import probe as run_probe

    _run_or_model(run_dir, model)
    if model is None and out is not None:
        typer.echo("error: --out goes with --model; a RUN's probe results go to RUN/probe/", err=True)
        raise typer.Exit(code=2)
    settings = _call(load_probe_config, config) if config is not None else ProbeConfig()
    fractions = None
    if label_fractions is not None:
        try:
            fractions = [float(f) for f in label_fractions.split(",") if f.strip()]
        except ValueError:
            typer.echo(f"error: --label-fractions {label_fractions!r}; expected numbers such as 0.01,0.1,1", err=True)
            raise typer.Exit(code=2) from None
    given = {"recipe": recipe, "seed": seed, "supervised": supervised, "label_fractions": fractions, "threads": threads}
    given.update(task=task.value if task is not None else None, data=[str(d) for d in data] if data else None)
    settings = dataclasses.replace(settings, **{k: v for k, v in given.items() if v is not None})
    if model is not None:
        from jetgraph.pretrained import copy_model

        if not settings.data:
            typer.echo(f"error: --model {model}: give the labelled jets to probe with --data FILE", err=True)
            raise typer.Exit(code=2)
        run_dir = _call(copy_model, model, out if out is not None else Path(model))
    results = _call(run_probe, run_dir, progress=sys.stderr.isatty(), replace=replace, **settings.arguments())
    typer.echo(format_table(results))
    typer.echo(f"\n{run_dir}/probe/{results['task']}.json; figures: " + ", ".join(results["figures"]))


@app.command(epilog=_example("jetgraph compare runs/qg runs/qg_resnet --task qg --out compare"))
def compare(
    run_dirs: Annotated[
        list[Path], typer.Argument(metavar="RUN...", help="Probed run directories (the first is the reference).")
    ],
    task: Annotated[Task, typer.Option(help="The probe task to compare (qg or top).")] = Task.qg,
    out: Annotated[Path, typer.Option("--out", "-o", metavar="DIR", help="Where the table and the figure go.")] = Path(
        "compare"
    ),
) -> None:
    """Put several probed runs side by side: one Markdown table, one figure."""
    from jetgraph.probes.compare import compare as compare_runs

    table, figure = _call(compare_runs, [str(r) for r in run_dirs], task.value, out)
    typer.echo(table.read_text())
    typer.echo(f"{table}, {figure}")


@app.command(epilog=_example("jetgraph recipes"))
def recipes() -> None:
    """List the built-in data recipes (the formats jetgraph reads without a recipe file)."""
    from jetgraph.io.recipe import builtin_recipes

    for name, recipe in _call(builtin_recipes).items():
        first = recipe.description.split(":")[0].split("(")[0].strip()
        typer.echo(f"{name:<12} {recipe.format:<11} {first}")


@app.command(
    epilog=_example("jetgraph models", "jetgraph embed --model top_pair_bias_transformer --data my.root --out emb.h5")
)
def models() -> None:
    """List the encoders shipped with jetgraph (use them with embed or probe --model NAME)."""
    from jetgraph.pretrained import CARD, HERE, available

    names = available()
    if not names:
        typer.echo("no shipped models in this installation of jetgraph")
    for name in names:
        card = HERE / name / CARD
        summary = next((line.strip() for line in card.read_text().splitlines()[1:] if line.strip()), "")
        summary = summary if len(summary) <= 100 else summary[:99] + "…"
        typer.echo(f"{name:<20} {summary}\n{'':<20} card: {card}")


if __name__ == "__main__":
    app()
