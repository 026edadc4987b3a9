"""The benchmarks: every run that ``quality.py`` can be asked for is a valid config, and ``finetune.py`` runs."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import yaml

from jetgraph import augment
from jetgraph.config import ConfigError, load_config
from jetgraph.losses import LossError, build_loss
from jetgraph.models import ProjectionHead, build_encoder
from jetgraph.train import pretrain

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(name: str):
    """A benchmark script imported as a module (``benchmarks/`` is no package)."""
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


QUALITY = _script("quality")
TRANSFER = _script("transfer")  # it puts benchmarks/ on sys.path for its own `from quality import`
CONFIG = yaml.safe_load((BENCHMARKS / "quality.yaml").read_text())
RUNS = QUALITY.resolve_runs(CONFIG)
SAMPLES = {name: Path(f"{name}.root") for name in CONFIG["samples"]}


def _build(run: dict, samples: dict[str, Path] = SAMPLES):
    """The run's config with its loss, augmentations, encoder and head built (what a Trainer checks first)."""
    config = QUALITY.run_config(run, samples, seed=3, steps=7, progress=False)
    build_loss(config.loss.name, **config.loss.params)
    augment.build_transforms(config.augment.transforms)
    encoder = build_encoder(config.model.encoder, 13, **config.model.params)
    ProjectionHead(encoder.rep_dim, **config.model.head)
    return config


@pytest.mark.parametrize("name", sorted(RUNS))
def test_every_quality_run_resolves_to_a_config_that_builds(name):
    """A typo in a run's overrides fails here, in CI, not when the benchmark reaches that run."""
    config = _build(RUNS[name])
    assert config.train.max_steps == 7 and config.train.seed == 3
    assert config.data.train == [str(SAMPLES[sample]) for sample in QUALITY.train_samples(RUNS[name])]


def test_every_sample_a_quality_run_trains_on_is_in_the_config():
    used = {sample for run in RUNS.values() for sample in QUALITY.needed_samples(run)}
    assert used <= set(CONFIG["samples"])
    assert CONFIG["samples"]["showers"]["showers"] == 2 and RUNS["resim"]["train_sample"] == "showers"


def test_a_misspelt_override_in_a_quality_run_fails_to_build():
    run = {**RUNS["transformer"], "set": [*RUNS["transformer"]["set"], "loss.params={temprature: 0.1}"]}
    with pytest.raises(LossError, match="temprature"):
        _build(run)
    with pytest.raises(ConfigError, match="epohcs"):
        _build({**run, "set": ["train.epohcs=3"]})


def test_tuning_variants_change_the_transformer_and_keep_its_probes():
    for name in CONFIG["tuning"]:
        run = RUNS[name]
        shower_run = QUALITY.train_samples(run) == ["showers"]  # compared on its own few-label references too
        assert run["config"] == RUNS["transformer"]["config"] and (run["references"] == []) != shower_run
        assert run["set"] != RUNS["transformer"]["set"] or run.get("steps") == 0, name


def test_pair_accuracy_reads_a_real_runs_first_and_last_evaluation(tmp_path):
    from jetgraph.config import load_config
    from jetgraph.io.examples import write_jetclass
    from jetgraph.train import pretrain

    jets = write_jetclass(tmp_path / "jets.root", n_jets=96, seed=2)
    settings = [
        f"data.train={jets}", f"data.val={jets}", "data.step_size=100", "data.shuffle_buffer=100",
        "model.params={dim: 16, layers: 1, heads: 2, ffn: 32, max_particles: 32}",
        "model.head={hidden: 32, out_dim: 16}", "train.batch_size=32", "train.epochs=2",
        "train.progress=false", "train.threads=1",
    ]  # fmt: skip
    pretrain(load_config(None, settings), tmp_path / "run")
    with (tmp_path / "run" / "metrics.csv").open() as handle:
        evaluations = [row["pair_accuracy"] for row in csv.DictReader(handle) if row["split"] == "val"]
    assert len(evaluations) == 3  # before training, after each epoch
    assert QUALITY.pair_accuracy(tmp_path / "run") == [float(evaluations[0]), float(evaluations[-1])]
    assert QUALITY.pair_accuracy(tmp_path / "missing") is None


def test_finetune_scores_every_protocol_on_the_validation_jets(qg_file, tmp_path):
    """benchmarks/finetune.py end to end on a barely trained run: one AUC per protocol and fraction."""
    spec = importlib.util.spec_from_file_location("finetune", BENCHMARKS / "finetune.py")
    finetune = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(finetune)
    overrides = [
        "model.params={dim: 16, layers: 1, heads: 2, ffn: 32, max_particles: 48}",
        "model.head={hidden: 32, out_dim: 16}",
        "train.progress=false",
        "train.max_steps=2",
        "train.batch_size=32",
        f"data.train={qg_file}",
        f"data.val={qg_file}",
    ]
    run_dir = tmp_path / "run"
    pretrain(load_config(None, overrides), run_dir)
    results = finetune.validation_aucs(run_dir, seed=0, fractions=[0.5])
    assert set(results) == set(finetune.PROTOCOLS)
    assert all(0.0 <= results[name][0.5] <= 1.0 for name in finetune.PROTOCOLS)
    # 200 jets: 120 train (60 at half the labels), 40 validation; the multiplicity alone gives ~0.8
    assert results["scratch"][0.5] > 0.6


