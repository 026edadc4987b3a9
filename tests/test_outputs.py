"""Writing safely: outputs checked before the work, one writer per directory, nothing half-written."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from jetgraph.cli import app
from jetgraph.outputs import OutputError, check_writable, lock, locked, unlock, written_atomically


def test_an_output_under_a_file_is_one_line_naming_the_option(tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    with pytest.raises(OutputError, match=r"^--out .*notes.txt/emb.h5: cannot write there \(.*notes.txt is a file"):
        check_writable(tmp_path / "notes.txt" / "emb.h5", "--out")
    with pytest.raises(OutputError, match=r"^--out .*: is a directory; expected a file name in it"):
        check_writable(tmp_path, "--out")
    assert check_writable(tmp_path / "new" / "deeper" / "emb.h5") == tmp_path / "new" / "deeper" / "emb.h5"
    assert [p.name for p in (tmp_path / "new" / "deeper").iterdir()] == []  # the probe file is gone


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_is_one_line(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match=r"^--out .*read-only/emb.h5: cannot write there \(Permission denied\)"):
            check_writable(folder / "emb.h5", "--out")
    finally:
        folder.chmod(0o700)


def test_embed_checks_its_output_before_reading_anything(tmp_path):
    """The run does not even exist: the output is checked first, so that error is the one reported."""
    (tmp_path / "notes.txt").write_text("")
    out = tmp_path / "notes.txt" / "emb.h5"
    result = CliRunner().invoke(app, ["embed", str(tmp_path / "run"), "--data", "x.root", "--out", str(out)])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"error: --out {out}: cannot write there")


@pytest.mark.parametrize("command", [["generate", "qg", "--jets", "10"], ["images", "x.root"]])
def test_generate_and_images_check_their_output_first(command, tmp_path):
    (tmp_path / "notes.txt").write_text("")
    out = tmp_path / "notes.txt" / "jets.root"
    result = CliRunner().invoke(app, [*command, "--out", str(out)])
    assert result.exit_code == 2 and result.output.startswith(f"error: --out {out}: cannot write there"), result.output


def test_one_holder_at_a_time_and_the_lock_is_free_again_after(tmp_path):
    first = lock(tmp_path / "run", "pretrain")
    with pytest.raises(OutputError, match=rf"run: in use by another jetgraph pretrain \(pid {os.getpid()}\)"):
        lock(tmp_path / "run", "pretrain")
    unlock(first)
    unlock(first)  # twice is harmless
    with locked(tmp_path / "run", "probe"):
        assert (tmp_path / "run" / ".lock").read_text().strip() == str(os.getpid())
    unlock(lock(tmp_path / "run", "pretrain"))


def test_a_failed_write_leaves_no_file_that_looks_complete(tmp_path):
    target = tmp_path / "table.json"
    with pytest.raises(RuntimeError), written_atomically(target) as partial:
        partial.write_text("{half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
