"""Tiers P1–P4 and their routes: thresholds on the priority score, tuned on validation to a page budget."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal, get_args

import numpy as np

from models.config import PageBudget

Tier = Literal["P1", "P2", "P3", "P4"]
TIERS: tuple[Tier, ...] = get_args(Tier)
PAGED_TIERS = TIERS[:2]  # P1 + P2 are pages
ROUTES = dict(zip(TIERS, ("incident_room", "page", "ticket", "digest"), strict=True))


@dataclass(frozen=True)
class TierThresholds:
    """priority ≥ p1 → P1, ≥ p2 → P2 (P1 + P2 are pages), ≥ p3 → P3, else P4."""

    p1: float
    p2: float
    p3: float
    page_share: float  # the share of validation alerts paged at these thresholds
    pages_per_day: float

    def tier(self, priority: np.ndarray) -> np.ndarray:
        priority = np.asarray(priority, dtype=np.float64)
        return np.select(
            [priority >= self.p1, priority >= self.p2, priority >= self.p3],
            list(TIERS[:-1]),
            TIERS[-1],
        )

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def fit_thresholds(priority: np.ndarray, days: float, budget: PageBudget) -> TierThresholds:
    """Pick thresholds so that validation pages stay within the budget (share of alerts or pages a day)."""
    priority = np.sort(np.asarray(priority, dtype=np.float64))[::-1]
    n = len(priority)
    pages = max(1, int(np.floor(page_share(budget, days, n) * n)))
    p2 = _threshold_for_top(priority, pages)
    p1 = _threshold_for_top(priority, max(1, int(np.floor(budget.incident_room_share * pages))))
    p3 = _threshold_for_top(priority, min(n, pages + int(np.floor(budget.ticket_share * n))))
    paged = float((priority >= p2).sum())
    return TierThresholds(
        p1=p1, p2=p2, p3=p3, page_share=paged / max(n, 1), pages_per_day=paged / max(days, 1e-9)
    )


def page_share(budget: PageBudget, days: float, alerts: int) -> float:
    """The page budget as a share of alerts (a pages-a-day budget converts at this period's rate)."""
    share = budget.share if budget.share is not None else 1.0
    if budget.per_day is not None:
        share = min(share, budget.per_day * days / max(alerts, 1))
    return share


def _threshold_for_top(descending: np.ndarray, k: int) -> float:
    """The lowest threshold that admits at most the top k (ties above the cut are left out, never in)."""
    if k >= len(descending):
        return float(descending[-1]) if len(descending) else 0.0
    cut = descending[k]  # the first score that must stay below the threshold
    above = descending[:k]
    bigger = above[above > cut]
    return float(np.nextafter(cut, np.inf)) if len(bigger) == 0 else float(bigger.min())