def _record(**aucs: dict[str, float]) -> dict:
    """A quality record whose q/g probes have these AUCs (per label fraction) and a fixed rejection."""

    def entry(value: float) -> dict:
        return {"auc": {"value": value}, "rejection_at_0.5": {"value": 20.0}}

    return {
        "qg": {
            probe.replace("_", " "): {f: entry(v) for f, v in fractions.items()} for probe, fractions in aucs.items()
        }
    }


def _target_lines(records: dict, config: dict = CONFIG) -> dict[str, str]:
    """The TARGET lines of the report on ``records``, by their text up to the seed count."""
    text = QUALITY.Report(config, records).markdown("header")
    return {line.split(" (")[0]: line for line in text.splitlines() if line.startswith("TARGET")}


def test_a_few_label_target_is_met_by_the_mlp_probe_or_by_fine_tuning_and_says_which():
    records = {}
    for seed, shift in enumerate((0.010, 0.012, 0.011)):
        records[("transformer", seed)] = _record(
            mlp={"0.1": 0.85 + shift, "0.01": 0.80},
            **{"fine-tuned": {"0.1": 0.85 - shift, "0.01": 0.80}, "supervised_(scratch)": {"0.1": 0.85, "0.01": 0.80}},
        )
    lines = _target_lines(records)
    assert lines["TARGET [transformer] with 10% of the labels the pretrained encoder"].endswith(
        "(3 seeds) -> MET by MLP"
    )
    assert lines["TARGET [transformer] with 1% of the labels the pretrained encoder"].endswith("-> NOT MET")  # a tie
    assert lines["TARGET [transformer] the linear probe beats the best observable baseline"].endswith(": not run")
    assert lines["TARGET [resim] the linear probe beats the best observable baseline"].endswith(": not run")


def test_a_report_declared_as_data_renders_rows_paired_differences_and_targets_met_or_not():
    records = {}
    for seed, (pretrained, initialised) in enumerate([(0.80, 0.70), (0.82, 0.71), (0.81, 0.72)]):
        records[("ssl", seed)] = {"steps": 1000 + seed, **_record(linear={"1.0": pretrained})}
        records[("init", seed)] = _record(linear={"1.0": initialised})
    rows = {
        "columns": [{"header": "AUC"}, {"header": "steps", "metric": "steps"}],
        "rows": [{"label": "pretrained", "run": "ssl"}, {"run": "init"}, {"label": "not run", "run": "other"}],
    }
    differences = {
        "header": "difference",
        "columns": [{"header": "AUC"}],
        "each_run": ["ssl"],
        "rows": [{"label": "ssl − init", "minus": {"run": "init"}}],
    }
    targets = [
        {"name": "pretraining beats random init", "comparison": "ssl − init"},
        {"name": "by more than 0.095", "comparison": "ssl − init", "bar": 0.095},  # 0.100 ± 0.006 (standard error)
        {"name": "by more than 0.09", "comparison": "ssl − init", "bar": 0.09},
        {"name": "in AUC and 1/ε_B", "comparison": "ssl − init", "metrics": ["auc", "rejection_0.5"]},  # 1/ε_B: a tie
    ]
    defaults = {"task": "qg", "metric": "auc", "fraction": 1.0, "probe": "linear"}
    section = {"for": ["ssl", "init"], "defaults": defaults, "tables": [rows, differences], "targets": targets}
    config = {"runs": {}, "report": {"metrics": CONFIG["report"]["metrics"], "sections": [section]}}
    text = QUALITY.Report(config, records).markdown("header")
    assert text.startswith("header\n\n| | AUC | steps | seeds |\n|---|---|---|---|\n")
    assert "| pretrained | 0.810 ± 0.010 | 1,001 ± 1 | 3 |\n| init | 0.710 ± 0.010 | – | 3 |\n\n" in text
    assert "| difference | AUC | seeds |\n|---|---|---|\n| ssl: ssl − init | +0.100 ± 0.010 | 3 |\n" in text
    assert "not run" not in text.split("TARGET")[0]  # a row without records is left out
    assert text.endswith(
        "TARGET [ssl] pretraining beats random init (3 seeds) -> MET\n"
        "TARGET [ssl] by more than 0.095 (3 seeds) -> NOT MET\n"
        "TARGET [ssl] by more than 0.09 (3 seeds) -> MET\n"
        "TARGET [ssl] in AUC and 1/ε_B (3 seeds) -> NOT MET\n"
    )
    assert "TARGET" not in QUALITY.Report(config, {}).markdown("header")  # nothing ran: no section


def test_a_report_of_some_runs_shows_only_the_sections_whose_runs_are_all_among_them():
    records = {(run, 0): _record(linear={"1.0": auc}) for run, auc in [("ssl", 0.8), ("init", 0.7), ("long", 0.9)]}
    table = {"columns": [{"header": "AUC"}], "rows": [{"run": "ssl"}, {"run": "init"}, {"run": "long"}]}
    defaults = {"task": "qg", "metric": "auc", "fraction": 1.0, "probe": "linear"}
    sections = [
        {"for": ["ssl", "init"], "text": "short runs", "defaults": defaults, "tables": [table]},
        {"for": ["long", "init"], "text": "long run", "defaults": defaults, "tables": [table]},
    ]
    config = {"runs": {}, "report": {"metrics": CONFIG["report"]["metrics"], "sections": sections}}
    assert "short runs" in QUALITY.Report(config, records).markdown("h")  # every section with records
    text = QUALITY.Report(config, records, only=["long", "init"]).markdown("h")
    assert "long run" in text and "short runs" not in text


