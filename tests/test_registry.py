"""jetgraph.registry and jetgraph.checks: names with suggestions, parameters checked, one-line errors."""

from __future__ import annotations

import math

import pytest

from jetgraph.checks import Checks
from jetgraph.errors import JetGraphError
from jetgraph.registry import Registry


class Oops(JetGraphError):
    pass


check = Checks(Oops)


class Widget:
    def __init__(self, size: int, *, depth: float = 1.0, mode: str = "a") -> None:
        self.size = check.integer("Widget", "size", size, low=1)
        self.depth = check.number("Widget", "depth", depth, low=0.0, strict=True, finite=True)
        self.mode = check.choice("Widget", "mode", mode, ("a", "b"))


WIDGETS = Registry("widget", Oops, {"widget": Widget, "module": "jetgraph.version"}, positional=("size",))


def test_lookup_build_and_parameters():
    assert "widget" in WIDGETS and list(WIDGETS) == ["widget", "module"] and len(WIDGETS) == 2
    assert WIDGETS.parameters("widget") == ["depth", "mode"]
    assert WIDGETS.build("widget", 3, depth=2.0).depth == 2.0
    assert WIDGETS["module"].__version__  # a module path is imported when asked for


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: WIDGETS["widgte"],
            r"^unknown widget 'widgte'; did you mean 'widget'\? \(known: 'widget', 'module'\)$",
        ),
        (lambda: WIDGETS["zzz"], r"^unknown widget 'zzz'; expected one of 'widget', 'module'$"),
        (
            lambda: WIDGETS.build("widget", 3, dept=1),
            r"^widget 'widget': unknown parameter 'dept'; did you mean 'depth'",
        ),
        (lambda: WIDGETS.build("widget", 3, colour=1), r"unknown parameter 'colour'; it takes 'depth', 'mode'$"),
        (lambda: WIDGETS.build("widget", 0), r"^Widget: size=0; expected an integer >= 1$"),
        (lambda: WIDGETS.build("widget", 3, depth=math.inf), r"^Widget: depth=inf; expected a finite number > 0$"),
        (lambda: WIDGETS.build("widget", 3, depth=True), r"^Widget: depth=True; expected a finite number > 0$"),
        (lambda: WIDGETS.build("widget", 3, mode="c"), r"^Widget: mode='c'; expected one of 'a', 'b'$"),
    ],
)
def test_errors_are_one_line_of_the_registry_kind(call, message):
    with pytest.raises(Oops, match=message):
        call()


def test_the_other_checks():
    assert check.probability("W", "p", 1) == 1.0 and check.integers("W", "n", [1, 2]) == (1, 2)
    assert check.boolean("W", "b", False) is False
    for call in (lambda: check.probability("W", "p", 1.5), lambda: check.integers("W", "n", []),
                 lambda: check.boolean("W", "b", "yes"), lambda: check.number("W", "x", 1.0, high=1.0)):  # fmt: skip
        with pytest.raises(Oops):
            call()
