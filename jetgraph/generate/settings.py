"""YAML settings for generation (samples, detectors) read into frozen dataclasses, with clear errors.

A settings file is data, never code: it is read with ``yaml.safe_load`` and each mapping is turned
into a dataclass by :func:`from_mapping`, which refuses unknown keys (suggesting the nearest) and
values of the wrong kind, naming the file and the dotted key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml

from jetgraph.errors import RecipeError, suggest

T = TypeVar("T")


def builtin_names(folder: str) -> list[str]:
    """Names of the built-in settings files in ``jetgraph/data_recipes/<folder>/``."""
    root = resources.files("jetgraph") / "data_recipes" / folder
    return sorted(entry.name.removesuffix(".yaml") for entry in root.iterdir() if entry.name.endswith(".yaml"))


def load_yaml(name_or_path: str | Path, folder: str, what: str) -> tuple[dict[str, Any], str]:
    """Read a built-in settings file by name, or a ``.yaml`` file by path; returns (mapping, source).

    Args:
        name_or_path: ``"qg"`` (built-in, from ``data_recipes/<folder>/``) or a path to a YAML file.
        folder: the built-in folder (``samples``, ``detectors``).
        what: what the file describes, for error messages (``"sample"``, ``"detector"``).
    """
    text = str(name_or_path)
    if not text.endswith((".yaml", ".yml")):
        names = builtin_names(folder)
        if text not in names:
            raise RecipeError(
                f"{what} {text!r} is not a built-in {what} or a .yaml file{suggest(text, names)}; built-in: {names}"
            )
        path = resources.files("jetgraph") / "data_recipes" / folder / f"{text}.yaml"
        source = f"{what} '{text}'"
    else:
        path = Path(text)
        source = str(path)
        if not path.is_file():
            raise RecipeError(f"{source}: no such {what} file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise RecipeError(f"{source}: not valid YAML ({err})") from err
    if not isinstance(data, dict):
        raise RecipeError(f"{source}: expected a mapping of settings, got {type(data).__name__}")
    return data, source


def _coerce(value: Any, kind: Any, source: str, key: str) -> Any:
    """``value`` as the annotated ``kind`` (float, int, str, bool, tuple[...], Optional, nested dataclass)."""
    origin = typing.get_origin(kind)
    args = typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, source, key)
    if dataclasses.is_dataclass(kind):
        return from_mapping(kind, value, source, key)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise RecipeError(f"{source}: {key} is {value!r}; expected a list")
        item = args[0]
        return tuple(_coerce(v, item, source, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise RecipeError(f"{source}: {key} is {value!r}; expected a mapping")
        return {str(k): _coerce(v, args[1], source, f"{key}.{k}") for k, v in value.items()}
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RecipeError(f"{source}: {key} is {value!r}; expected a number")
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecipeError(f"{source}: {key} is {value!r}; expected an integer")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{source}: {key} is {value!r}; expected true or false")
        return value
    if kind is str:
        if not isinstance(value, str):
            raise RecipeError(f"{source}: {key} is {value!r}; expected a string")
        return value
    return value


def from_mapping(cls: type[T], data: Any, source: str, where: str = "") -> T:
    """Build the frozen dataclass ``cls`` from a YAML mapping; missing keys take the defaults.

    Raises:
        RecipeError: unknown key (with the nearest accepted one), missing required key, or a value
            of the wrong kind; the message names ``source`` and the dotted key.
    """
    prefix = f"{where}." if where else ""
    if not isinstance(data, Mapping):
        raise RecipeError(f"{source}: {where or 'the file'} is {data!r}; expected a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in fields:
            raise RecipeError(
                f"{source}: unknown key '{prefix}{key}'{suggest(str(key), fields)}; accepted: {list(fields)}"
            )
    values = {}
    for name, field in fields.items():
        if name in data:
            values[name] = _coerce(data[name], hints[name], source, prefix + name)
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise RecipeError(f"{source}: missing key '{prefix}{name}'")
    try:
        return cls(**values)
    except ValueError as err:  # __post_init__ range checks
        raise RecipeError(f"{source}: {where or 'settings'}: {err}") from err
