"""jetgraph.settings: every settings file goes through from_mapping, with errors that name the file or the --set."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from jetgraph.errors import JetGraphError
from jetgraph.settings import apply_overrides, from_mapping, read_named, read_yaml


class Oops(JetGraphError):
    pass


@dataclass
class Inner:
    width: float = 1.0
    names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.width <= 0:
            raise ValueError(f"width is {self.width}; expected > 0")


@dataclass
class Outer:
    files: list[str] = field(default_factory=list)
    inner: Inner = field(default_factory=Inner)
    seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    flag: bool = False


def test_types_follow_the_hints():
    got = from_mapping(
        Outer, {"files": "a.root", "inner": {"width": "1e-3", "names": ["x"]}, "seed": None}, "f.yaml", Oops
    )
    assert got == Outer(files=["a.root"], inner=Inner(width=1e-3, names=("x",)), seed=None)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"inner": {"widht": 2}}, r"^f.yaml: unknown key 'inner.widht'; did you mean 'width'\?$"),
        ({"seed": "one"}, r"^f.yaml: seed: 'one'; expected an integer$"),
        ({"flag": 1}, r"^f.yaml: flag: 1; expected true or false$"),
        ({"inner": {"names": "x"}}, r"^f.yaml: inner.names: 'x'; expected a list$"),
        ({"inner": {"width": -1}}, r"^f.yaml: inner: width is -1.0; expected > 0$"),
        ({"inner": [1]}, r"^f.yaml: inner: \[1\]; expected a mapping of Inner settings$"),
        ({"files": None}, r"^f.yaml: files: None; expected a value"),
    ],
)
def test_errors_name_the_file_and_the_dotted_key(data, message):
    with pytest.raises(Oops, match=message):
        from_mapping(Outer, data, "f.yaml", Oops)


def test_overrides_are_named_as_typed():
    values = {"inner": {"width": 2.0}}
    origins = apply_overrides(values, ["inner.width=wide", "seed=3"], Oops, depth=1)
    assert origins == {"inner.width": "inner.width=wide", "seed": "seed=3"}
    with pytest.raises(Oops, match=r"^--set inner.width=wide: 'wide'; expected a number$"):
        from_mapping(Outer, values, "f.yaml", Oops, origins)
    with pytest.raises(Oops, match=r"^--set 'seed': expected key=value"):
        apply_overrides({}, ["seed"], Oops)


def test_files_are_yaml_mappings_read_safely(tmp_path):
    (tmp_path / "code.yaml").write_text("!!python/object/apply:os.system ['touch PWNED']\n")
    with pytest.raises(Oops, match=r"code.yaml: not valid YAML"):
        read_yaml(tmp_path / "code.yaml", "config", Oops)
    assert not (tmp_path / "PWNED").exists()
    (tmp_path / "list.yaml").write_text("- 1\n")
    with pytest.raises(Oops, match=r"list.yaml: expected a mapping of config settings; got list"):
        read_yaml(tmp_path / "list.yaml", "config", Oops)
    with pytest.raises(Oops, match=r"sample 'qgg' is not a built-in sample or a .yaml file; did you mean 'qg'"):
        read_named("qgg", "samples", "sample", Oops)
    assert read_named("qg", "samples", "sample", Oops)[1] == "sample 'qg'"
