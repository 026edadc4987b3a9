"""What a generated sample is: Pythia settings, processes and labels, jet definition and cuts (YAML).

The built-in samples live in ``jetgraph/data_recipes/samples/`` (``qg``, ``top``, ``qcd``); a user
sample is any YAML file with the same keys::

    description: free text
    label_names: [gluon, quark]           # class names; a process's label is its index here
    pythia: ["Beams:eCM = 14000.", ...]   # settings shared by every process
    processes:                            # one Pythia instance each; jets are split evenly
      quark:                              # the name must be one of label_names
        pythia: ["WeakBosonAndParton:qg2gmZq = on"]
        hard_partons: [1, 2, 3]           # keep events whose outgoing hard partons have these |pid|
        match_top: null                   # or dR: keep jets holding a top and its three decay quarks
    jets: {algorithm: antikt, radius: 0.4, pt: [500., 550.], rapidity_max: 1.7}   # or eta_max
    exclude_pid: [12, 14, 16]             # |pid| left out of clustering (neutrinos)

One jet per event is kept: the hardest, if it passes the cuts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jetgraph.errors import RecipeError
from jetgraph.settings import from_mapping, read_named

ALGORITHMS = ("antikt", "kt", "cambridge")


@dataclass(frozen=True)
class Process:
    """One Pythia process of a sample and the event-level truth it must satisfy."""

    pythia: tuple[str, ...] = ()
    hard_partons: tuple[int, ...] = ()
    match_top: float | None = None


@dataclass(frozen=True)
class JetSelection:
    """The jet definition and the cuts on the hardest jet of each event (GeV, radians)."""

    pt: tuple[float, ...]
    algorithm: str = "antikt"
    radius: float = 0.4
    rapidity_max: float | None = None
    eta_max: float | None = None

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"jets.algorithm is {self.algorithm!r}; accepted: {list(ALGORITHMS)}")
        if len(self.pt) != 2 or not 0 <= self.pt[0] < self.pt[1]:
            raise ValueError(f"jets.pt is {list(self.pt)}; expected [min, max] with 0 <= min < max")
        if self.radius <= 0:
            raise ValueError(f"jets.radius is {self.radius}; expected > 0")


@dataclass(frozen=True)
class Sample:
    """A labelled sample to generate; see the module docstring for the YAML keys."""

    label_names: tuple[str, ...]
    processes: dict[str, Process]
    jets: JetSelection
    pythia: tuple[str, ...] = ()
    exclude_pid: tuple[int, ...] = (12, 14, 16)
    description: str = ""
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        if not self.processes:
            raise ValueError("processes is empty; expected at least one process")
        for process in self.processes:
            if process not in self.label_names:
                raise ValueError(f"process {process!r} is not one of label_names {list(self.label_names)}")

    def label(self, process: str) -> int:
        """The integer label of the jets of ``process`` (its index in ``label_names``)."""
        return self.label_names.index(process)


def load_sample(name_or_path: str | Path | Sample) -> Sample:
    """A built-in sample by name (``qg``, ``top``, ``qcd``) or a sample YAML file by path."""
    if isinstance(name_or_path, Sample):
        return name_or_path
    data, source = read_named(name_or_path, "samples", "sample", RecipeError)
    sample = from_mapping(Sample, {k: v for k, v in data.items() if k != "name"}, source, RecipeError)
    name = Path(str(name_or_path)).stem if str(name_or_path).endswith((".yaml", ".yml")) else str(name_or_path)
    return dataclasses.replace(sample, name=name)


def sample_dict(sample: Sample) -> dict[str, Any]:
    """The sample as plain data (for run manifests): every setting that changes the jets."""
    data = dataclasses.asdict(sample)
    del data["name"], data["description"]
    return data
