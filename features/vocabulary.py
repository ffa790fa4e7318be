"""String keys as integer codes: what a rule is, a fixed vocabulary (offline) and a growing one (online)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

RULE_SEPARATOR = "\x1f"
FEW_ALERTS = 1000  # up to this many alerts, per-alert Python beats pandas' per-call overhead


def rule_keys(alerts: pd.DataFrame) -> np.ndarray:
    """A rule is an alert name on a service: the unit that fires again and again."""
    if len(alerts) <= FEW_ALERTS:  # a request's alerts: plain Python beats pandas' per-call cost
        names, services = alerts["alert_name"].tolist(), alerts["service"].tolist()
        if all(isinstance(v, str) for v in (*names, *services)):
            keys = [n + RULE_SEPARATOR + s for n, s in zip(names, services, strict=True)]
            return np.array(keys, dtype=object)
    return (
        alerts["alert_name"].astype(str) + RULE_SEPARATOR + alerts["service"].astype(str)
    ).to_numpy(dtype=object)


class KeyCodes(Protocol):
    """What features ask of a vocabulary: the code of each key (-1 for a key never seen)."""

    def codes(self, values) -> np.ndarray: ...


@dataclass(frozen=True)
class Vocabulary:
    """String keys to integer codes; strings never seen get -1 and match nothing."""

    index: pd.Index

    @classmethod
    def of(cls, values) -> Vocabulary:
        return cls(pd.Index(pd.unique(np.asarray(values, dtype=object))))

    def codes(self, values) -> np.ndarray:
        # Each distinct value is looked up once, then spread: far fewer look-ups than rows.
        found, distinct = pd.factorize(as_factorizable(values), use_na_sentinel=False)
        return self.index.get_indexer(np.asarray(distinct, dtype=object)).astype(np.int64)[found]


class GrowingVocabulary:
    """String keys to integer codes, new keys appended as they come; a key never seen gets -1."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self.names: list[str] = []

    def add(self, values) -> np.ndarray:
        """Codes of values, giving new ones the next codes."""
        found, distinct = pd.factorize(as_factorizable(values), use_na_sentinel=False)
        codes = np.empty(len(distinct), np.int64)
        for i, value in enumerate(distinct):
            code = self._codes.get(value)
            if code is None:
                code = self._codes[value] = len(self.names)
                self.names.append(value)
            codes[i] = code
        return codes[found]

    def codes(self, values) -> np.ndarray:
        found, distinct = pd.factorize(as_factorizable(values), use_na_sentinel=False)
        known = np.array([self._codes.get(v, -1) for v in distinct], dtype=np.int64)
        return known[found]


def as_factorizable(values):
    return (
        values
        if isinstance(values, (pd.Series, pd.Index, np.ndarray))
        else np.asarray(values, dtype=object)
    )
