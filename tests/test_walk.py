"""The README's "Your own ntuple" walk, run as written: a per-event NanoAOD-style file of real Pythia jets,
from jetgraph inspect to jetgraph probe. Only the run's length is cut (steps, batch, label fractions)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jetgraph.cli import app
from jetgraph.io.examples import main as write_example

README = Path(__file__).resolve().parents[1] / "README.md"
SHORTER = {
    "pretrain": ["--set", "train.max_steps=2", "--set", "train.batch_size=32", "--set", "train.progress=false"],
    "probe": ["--label-fractions", "0.1,1", "--no-supervised", "--threads", "1"],
}


def _walk() -> tuple[list[str], str]:
    """The commands (continuation lines joined) and the recipe between the README's walk markers."""
    text = README.read_text()
    walk = text[text.index("<!-- walk"):text.index("<!-- /walk -->")]  # fmt: skip
    commands, recipe = [], ""
    for kind, body in re.findall(r"```(bash|yaml)\n(.*?)```", walk, flags=re.S):
        if kind == "yaml":
            recipe = body
            continue
        for line in body.replace("\\\n", " ").splitlines():
            command = line.split("  #")[0].strip()
            if command.startswith("jetgraph "):
                commands.append(command)
    return commands, recipe


def test_the_readme_walks_a_per_event_file_from_inspect_to_probe(qg_file, tmp_path, monkeypatch):
    commands, recipe = _walk()
    assert [c.split()[1] for c in commands] == ["inspect", "inspect", "pretrain", "embed", "probe"]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").symlink_to(README.parent / "configs")
    write_example(["nano.root", "--nanoaod-from", str(qg_file)])
    outputs = []
    for command in commands:
        words = shlex.split(command)[1:]
        target = None
        if ">" in words:
            words, target = words[: words.index(">")], words[words.index(">") + 1]
        result = CliRunner().invoke(app, [*words, *SHORTER.get(words[0], [])])
        assert result.exit_code == 0, f"{command}\n{result.output}"
        outputs.append(result.output)
        if target is not None:
            Path(target).write_text(result.output)
            Path(target).write_text(recipe)  # the user's edit of the template: the README's recipe
    assert "recipe     pfnano (format 'ntuple', detected)" in outputs[0]
    assert "jets: per_event" in outputs[1] and "JetPFCands_jetIdx" in outputs[1]
    assert "runs/nano: 2 steps" in outputs[2] and "200 jets" in outputs[3]
    assert "| linear |" in outputs[4] and "gluon" in outputs[4] + (tmp_path / "runs/nano/probe/qg.json").read_text()


@pytest.mark.parametrize("needle", ["jetgraph generate qg", "--nanoaod-from"])
def test_the_walk_says_how_to_make_its_file(needle):
    assert needle in README.read_text()
