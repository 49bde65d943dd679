"""The demo corpus's translations: a small German weather grammar that turns any of its gloss sequences into a
sentence, so that the bundled demo trains and scores translation as well as recognition.

Like real sign language glosses and their translations, the text differs from the glosses in word order (a
region gloss follows its weather gloss, the sentence puts it first: REGEN NORD -> "im norden regnet es"), adds
function words (articles, "es", "und"), and inflects (NORD -> "norden", WOLKE -> "wolken ziehen auf"). Each
weather gloss opens a clause with the region glosses after it; region glosses before any weather gloss join the
first clause; clauses are joined with "und".
"""
from __future__ import annotations

from typing import Sequence

REGIONS = {"NORD": "im norden", "SUED": "im süden", "WEST": "im westen", "OST": "im osten"}
# weather gloss -> (the sentence without a fronted region, with the verb first after a fronted region)
WEATHER = {
    "SONNE": ("die sonne scheint", "scheint die sonne"),
    "REGEN": ("es regnet", "regnet es"),
    "WOLKE": ("wolken ziehen auf", "ziehen wolken auf"),
    "SCHNEE": ("es schneit", "schneit es"),
    "WIND": ("ein starker wind weht", "weht ein starker wind"),
    "GEWITTER": ("es gibt gewitter", "gibt es gewitter"),
    "NEBEL": ("nebel bildet sich", "bildet sich nebel"),
    "FROST": ("es gibt frost", "gibt es frost"),
}
TIMES = {"MORGEN": "morgen", "HEUTE": "heute", "NACHT": "in der nacht"}
STATES = {"KALT": ("es wird kalt", "wird es kalt"), "WARM": ("es wird warm", "wird es warm"),
          "GRAD": ("die temperaturen steigen", "steigen die temperaturen")}
NO_WEATHER = ("es bleibt ruhig", "bleibt es ruhig")


def _clause(head: str | None, adverbials: list[str]) -> str:
    plain, inverted = WEATHER.get(head) or STATES.get(head) or NO_WEATHER
    if not adverbials:
        return plain
    regions = [phrase for phrase in adverbials if phrase.startswith("im ")]
    others = [phrase for phrase in adverbials if not phrase.startswith("im ")]
    fronted = " und ".join(regions) if regions else " ".join(others)
    rest = " ".join(others) if regions else ""
    return " ".join(part for part in (fronted, inverted, rest) if part)


def synthetic_translation(glosses: Sequence[str]) -> str:
    """The sentence the demo corpus gives a gloss sequence (lower case, tokenised like PHOENIX-2014-T's)."""
    clauses: list[tuple[str | None, list[str]]] = []
    leading: list[str] = []
    for gloss in glosses:
        adverbial = REGIONS.get(gloss) or TIMES.get(gloss)
        if adverbial is None:
            clauses.append((gloss, leading))
            leading = []
        elif clauses and not leading:
            clauses[-1][1].append(adverbial)
        else:
            leading.append(adverbial)
    if leading:
        clauses.append((None, leading))
    return " und ".join(_clause(head, adverbials) for head, adverbials in clauses)
