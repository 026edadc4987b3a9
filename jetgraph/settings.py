"""Settings files into typed dataclasses: the one way jetgraph reads pretraining configs, probe configs,
data recipes, samples and detectors.

A settings file is data, never code: it is read with ``yaml.safe_load``, ``--set key=value`` overrides
apply on top, and :func:`from_mapping` turns the mapping into a dataclass by its type hints. An unknown
key is an error that suggests the nearest one; a value of the wrong type names the file (or the
``--set`` that gave it) and the dotted key::

    configs/x.yaml: train.epochs: 'two'; expected an integer
    --set train.epoch=5: unknown key 'epoch'; did you mean 'epochs'?

Each caller passes its own error class (``ConfigError``, ``RecipeError``, ``ProbeError``), so that a
user sees which kind of file was wrong.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from jetgraph.errors import JetGraphError, suggest

T = TypeVar("T")
Overrides = Mapping[str, str]
"""``{dotted key: the user's 'key=value' text}`` of the keys that ``--set`` changed."""


def yaml_problem(err: yaml.YAMLError) -> str:
    """One line: what the YAML parser found wrong, and where."""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    mark = getattr(err, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def read_yaml(path: str | os.PathLike, what: str, error: type[JetGraphError]) -> dict[str, Any]:
    """The mapping in a YAML file (an empty file is an empty mapping).

    Raises:
        error: the file cannot be read, is not valid YAML, or does not hold a mapping.
    """
    try:
        text = Path(path).read_text()
    except OSError as err:
        raise error(f"{path}: cannot read the {what} ({err.strerror or err})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise error(f"{path}: not valid YAML ({yaml_problem(err)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping of {what} settings; got {type(data).__name__}")
    return data


def builtin_names(folder: str) -> list[str]:
    """Names of the built-in settings files in ``jetgraph/data_recipes/<folder>/``."""
    root = resources.files("jetgraph") / "data_recipes" / folder
    return sorted(entry.name.removesuffix(".yaml") for entry in root.iterdir() if entry.name.endswith(".yaml"))


def read_named(
    name_or_path: str | os.PathLike, folder: str, what: str, error: type[JetGraphError]
) -> tuple[dict[str, Any], str]:
    """A built-in settings file by name (``"qg"``, from ``data_recipes/<folder>/``), or a ``.yaml`` by path.

    Returns:
        ``(mapping, source)``, the source naming the file for messages.
    """
    text = str(name_or_path)
    if text.endswith((".yaml", ".yml")):
        if not Path(text).is_file():
            raise error(f"{text}: no such {what} file")
        return read_yaml(text, what, error), text
    names = builtin_names(folder)
    if text not in names:
        hint = suggest(text, names)
        raise error(f"{what} {text!r} is not a built-in {what} or a .yaml file{hint}; built-in: {names}")
    path = resources.files("jetgraph") / "data_recipes" / folder / f"{text}.yaml"
    return read_yaml(Path(str(path)), what, error), f"{what} '{text}'"


# ----------------------------------------------------------------------------------------- overrides


def parse_override(text: str, error: type[JetGraphError]) -> tuple[list[str], Any]:
    """``"train.epochs=5"`` -> ``(["train", "epochs"], 5)``; the value is read as YAML (``[a, b]``, ``null``)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise error(f"--set {text!r}: expected key=value, e.g. train.epochs=5")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as err:
        raise error(f"--set {text!r}: the value is not valid YAML ({yaml_problem(err)})") from None
    return key.strip().split("."), value


def apply_overrides(
    values: dict[str, Any], overrides: list[str], error: type[JetGraphError], depth: int = 2
) -> dict[str, str]:
    """Set each ``key=value`` of ``overrides`` in the nested ``values`` (sections and dict keys are created).

    Args:
        depth: the fewest parts a key has (2: ``section.key``).

    Returns:
        ``{dotted key: text}`` of what was set, for :func:`from_mapping`'s messages.
    """
    origins = {}
    for text in overrides:
        path, value = parse_override(text, error)
        if len(path) < depth:
            raise error(f"--set {text!r}: expected section.key=value")
        node = values
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise error(f"--set {text!r}: {part!r} holds {child!r}, not a section")
            node = child
        node[path[-1]] = value
        origins[".".join(path)] = text
    return origins


def origin(key: str, source: str, overrides: Overrides) -> str:
    """Who set the dotted ``key``: the ``--set`` that did (in the user's words), else ``source: key``."""
    for dotted, text in reversed(list(overrides.items())):
        if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
            return f"--set {text}"
    return f"{source}: {key}" if key else source


# ------------------------------------------------------------------------------------------ mapping


class _Context:
    """Where a mapping came from, and the error to raise."""

    def __init__(self, source: str, overrides: Overrides, error: type[JetGraphError]) -> None:
        self.source, self.overrides, self.error = source, overrides, error

    def fail(self, key: str, value: Any, expected: str) -> JetGraphError:
        return self.error(f"{origin(key, self.source, self.overrides)}: {value!r}; expected {expected}")


def _coerce(value: Any, kind: Any, key: str, context: _Context) -> Any:
    """``value`` as the annotated ``kind``: str, int, float, bool, list, tuple, dict, Optional, Any, dataclass."""
    origin_type, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if origin_type in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if value is None:
            raise context.fail(key, value, "a value (null is not allowed here)")
        return _coerce(value, inner[0], key, context)
    if value is None:
        raise context.fail(key, value, "a value (null is not allowed here)")
    if dataclasses.is_dataclass(kind):
        return _from_mapping(kind, value, key, context)
    if origin_type is list:
        items = value if isinstance(value, list | tuple) else [value]  # one path is a list of one
        return [_coerce(v, args[0] if args else Any, f"{key}[{i}]", context) for i, v in enumerate(items)]
    if origin_type is tuple:
        if not isinstance(value, list | tuple):
            raise context.fail(key, value, "a list")
        return tuple(_coerce(v, args[0], f"{key}[{i}]", context) for i, v in enumerate(value))
    if origin_type is dict:
        if not isinstance(value, dict):
            raise context.fail(key, value, "a mapping")
        return {str(k): _coerce(v, args[1] if args else Any, f"{key}.{k}", context) for k, v in value.items()}
    if kind is bool:
        if not isinstance(value, bool):
            raise context.fail(key, value, "true or false")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise context.fail(key, value, "an integer")
        return value
    if kind is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise context.fail(key, value, "a number")
        return float(value)
    if kind is str and not isinstance(value, str):
        raise context.fail(key, value, "a string")
    return value


def _from_mapping(cls: type[T], data: Any, where: str, context: _Context) -> T:
    if not isinstance(data, Mapping):
        raise context.fail(where, data, f"a mapping of {cls.__name__} settings")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    prefix = f"{where}." if where else ""
    values = {}
    for key in data:
        if key not in fields:
            at = origin(prefix + str(key), context.source, context.overrides)
            at = at if at.startswith("--set") else context.source
            hint = suggest(str(key), fields) or f"; expected one of {list(fields)}"
            raise context.error(f"{at}: unknown key {prefix + str(key)!r}{hint}")
    for name, field in fields.items():
        if name in data:
            values[name] = _coerce(data[name], hints[name], prefix + name, context)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise context.error(f"{origin(where, context.source, {})}: missing key {prefix + name!r}")
    try:
        return cls(**values)
    except ValueError as err:  # __post_init__ range checks
        raise context.error(f"{origin(where, context.source, context.overrides)}: {err}") from None


def from_mapping(
    cls: type[T],
    data: Any,
    source: str,
    error: type[JetGraphError],
    overrides: Overrides | None = None,
) -> T:
    """The dataclass ``cls`` (nested dataclasses included) from a mapping; missing keys take the defaults.

    Args:
        source: the file, for messages.
        error: the error class to raise.
        overrides: the keys ``--set`` changed (:func:`apply_overrides`), named instead of the file.

    Raises:
        error: an unknown key (with the nearest accepted one), a missing required key, a value of the
            wrong type, or a value that the class's ``__post_init__`` refuses.
    """
    return _from_mapping(cls, data, "", _Context(source, overrides or {}, error))


__all__ = [
    "apply_overrides",
    "builtin_names",
    "from_mapping",
    "origin",
    "parse_override",
    "read_named",
    "read_yaml",
    "yaml_problem",
]
