"""``jetgraph generate``: chunked, parallel, resumable after a kill, byte-reproducible, clear errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import awkward as ak
import h5py
import pytest
from typer.testing import CliRunner

import jetgraph
from jetgraph.cli import app
from jetgraph.errors import JetGraphError
from jetgraph.generate import generate

runner = CliRunner()


def _command(out, jets=30, chunk_size=10, *extra):
    return ["generate", "qg", "--jets", str(jets), "--chunk-size", str(chunk_size), "--out", str(out), *extra]


def test_generate_then_inspect_shows_balance_and_multiplicities(tmp_path):
    out = tmp_path / "qg.root"
    result = runner.invoke(app, _command(out, 20, 10, "--seed", "3"))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}: 20 jets" in result.output and "jets/s per core" in result.output
    assert not (tmp_path / "qg.root.parts").exists() and not (tmp_path / "qg.root.partial").exists()
    inspected = runner.invoke(app, ["inspect", str(out)])
    assert "labels     gluon 10, quark 10" in inspected.output
    assert "mean per class: gluon" in inspected.output


def test_detector_replicas_leave_the_particles_alone_and_feed_images(tmp_path):
    """Replicas come from their own seed stream: the particle jets are those of a run without them."""
    plain = jetgraph.read(generate("qg", 20, tmp_path / "plain.root", seed=4, chunk_size=10, progress=False).path)
    out = generate("qg", 20, tmp_path / "qg.root", seed=4, chunk_size=10, replicas=2, progress=False).path
    jets = jetgraph.read(out)
    assert ak.array_equal(jets.part, plain.part) and ak.array_equal(jets.truth, plain.truth)
    assert ak.all(ak.num(jets.cells, axis=1) == 2) and ak.all(ak.num(jets.tracks, axis=1) == 2)
    assert not ak.array_equal(jets.cells[:, 0], jets.cells[:, 1])  # independent smearing per replica
    response = ak.to_numpy(ak.sum(jets.cells.energy, axis=2) / jets.jet.energy)
    assert 0.75 < response.mean() < 0.97, response  # hadrons answer 0.8, photons 1, neutrinos 0

    inspected = runner.invoke(app, ["inspect", str(out)])
    mean_cells = ak.mean(ak.num(ak.flatten(jets.cells, axis=1), axis=1))
    assert f"cells: mean {mean_cells:.1f} per jet and replica (2 replicas per jet)" in inspected.output

    images = tmp_path / "qg_images.h5"
    result = runner.invoke(app, ["images", str(out), "--out", str(images), "--pixels", "16", "--replica", "1"])
    assert result.exit_code == 0, result.output
    assert f"{images}: 20 jet images, 16x16 pixels over 1.6 rad, from cells" in result.output
    with h5py.File(images) as handle:
        assert handle["X_jets"].shape == (20, 16, 16, 3) and handle.attrs["replica"] == 1
        assert handle["y"][:].tolist() == jets.label.tolist()
    bad = runner.invoke(app, ["images", str(out), "--out", str(tmp_path / "x.h5"), "--source", "towers"])
    assert bad.exit_code == 2 and "towers" in bad.output and not (tmp_path / "x.h5").exists()


def test_same_seed_same_bytes_whatever_the_workers(tmp_path, qg_file):
    """The session fixture made 200 jets with seed 11 on one worker; two workers give the same file."""
    out = tmp_path / "qg.root"  # same file name: ROOT files record their own name
    generate("qg", 200, out, seed=11, chunk_size=100, workers=2, progress=False)
    assert out.read_bytes() == qg_file.read_bytes()


def test_different_seeds_differ(tmp_path, qg_jets):
    other = jetgraph.read(generate("qg", 20, tmp_path / "qg.root", seed=12, chunk_size=10, progress=False).path)
    assert set(other.jet.pt.tolist()).isdisjoint(qg_jets.jet.pt.tolist())


def test_killed_run_resumes_to_the_same_file(tmp_path):
    reference = tmp_path / "clean" / "qg.root"
    generate("qg", 30, reference, seed=5, chunk_size=10, progress=False)

    out = tmp_path / "killed" / "qg.root"
    command = [sys.executable, "-m", "jetgraph", *_command(out, 30, 10, "--seed", "5")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_chunk = out.with_name("qg.root.parts") / "chunk_00000.h5"
    deadline = time.monotonic() + 120
    while not first_chunk.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert first_chunk.exists(), "the run ended before writing its first chunk"
    assert not out.exists()  # nothing that looks complete

    result = runner.invoke(app, _command(out, 30, 10, "--seed", "5"))
    assert result.exit_code == 0, result.output
    assert "from an earlier, interrupted run" in result.output
    assert out.read_bytes() == reference.read_bytes()
    assert not out.with_name("qg.root.parts").exists()


def test_resume_refuses_parts_of_another_run(tmp_path):
    out = tmp_path / "qg.root"
    parts = tmp_path / "qg.root.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text(json.dumps({"sample": "qg", "seed": 1}))
    result = runner.invoke(app, _command(out, 20, 10))
    assert result.exit_code == 2
    assert f"error: {parts}: holds chunks of a different run" in result.output
    assert "delete the folder" in result.output


def test_showers_write_each_hard_event_twice_one_jet_after_the_other(showers_file, tmp_path):
    jets = jetgraph.read(showers_file)
    event = jets.jet.event.to_numpy()
    assert len(jets) == 40 and (event[0::2] == event[1::2]).all()
    assert sorted(event[0::2].tolist()) == list(range(20))  # numbered across the two chunks
    assert (jets.label[0::2] == jets.label[1::2]).to_numpy().all() and 0 < ak.sum(jets.label) < 40
    # showered again, not copied: every pair differs in its particles
    assert all(not ak.array_equal(jets.part[i], jets.part[i + 1]) for i in range(0, 40, 2))
    inspected = runner.invoke(app, ["inspect", str(showers_file)])
    assert inspected.exit_code == 0, inspected.output
    again = generate("qg", 40, tmp_path / "showers.h5", seed=5, chunk_size=20, showers=2, workers=2, progress=False)
    assert ak.array_equal(jetgraph.read(again.path), jets)  # the same jets, whatever the workers


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--showers", "0"], "--showers is 0; expected at least 1"),
        (["--showers", "2", "--jets", "11"], "--jets is 11; expected a multiple of --showers 2 (whole events)"),
        (["--jets", "0"], "--jets is 0; expected at least 1"),
        (["--workers", "0"], "--workers is 0; expected at least 1"),
        (["--out", "jets.txt"], "jets.txt: cannot write this suffix; expected .root or .h5"),
    ],
)
def test_bad_options_are_one_line_errors(tmp_path, arguments, message):
    result = runner.invoke(app, ["generate", "qg", "--out", str(tmp_path / "x.root"), *arguments])
    assert result.exit_code == 2
    assert message in result.output


def test_unknown_sample_suggests_the_nearest():
    with pytest.raises(JetGraphError, match=r"sample 'qgg' is not a built-in sample.*did you mean 'qg'"):
        generate("qgg", 10, "x.root")
