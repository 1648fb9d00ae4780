"""Age groups read from the attribute instrument, and from declared ages.

``attributes.age_groups`` names groups by the youngest age in each (years,
ascending from 0): ``{child: 0, teen: 13, adult: 18, older: 60}``. A face's
probability of a group is the instrument's probability mass on the age
classes inside it (:class:`facecast.models.attributes.Apparent`).

The group a face is *taken to be in* is the most probable one, except for the
``protect``-ed groups (children and teenagers by default): the youngest
protected group whose probability, together with that of the younger
protected groups, reaches ``protect_probability`` wins even when another
group is likelier (a face 7 % child and 7 % teenager is taken for a
teenager at 0.1). The instrument pulls young faces towards
20-40 (``benchmarks/attributes.py``), so a child is often measured an adult
with a minority of the probability left on childhood; reading that minority
as "may be a child" keeps a child from being given an adult's face at the
cost of some adults being treated as children (they are then obscured, not
miscast).

A *declared* age (donors.csv's ``age_range`` such as ``18-25`` or ``65+``, a
subject's age in years) counts as the group of its youngest age: a range
that reaches into childhood is a child's.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from facecast.models.attributes import AGE_YEARS
from facecast.params import AttributesParams

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:-\s*(\d+(?:\.\d+)?)|(\+))?\s*$")


def age_span(value: object) -> tuple[float, float] | None:
    """A declared age as years [low, high): ``3-9`` is [3, 9), ``65+`` [65, inf), a plain ``30`` [30, 30) (an age,
    holding no other); None when the value is empty or not an age. The one grammar of ages in donors.csv and
    subjects.csv."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    m = _AGE.match(str(value))
    if m is None:
        return None
    low = float(m.group(1))
    return low, (float(m.group(2)) if m.group(2) is not None else math.inf if m.group(3) else low)


@dataclass(frozen=True)
class AgeGroups:
    """Named age groups and the rule that puts a face in one."""

    lowest: Mapping[str, float]  # group -> youngest age in it, ascending, the first 0
    protect: Sequence[str] = ()
    protect_probability: float = 1.0

    @property
    def names(self) -> list[str]:
        return list(self.lowest)

    def of_age(self, years: float) -> str:
        """The group holding an age in years."""
        names = self.names
        return names[max(0, int(np.searchsorted([self.lowest[n] for n in names], years, side="right")) - 1)]

    def probabilities(self, age_probabilities: np.ndarray) -> dict[str, float]:
        """Each group's share of the instrument's age probabilities."""
        groups = np.array([self.names.index(self.of_age(a)) for a in AGE_YEARS])
        mass = np.bincount(groups, weights=np.asarray(age_probabilities, float), minlength=len(self.names))
        total = float(mass.sum()) or 1.0
        return {n: float(m / total) for n, m in zip(self.names, mass)}

    def decide(self, age_probabilities: np.ndarray) -> tuple[str, float]:
        """The group a face is taken to be in, and that group's probability (see the module docstring)."""
        p = self.probabilities(age_probabilities)
        younger = 0.0  # probability of this protected group or a younger one
        for name in self.names:  # youngest first
            if name not in self.protect:
                continue
            younger += p[name]
            if younger >= self.protect_probability:
                return name, younger
        best = max(self.names, key=lambda n: p[n])
        return best, p[best]

    def of_declared(self, value: object) -> str | None:
        """The group of a declared age (years, or a range ``a-b`` / ``a+``): that of its youngest age; None when
        the value is empty or not an age."""
        span = age_span(value)
        return None if span is None else self.of_age(span[0])


def from_params(params: AttributesParams) -> AgeGroups:
    """The age groups of params.yaml's ``attributes`` section."""
    return AgeGroups(dict(params.age_groups), tuple(params.protect), params.protect_probability)