def test_the_report_header_names_the_runs_that_train_fixed_steps_whatever_the_budget():
    runs = QUALITY.resolve_runs(QG_SHOWERS)
    records = {(run, 0): {} for run in ["shower_pairs_long", "random"]}
    assert QUALITY.fixed_steps_note(runs, records) == " (fixed steps, whatever the budget: shower_pairs_long)"
    assert QUALITY.fixed_steps_note(RUNS, {("transformer", 0): {}, ("random", 0): {}}) == ""


def test_a_resolution_target_is_met_when_the_best_probe_resolves_better_than_the_cell_sum():
    def energy(linear: float, mlp: float, cell_sum: float) -> dict:
        probes = {"linear": linear, "mlp": mlp, "calibrated cell sum": cell_sum}
        return {"energy": {name: {"mean_resolution": r, "mean_abs_bias": 0.01} for name, r in probes.items()}}

    records = {("replicas", 0): energy(0.10, 0.09, 0.12), ("replicas", 1): energy(0.11, 0.12, 0.13)}
    text = QUALITY.Report(CONFIG, records).markdown("header")
    assert "| replica pairing: best probe − calibrated cell sum | -0.025 ± 0.007 | +0.000 ± 0.000 | 2 |" in text
    target = [line for line in _target_lines(records).values() if "energy" in line]
    assert target == [
        "TARGET at detector level, the replica-pairing energy probe resolves the jet energy better than the "
        "calibrated cell sum (2 seeds) -> MET"
    ]
    records[("replicas", 1)] = energy(0.14, 0.15, 0.13)  # -0.03, +0.01: within one standard error of 0
    assert [line for line in _target_lines(records).values() if "energy" in line][0].endswith("-> NOT MET")


def test_the_report_names_only_runs_metrics_and_comparison_rows_that_exist():
    report = QUALITY.Report(CONFIG, {})
    for section in CONFIG["report"]["sections"]:
        labels, comparisons = set(), set()
        for table in section["tables"]:
            for _, label, row in report.rows(section, table):
                labels.add(label)
                comparisons |= {label} if "minus" in row else set()
                for column in table["columns"]:
                    cell = {**row, **column}
                    assert cell["metric"] in report.metrics and {cell["run"], cell.get("minus", {}).get("run")} - {
                        None
                    } <= set(RUNS), cell
        assert set(section.get("figure", {}).get("rows", [])) <= labels
        for target in section.get("targets", []):
            names = target["comparison"] if isinstance(target["comparison"], list) else [target["comparison"]]
            assert set(names) <= comparisons and set(target.get("metrics", [])) <= set(report.metrics), target


def test_the_report_is_rendered_from_existing_records_alone_with_the_command_that_renders_it_again(tmp_path):
    probe_sample = QUALITY.sample_paths(CONFIG["samples"], tmp_path)["probe"].name
    record = {"run": "transformer", "seed": 0, "probe_sample": probe_sample, "steps": 100, "wall_s": 60.0,
              "jets_seen": 25600, "commit": "abc1234", **_record(linear={"1.0": 0.8})}  # fmt: skip
    run_dir = tmp_path / "budget20min_1threads" / "runs" / "transformer" / "seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "quality.json").write_text(json.dumps(record))
    command = [sys.executable, str(BENCHMARKS / "quality.py"), "--report-only", "--workdir", str(tmp_path)]
    command += ["--budget-minutes", "20", "--threads", "1", "--report", str(tmp_path / "docs" / "results.md")]
    subprocess.run(command, check=True, capture_output=True, text=True, cwd=BENCHMARKS.parent)
    text = (tmp_path / "docs" / "results.md").read_text()
    regenerate = (
        f"--report-only --workdir {tmp_path} --budget-minutes 20 --threads 1 --report {tmp_path}/docs/results.md"
    )
    assert text.splitlines()[0].startswith(f"Generated by `.venv/bin/python benchmarks/quality.py {regenerate}`")
    assert "| SSL transformer, linear probe | – | – | 0.800 | 20.0 | 100 | 25,600 | 1.0 | 1 |" in text
    assert (tmp_path / "budget20min_1threads" / "results.md").read_text() == text
    assert not (tmp_path / "samples").exists()  # nothing generated, nothing run
    # --only: the sections about these runs alone; this config's sections are each about all its runs
    only = subprocess.run([*command, "--only", "transformer"], capture_output=True, text=True, cwd=BENCHMARKS.parent)
    assert only.returncode != 0 and "--only transformer: no report section is about these runs alone" in only.stderr
    assert (tmp_path / "budget20min_1threads" / "results.md").read_text() == text  # the folder's report stays


