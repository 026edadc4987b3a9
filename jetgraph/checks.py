"""Parameter checks shared by encoders, augmentations and losses.

Each check returns the value normalised (``int``, ``float``, a tuple of ints) or raises its owner's
error class with one line: ``Smear: strength=-1; expected a number >= 0``. Booleans are never taken
for numbers, nor ``1`` or ``"yes"`` for booleans: in a config they are more likely a slip than a wish.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from jetgraph.errors import JetGraphError


class Checks:
    """The checks, raising ``error`` (``ModelError``, ``AugmentError``, ``LossError``...)."""

    def __init__(self, error: type[JetGraphError]) -> None:
        self.error = error

    def _fail(self, owner: str, name: str, value: Any, expected: str) -> JetGraphError:
        return self.error(f"{owner}: {name}={value!r}; expected {expected}")

    def integer(self, owner: str, name: str, value: Any, *, low: int = 0) -> int:
        """``value`` as an int ``>= low``."""
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise self._fail(owner, name, value, f"an integer >= {low}")
        return int(value)

    def number(
        self,
        owner: str,
        name: str,
        value: Any,
        *,
        low: float = -math.inf,
        high: float = math.inf,
        strict: bool = False,
        finite: bool = False,
        expected: str | None = None,
    ) -> float:
        """``value`` as a float ``>= low`` (``> low`` if ``strict``) and ``< high``; ``finite`` refuses infinities."""
        ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and not math.isnan(value)
        ok = ok and (value > low if strict else value >= low) and (value < high or high == math.inf)
        ok = ok and (math.isfinite(value) or not finite)
        if not ok:
            bound = f"> {low:g}" if strict else f">= {low:g}"
            upper = f" and < {high:g}" if high != math.inf else ""
            raise self._fail(owner, name, value, expected or f"a {'finite ' if finite else ''}number {bound}{upper}")
        return float(value)

    def probability(self, owner: str, name: str, value: Any) -> float:
        """``value`` as a float in [0, 1]."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
            raise self._fail(owner, name, value, "a probability between 0 and 1")
        return float(value)

    def boolean(self, owner: str, name: str, value: Any) -> bool:
        """``value`` if it is a bool."""
        if not isinstance(value, bool):
            raise self._fail(owner, name, value, "true or false")
        return value

    def choice(self, owner: str, name: str, value: Any, choices: Iterable[str]) -> str:
        """``value`` if it is one of ``choices``."""
        choices = tuple(choices)
        if value not in choices:
            raise self._fail(owner, name, value, f"one of {', '.join(map(repr, choices))}")
        return value

    def integers(self, owner: str, name: str, value: Any, *, low: int = 1) -> tuple[int, ...]:
        """``value`` (a non-empty list or tuple, as YAML gives it) as a tuple of ints ``>= low``."""
        if (
            isinstance(value, str | bytes)
            or not isinstance(value, Iterable)
            or not (items := list(value))
            or any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low for v in items)
        ):
            raise self._fail(owner, name, value, f"a non-empty list of integers >= {low}")
        return tuple(int(v) for v in items)


__all__ = ["Checks"]
