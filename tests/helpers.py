"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations


def inspect_json(*args: str) -> dict | list:
    """Run ``jetgraph inspect --json ARGS`` through typer's runner and parse what it prints."""
    import json

    from typer.testing import CliRunner

    from jetgraph.cli import app

    result = CliRunner().invoke(app, ["inspect", "--json", *map(str, args)])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)