def test_the_command_that_renders_a_report_again_names_only_when_it_chose_the_sections():
    import argparse

    args = {"config": QUALITY.CONFIG, "workdir": None, "quick": False, "report": None, "only": "a,b"}
    shown = QUALITY._regenerate(argparse.Namespace(**args, report_only=True), 5)
    assert shown.startswith(".venv/bin/python benchmarks/quality.py --report-only --only a,b --budget-minutes 5")
    assert "--only" not in QUALITY._regenerate(argparse.Namespace(**args, report_only=False), 5)  # the whole folder


TINY_RUN = {
    "config": "configs/pretrain/qg_transformer.yaml", "tasks": ["qg"], "references": [],
    "set": ["model.params={dim: 16, layers: 1, heads: 2, ffn: 32, max_particles: 48}",
            "model.head={hidden: 32, out_dim: 16}", "train.batch_size=32"],
}  # fmt: skip
"""A quality run of a tiny transformer on the q/g test file: seconds to pretrain and probe."""
TINY_SETTINGS = {"budget_minutes": 0.1, "label_fractions": [1.0], "bootstraps": 5, "progress": False, "reprobe": False}


def test_a_record_probed_on_another_probe_sample_is_probed_again_without_pretraining_again(qg_file, tmp_path):
    run, settings = {**TINY_RUN, "steps": 2}, TINY_SETTINGS
    first = QUALITY.one_run("tiny", run, 0, {"pretrain": qg_file, "probe": qg_file}, settings, tmp_path)
    assert first["probe_sample"] == qg_file.name and first["qg"]["linear"]["1.0"]["auc"]["value"] > 0.5
    checkpoint = tmp_path / "runs" / "tiny" / "seed0" / "checkpoints" / "step-00000002.pt"
    trained = checkpoint.stat().st_mtime_ns
    assert QUALITY.one_run("tiny", run, 0, {"pretrain": qg_file, "probe": qg_file}, settings, tmp_path) == first

    other = tmp_path / "other_probe.root"
    other.write_bytes(qg_file.read_bytes())
    second = QUALITY.one_run("tiny", run, 0, {"pretrain": qg_file, "probe": other}, settings, tmp_path)
    assert second["probe_sample"] == "other_probe.root" and second["steps"] == 2
    assert checkpoint.stat().st_mtime_ns == trained  # probed again, not trained again
    probed = json.loads((tmp_path / "runs" / "tiny" / "seed0" / "probe" / "qg.json").read_text())
    assert probed["files"] == [str(other)]


TOP = yaml.safe_load((BENCHMARKS / "quality_top.yaml").read_text())
TOP_RUNS = QUALITY.resolve_runs(TOP)
QG_SHOWERS = yaml.safe_load((BENCHMARKS / "quality_qg_showers.yaml").read_text())


@pytest.mark.parametrize("name", sorted(TOP_RUNS))
def test_every_top_tagging_run_builds_and_probes_top_on_a_sample_of_the_config(name):
    run = TOP_RUNS[name]
    config = QUALITY.run_config(run, {k: Path(f"{k}.root") for k in TOP["samples"]}, seed=1, steps=5, progress=False)
    build_encoder(config.model.encoder, 13, **config.model.params)
    augment.build_transforms(config.augment.transforms)
    assert run["tasks"] == ["top"] and QUALITY.samples_of(run)["probe"] in TOP["samples"]
    tuning = name in TOP["tuning"]
    assert QUALITY.samples_of(run)["probe"] == ("val" if tuning else "probe")  # choose on val, report on probe


@pytest.mark.parametrize("config", [TOP, QG_SHOWERS], ids=["top", "qg_showers"])
def test_the_top_and_shower_pair_reports_name_only_runs_metrics_and_comparisons_that_exist(config):
    report, known = QUALITY.Report(config, {}), QUALITY.resolve_runs(config)
    for section in config["report"]["sections"]:
        comparisons = set()
        for table in section["tables"]:
            for _, label, row in report.rows(section, table):
                comparisons |= {label} if "minus" in row else set()
                for column in table["columns"]:
                    cell = {**row, **column}
                    assert cell["metric"] in report.metrics and cell["run"] in known, cell
        for target in section.get("targets", []):
            names = target["comparison"] if isinstance(target["comparison"], list) else [target["comparison"]]
            assert set(names) <= comparisons, target


TRANSFERS = {"top_qcd": TOP, "qg": QG_SHOWERS}  # the sample each transfer config's shifts change


@pytest.mark.parametrize(
    "sample, name", [(sample, name) for sample, config in TRANSFERS.items() for name in config["transfer"]["shifts"]]
)
def test_every_transfer_shift_is_the_sample_with_one_change_and_probes_runs_of_the_config(sample, name):
    from jetgraph.generate.sample import load_sample

    config = TRANSFERS[sample]
    spec, shift = config["transfer"], config["transfer"]["shifts"][name]
    assert set(spec["runs"]) <= set(config["runs"])
    *pretrained, control = (
        QUALITY.resolve_runs(config)[run] for run in spec["runs"]
    )  # the encoders, then their control
    assert pretrained and control["steps"] == 0 and all(run.get("steps") != 0 for run in pretrained)
    paths = {sample: Path(f"{sample}.root") for sample in config["samples"]}
    for run, own in spec.get("controls", {}).items():  # an encoder of its own, against its own random init
        resolved = QUALITY.resolve_runs(config)
        assert run in spec["runs"] and resolved[own]["steps"] == 0
        models = [_build(resolved[name], paths).model for name in (own, run)]
        assert models[0] == models[1] != _build(control, paths).model
    assert spec["seed"] not in {s["seed"] for s in config["samples"].values()}
    if "detector_of" in shift:  # the same jets at detector level: the sample must have a replica
        assert config["samples"][shift["detector_of"]].get("replicas", 0) >= 1
        return
    shifted, plain = load_sample(str(BENCHMARKS.parent / shift["sample"])), load_sample(sample)
    assert shifted.label_names == plain.label_names and shifted.processes == plain.processes
    assert (shifted.pythia, shifted.jets) != (plain.pythia, plain.jets)
    # one change: the jet pT window (with the hard scattering's), or multiparton interactions
    changed = {line.split("=")[0].strip() for line in set(shifted.pythia) ^ set(plain.pythia)}
    assert changed <= {"PhaseSpace:pTHatMin", "PhaseSpace:pTHatMax", "PartonLevel:MPI"}
    assert dataclasses.replace(shifted.jets, pt=plain.jets.pt) == plain.jets


