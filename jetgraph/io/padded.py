"""Zero-padded particle arrays (N jets x M slots) to jagged awkward arrays, without Python loops."""

from __future__ import annotations

import awkward as ak
import numpy as np


def unpad(values: np.ndarray, mask: np.ndarray) -> ak.Array:
    """Keep the slots where ``mask`` is true, as one variable-length list per jet.

    Shapes:
        values: (N, M) or (N, M, ...); mask: (N, M) bool. Returns N * var * (...).
    """
    counts = mask.sum(axis=1)
    return ak.unflatten(np.ascontiguousarray(values[mask]), counts)