@pytest.mark.parametrize("name", sorted(QUALITY.resolve_runs(QG_SHOWERS)))
def test_every_shower_pair_run_builds_trains_on_showers_and_reports_on_the_seed_that_chose_nothing(name):
    run = QUALITY.resolve_runs(QG_SHOWERS)[name]
    paths = {k: Path(f"{k}.root") for k in QG_SHOWERS["samples"]}
    config = QUALITY.run_config(run, paths, seed=1, steps=5, progress=False)
    build_encoder(config.model.encoder, 13, **config.model.params)
    assert config.augment.views == "showers" and run["tasks"] == ["qg"]
    trained_on = QUALITY.train_samples(run)
    assert config.data.train == [str(paths[sample]) for sample in trained_on]
    assert all(QG_SHOWERS["samples"][sample]["showers"] == 2 for sample in trained_on)
    fresh = QG_SHOWERS["samples"][QUALITY.samples_of(run)["probe"]]["seed"]
    chose = {spec["seed"] for spec in CONFIG["samples"].values()}  # the q/g samples quality.yaml chose settings on
    assert fresh not in chose


def test_the_long_shower_pair_run_reads_both_shower_files_for_its_one_seed_only():
    run = QUALITY.resolve_runs(QG_SHOWERS)["shower_pairs_long"]
    short = QUALITY.resolve_runs(QG_SHOWERS)["shower_pairs"]
    assert QUALITY.train_samples(run) == ["showers", "showers_more"] and QUALITY.train_samples(short) == ["showers"]
    assert {"showers", "showers_more", "showers_val", "probe"} == QUALITY.needed_samples(run)
    more, showers = QG_SHOWERS["samples"]["showers_more"], QG_SHOWERS["samples"]["showers"]
    assert more["seed"] != showers["seed"] and more["seed"] not in {s["seed"] for s in CONFIG["samples"].values()}
    assert QUALITY.seeds_of(run, [0, 1, 2]) == [0] and QUALITY.seeds_of(run, [1, 2]) == []
    assert QUALITY.seeds_of(short, [0, 1, 2]) == [0, 1, 2]


def test_the_long_top_run_reads_both_pretraining_files_for_its_one_seed_only():
    run, short = TOP_RUNS["transformer_long"], TOP_RUNS["transformer"]
    assert QUALITY.train_samples(run) == ["pretrain", "pretrain_more"] and QUALITY.train_samples(short) == ["pretrain"]
    assert QUALITY.needed_samples(run) == {"pretrain", "pretrain_more", "probe"}
    used = [spec["seed"] for name, spec in TOP["samples"].items() if name != "pretrain_more"]
    assert TOP["samples"]["pretrain_more"]["seed"] not in [*used, TOP["transfer"]["seed"]]  # jets no other sample holds
    assert QUALITY.seeds_of(run, [0, 1, 2]) == [0] and run["steps"] > 0


def test_the_top_shower_pair_run_pairs_showers_of_fresh_events_and_is_probed_on_the_augmentation_runs_jets():
    run = TOP_RUNS["shower_pairs"]
    paths = {k: Path(f"{k}.root") for k in TOP["samples"]}
    config = QUALITY.run_config(run, paths, seed=1, steps=5, progress=False)
    assert config.augment.views == "showers" and run["tasks"] == ["top"]
    assert config.data.train == [str(paths["showers"])] and config.data.val == [str(paths["showers_val"])]
    augmented = load_config(BENCHMARKS.parent / TOP_RUNS["transformer"]["config"])
    assert config.model.params == augmented.model.params  # the same network as the augmentation run and its control
    showers, val = TOP["samples"]["showers"], TOP["samples"]["showers_val"]
    assert showers["showers"] == val["showers"] == 2 and showers["jets"] == TOP["samples"]["pretrain"]["jets"]
    others = [spec["seed"] for name, spec in TOP["samples"].items() if name not in ("showers", "showers_val")]
    assert {showers["seed"], val["seed"]}.isdisjoint([*others, TOP["transfer"]["seed"]])  # events no other file holds
    assert QUALITY.samples_of(run)["probe"] == "probe"  # the jets the augmentation runs are reported on


def test_the_top_shower_pair_config_is_the_quark_gluon_recipe_but_for_the_particles_a_top_jet_keeps():
    top = load_config(BENCHMARKS.parent / "configs/pretrain/top_showers_transformer.yaml")
    qg = load_config(BENCHMARKS.parent / "configs/pretrain/qg_showers_transformer.yaml")
    assert top.augment == qg.augment and top.loss == qg.loss and top.train == qg.train
    assert top.model.head == qg.model.head and top.model.encoder == qg.model.encoder
    assert {**top.model.params, "max_particles": 64} == qg.model.params and top.model.params["max_particles"] == 100


def test_the_long_top_shower_pair_run_reads_both_shower_files_for_its_one_seed_only():
    run, short = TOP_RUNS["shower_pairs_long"], TOP_RUNS["shower_pairs"]
    assert QUALITY.train_samples(run) == ["showers", "showers_more"] and QUALITY.train_samples(short) == ["showers"]
    assert QUALITY.needed_samples(run) == {"showers", "showers_more", "showers_val", "probe"}
    more = TOP["samples"]["showers_more"]
    used = [spec["seed"] for name, spec in TOP["samples"].items() if name != "showers_more"]
    assert more["showers"] == 2 and more["seed"] not in [*used, TOP["transfer"]["seed"]]
    assert QUALITY.seeds_of(run, [0, 1, 2]) == [0] and run["steps"] > 0


def test_detector_level_jets_are_what_detector_view_makes_of_each_replica(qg_file, tmp_path):
    import numpy as np
    import torch

    import jetgraph
    from jetgraph.batch import TRACK_LAYER, JetBatch, detector_view
    from jetgraph.data import JetDataset
    from jetgraph.features import feature_names
    from jetgraph.generate.detector import load_detector, simulate

    jets = simulate(jetgraph.read(qg_file)[:40], load_detector("default"), 2, np.random.default_rng(3))
    replicas = jetgraph.write(jets, tmp_path / "replicas.root", label_names=["gluon", "quark"])
    transfer = TRANSFER
    out = tmp_path / "detector.root"
    transfer.make_detector_level(replicas, out)
    assert jetgraph.read(out).attrs["label_names"] == ["gluon", "quark"]
    batch = JetBatch.cat(list(JetDataset([str(replicas)], 64, rank=0, world_size=1)))
    for replica in (0, 1):
        written = jetgraph.io.write(transfer.detector_level(jets, replica), tmp_path / f"r{replica}.root")
        seen = JetBatch.cat(list(JetDataset([str(written)], 64, rank=0, world_size=1)))
        view = detector_view(batch, torch.full((batch.num_jets,), replica))
        assert torch.equal(seen.ptr, view.ptr) and torch.equal(seen.label, batch.label)
        for field in ("pt", "eta", "phi", "energy", "charge"):
            torch.testing.assert_close(getattr(seen, field), getattr(view, field), rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(seen.truth_pt, batch.truth_pt)
        # a particle-level encoder reads them: the same input columns, the layer as a particle-flow type
        assert feature_names(seen) == feature_names(batch)
        expected = torch.where(view.layer == 0, 22, torch.where(view.layer == 1, 130, 211 * view.charge.sign()))
        assert torch.equal(seen.pid, expected.to(seen.pid.dtype)) and bool((view.layer <= TRACK_LAYER).all())
        # the jet is the calorimeter jet: the replica's cells summed, not the tracks as well
        cell = view.layer != TRACK_LAYER
        pt, phi, jet = view.pt[cell].double(), view.phi[cell].double(), view.batch[cell]
        px = torch.zeros(batch.num_jets, dtype=torch.float64).index_add_(0, jet, pt * phi.cos())
        py = torch.zeros(batch.num_jets, dtype=torch.float64).index_add_(0, jet, pt * phi.sin())
        torch.testing.assert_close(seen.jet_pt.double(), torch.hypot(px, py), rtol=1e-4, atol=1e-3)
    with pytest.raises(SystemExit, match="needs detector replicas"):
        transfer.make_detector_level(qg_file, tmp_path / "no_cells.root")


def _transfer_fails(config: dict, tmp_path: Path, seeds: str = "1") -> str:
    """Run transfer.py's main on ``config`` (its workdir in ``tmp_path``): it must stop, with a message (exit code 1),
    before it generates anything. In this process: a subprocess would spend its time importing torch."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**config, "workdir": str(tmp_path)}, allow_unicode=True))
    argv = ["transfer.py", "--config", str(tmp_path / "config.yaml"), "--threads", "2", "--seeds", seeds]
    with mock.patch.object(sys, "argv", argv), pytest.raises(SystemExit) as stopped:
        TRANSFER.main()
    assert isinstance(stopped.value.code, str) and not (tmp_path / "samples").exists()
    return stopped.value.code + "\n"


def test_transfer_names_the_quality_runs_to_finish_first_before_it_generates_anything(tmp_path):
    assert "--seeds 0,1 --only shower_pairs,shower_pairs_long,random" in _transfer_fails(QG_SHOWERS, tmp_path, "0,1")
    # the long run is trained for seed 0 only: for seed 1 it is not asked for
    assert "--seeds 1 --only shower_pairs,random\n" in _transfer_fails(QG_SHOWERS, tmp_path)


def test_transfer_names_a_detector_shift_of_a_sample_the_config_does_not_have(tmp_path):
    shifts = {**QG_SHOWERS["transfer"]["shifts"], "detector": {"detector_of": "prob", "text": "detector level"}}
    config = {**QG_SHOWERS, "transfer": {**QG_SHOWERS["transfer"], "shifts": shifts}}
    error = _transfer_fails(config, tmp_path)
    assert "transfer.shifts.detector.detector_of 'prob'; expected a sample of the config" in error


@pytest.mark.parametrize("controls", [{"shower_pairs": "random_bias"}, {"shower_pairs": "pair_bias"}, ["random"]])
def test_transfer_names_a_control_that_is_not_an_untrained_run_of_the_config(controls, tmp_path):
    config = {**TOP, "transfer": {**TOP["transfer"], "controls": controls}}
    assert f"transfer.controls {controls}; expected runs of transfer.runs" in _transfer_fails(config, tmp_path)


def test_transfer_names_a_working_point_the_probes_do_not_measure(tmp_path):
    config = {**QG_SHOWERS, "transfer": {**QG_SHOWERS["transfer"], "working_point": 0.4}}
    assert "transfer.working_point 0.4; expected one of" in _transfer_fails(config, tmp_path)


def test_the_transfer_table_pairs_each_pretrained_run_with_the_control_on_the_seeds_both_have():
    transfer = TRANSFER

    def numbers(auc: float) -> dict[str, float]:
        return {"auc": auc, "rejection": 20.0, "observables": 0.85}

    control = {0: numbers(0.86), 1: numbers(0.87)}
    rows = {"fresh": {"short": {0: numbers(0.87), 1: numbers(0.88)}, "long": {0: numbers(0.89)}, "random": control}}
    texts = {"fresh": "test jets"}
    lines, targets = transfer.table(rows, texts, {"short": "random"}, 0.5)
    assert lines[2].startswith("| test jets | 0.875 ± 0.007 | 0.865 ± 0.007 | 0.850 ± 0.000 | +0.010 ± 0.000 | +0.025")
    assert targets[0] == "TARGET [fresh] SSL linear AUC beats random init (2 seeds) -> MET"
    lines, targets = transfer.table(rows, texts, {"short": "random", "long": "random"}, 0.5)
    assert lines[2].startswith("| test jets: short (seeds 0, 1) | 0.875 ± 0.007 |")
    assert lines[3].startswith("| test jets: long (seed 0) | 0.890 | 0.860 | 0.850 | +0.030 | +0.040 |")
    assert targets[2] == "TARGET [fresh] long SSL linear AUC beats random init (1 seed, no error estimate) -> MET"
    rows["fresh"]["random"] = {1: numbers(0.87)}  # the control lacks the long run's seed: no row, not run
    lines, targets = transfer.table(rows, texts, {"short": "random", "long": "random"}, 0.5)
    assert len(lines) == 3 and targets[2] == "TARGET [fresh] long SSL linear AUC beats random init: not run"
    rows["fresh"]["random_long"] = {0: numbers(0.90)}  # a run with another encoder is paired with its own control
    lines, targets = transfer.table(rows, texts, {"short": "random", "long": "random_long"}, 0.5)
    assert lines[3].startswith("| test jets: long against random_long (seed 0) | 0.890 | 0.900 | 0.850 | -0.010 |")
    assert targets[2] == "TARGET [fresh] long SSL linear AUC beats random init (1 seed, no error estimate) -> NOT MET"


def test_a_transfer_rejection_resting_on_too_few_background_jets_is_starred_and_footnoted():
    transfer = TRANSFER
    record = {
        "linear": {"1.0": {"auc": {"value": 0.9}, "rejection_at_0.3": {"value": 200.0, "passing_background": 4.0}}}
    }
    record |= {name: {"1.0": {"auc": {"value": 0.95}}} for name in transfer.OBSERVABLES}
    few = transfer._numbers(record, 0.3)
    record["linear"]["1.0"]["rejection_at_0.3"]["passing_background"] = 40.0
    enough = transfer._numbers(record, 0.3)
    assert few["few"] and not enough["few"] and few["observables"] == 0.95
    lines, _ = transfer.table(
        {"fresh": {"ssl": {0: few}, "random": {0: enough}}}, {"fresh": "jets"}, {"ssl": "random"}, 0.3
    )
    assert lines[2].endswith("| 200.0* | 200.0 |") and "fewer than 10 passing background jets" in lines[-1]
    lines, _ = transfer.table(
        {"fresh": {"ssl": {0: enough}, "random": {0: enough}}}, {"fresh": "jets"}, {"ssl": "random"}, 0.3
    )
    assert len(lines) == 3 and "*" not in lines[2]


def test_transfer_names_runs_that_are_not_runs_of_the_config_or_lack_a_control(tmp_path):
    for runs in (["shower_pairs"], ["shower_pairs", "randon"]):
        config = {**QG_SHOWERS, "transfer": {**QG_SHOWERS["transfer"], "runs": runs}}
        assert f"transfer.runs {runs}; expected pretrained runs of the config, then" in _transfer_fails(
            config, tmp_path
        )


def test_transfer_says_when_no_pretrained_run_is_trained_for_the_seeds_asked(tmp_path):
    config = {**QG_SHOWERS, "transfer": {**QG_SHOWERS["transfer"], "runs": ["shower_pairs_long", "random"]}}
    error = _transfer_fails(config, tmp_path)  # --seeds 1: the long run is trained for seed 0 only
    assert "--seeds 1: no pretrained run of transfer.runs is trained for these seeds" in error


def test_the_pair_bias_runs_are_the_shower_pair_run_with_the_bias_and_their_own_controls():
    paths = {k: Path(f"{k}.root") for k in TOP["samples"]}
    built = {name: QUALITY.run_config(TOP_RUNS[name], paths, seed=1, steps=5, progress=False) for name in TOP_RUNS}
    plain, biased = built["shower_pairs"], built["pair_bias"]
    assert biased.model.params == {**plain.model.params, "pair_bias": True}
    assert dataclasses.replace(biased, model=plain.model) == plain  # nothing else changes
    for control in ("random_pair_bias", "supervised_pair_bias", "pair_bias_val", "random_pair_bias_val"):
        assert built[control].model == biased.model, control
    assert TOP_RUNS["random_pair_bias"]["steps"] == 0 == TOP_RUNS["random_pair_bias_val"]["steps"]
    assert TOP_RUNS["supervised_pair_bias"]["init_run"] == "random_pair_bias"  # the same encoder, at step 0
    supervised = [QUALITY.train_samples(TOP_RUNS[name]) for name in ("supervised_pair_bias", "supervised")]
    assert supervised[0] == supervised[1] == ["pretrain"]  # the labelled jets, not the shower pairs
    assert TOP_RUNS["supervised"].get("init_run", "random") == "random"


def test_a_supervised_reference_trains_the_step_0_encoder_of_its_init_run(qg_file, tmp_path):
    run = {**TINY_RUN, "supervised": True, "init_run": "tiny_init"}
    settings = {**TINY_SETTINGS, "budget_minutes": 0.01}
    record = QUALITY.one_run("tiny_supervised", run, 0, {"pretrain": qg_file, "probe": qg_file}, settings, tmp_path)
    assert (tmp_path / "runs" / "tiny_init" / "seed0" / "checkpoints" / "step-00000000.pt").exists()
    assert not (tmp_path / "runs" / "random").exists()
    assert record["steps"] >= 1 and 0 < record["qg"]["supervised (all pretraining labels)"]["1.0"]["auc"]["value"] <= 1


def test_a_seed_reuses_the_calibration_of_the_runs_lowest_calibrated_seed(qg_file, tmp_path):
    run = TINY_RUN
    runs_dir = tmp_path / "runs" / "tiny"
    # seed 2 was timed on a quiet machine, seed 10 (first as text) on a busy one; seed 5 has its own plan
    for folder, steps in [("seed2", 2), ("seed10", 7), ("seed5", 3), ("seed1.bak", 9)]:
        (runs_dir / folder).mkdir(parents=True)
        (runs_dir / folder / "plan.json").write_text(json.dumps({"steps": steps, "step_s": 0.5 * steps}))
    settings = TINY_SETTINGS
    samples = {"pretrain": qg_file, "probe": qg_file}
    record = QUALITY.one_run("tiny", run, 4, samples, settings, tmp_path)
    assert (record["steps"], record["step_s"]) == (2, 1.0)
    assert json.loads((runs_dir / "seed4" / "plan.json").read_text()) == {"steps": 2, "step_s": 1.0}
    assert (runs_dir / "seed4" / "checkpoints" / "step-00000002.pt").exists()
    assert QUALITY.one_run("tiny", run, 5, samples, settings, tmp_path)["steps"] == 3  # its own plan first


def test_a_supervised_reference_whose_init_run_is_not_an_untrained_run_of_the_config_is_refused():
    supervised = {"like": "random", "supervised": True, "init_run": "rnd"}
    config = {"runs": {"random": {"config": "c.yaml", "steps": 0}, "trained": {"config": "c.yaml"}, "sup": supervised}}
    with pytest.raises(SystemExit, match="'sup' has init_run: 'rnd'; expected a run of the config with steps: 0"):
        QUALITY.resolve_runs(config)
    supervised["init_run"] = "trained"  # a pretrained encoder would make the reference a fine-tune
    with pytest.raises(SystemExit, match="'sup' has init_run: 'trained'; expected a run of the config with steps: 0"):
        QUALITY.resolve_runs(config)
    del supervised["init_run"]
    assert QUALITY.resolve_runs(config)["sup"]["supervised"]  # the default, random, is there


def test_a_quick_smoke_check_trains_the_long_runs_for_its_budget_not_their_fixed_steps():
    quick = QUALITY.quick_runs(TOP_RUNS)
    assert TOP_RUNS["shower_pairs_long"]["steps"] == 3200 and "steps" not in quick["shower_pairs_long"]
    assert quick["random"]["steps"] == 0 and quick["shower_pairs"] == TOP_RUNS["shower_pairs"]


def test_a_transfer_control_is_probed_on_the_seeds_of_the_runs_paired_with_it():
    transfer = TRANSFER
    run_seeds = {"short": [0, 1, 2], "long": [0], "bias_long": [0], "random": [0, 1, 2], "random_bias": [0, 1, 2]}
    controls = {"short": "random", "long": "random", "bias_long": "random_bias"}
    assert transfer.paired_seeds(controls, run_seeds) == {"random": [0, 1, 2], "random_bias": [0]}
