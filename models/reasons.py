"""Reasons in words: each feature's contribution to an alert's score, said the way a responder would say it."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

MAX_REASONS = 3

Template = Callable[[float, dict], str | None]


def _pct(x: float) -> str:
    return f"{abs(x):.0%}"


def _drop(window: str) -> Template:
    def say(v: float, a: dict) -> str:
        if v > 0.005:
            return f"{a['stage']} completion {_pct(v)} below normal in the last {window}"
        return f"{a['stage']} completing normally in the last {window}"

    return say


def _abandon(window: str) -> Template:
    def say(v: float, a: dict) -> str:
        if v > 0.005:
            return (
                f"{a['stage']} abandonment {v * 100:.1f} points above normal in the last {window}"
            )
        return f"no extra abandonment at {a['stage']} in the last {window}"

    return say


TEMPLATES: dict[str, Template] = {
    "completion_drop_5m": _drop("5 min"),
    "completion_drop_15m": _drop("15 min"),
    "completion_drop_z_15m": lambda v, a: (
        f"{a['stage']} completions {v:.1f} SD below normal"
        if v > 0
        else f"{a['stage']} completions within normal range"
    ),
    "abandonment_excess_5m": _abandon("5 min"),
    "abandonment_excess_15m": _abandon("15 min"),
    "sessions_at_risk_15m": lambda v, a: f"{v:,.0f} sessions at {a['stage']} in the last 15 min",
    "expected_sessions_30m": lambda v, a: (
        f"{v:,.0f} sessions expected at {a['stage']} in the next 30 min"
    ),
    "error_rate_15m": lambda v, a: (
        f"{v:.1%} of {a['stage']} sessions saw errors in the last 15 min"
    ),
    "error_excess_15m": lambda v, a: (
        f"user-visible errors at {a['stage']} {v * 100:.1f} points above normal"
        if v > 0.001
        else f"no extra user-visible errors at {a['stage']}"
    ),
    "latency_deviation_15m": lambda v, a: (
        f"{a['stage']} p95 latency {math.exp(v):.1f}x normal"
        if v > 0.05
        else f"{a['stage']} latency normal"
    ),
    "new_user_share_15m": lambda v, a: f"{v:.0%} of the sessions at risk are new users",
    "segment_weight_15m": lambda v, a: f"high-value segments at risk (mean weight {v:.2f})",
    "live_windows_15m": lambda v, a: None if v > 0 else "no live journey data for its stages",
    "any_stage_drop_z_15m": lambda v, a: (
        f"some journey stage is completing {v:.1f} standard deviations below normal"
        if v >= 3
        else None
    ),
    "stages_degraded_15m": lambda v, a: (
        f"{v:.0f} journey stages completing well below normal" if v > 0 else None
    ),
    "rule_impact_rate": lambda v, a: f"this rule hurt users in {v:.0%} of its past firings",
    "service_impact_rate": lambda v, a: (
        f"alerts on {a['service']} hurt users in {v:.0%} of past cases"
    ),
    "rule_flap_share_7d": lambda v, a: (
        f"{v:.0%} of this rule's firings cleared within minutes this week"
    ),
    "rule_firings_24h": lambda v, a: f"fired {v:.0f} times in the last 24 h",
    "rule_firings_7d": lambda v, a: f"fired {v:.0f} times in the last 7 days",
    "rule_firings_1h": lambda v, a: f"fired {v:.0f} times in the last hour",
    "minutes_since_rule_fired": lambda v, a: f"last fired {v:,.0f} min ago",
    "stage_alerts_10m": lambda v, a: (
        f"{v:.0f} other alerts on services of {a['stage']} in the last 10 min" if v > 0 else None
    ),
    "dependency_alerts_10m": lambda v, a: (
        f"{v:.0f} alerts on its dependencies in the last 10 min" if v > 0 else None
    ),
    "caller_alerts_10m": lambda v, a: (
        f"{v:.0f} alerts on its callers in the last 10 min" if v > 0 else None
    ),
    "alerts_10m": lambda v, a: f"{v:.0f} alerts across the fleet in the last 10 min",
    "services_alerting_10m": lambda v, a: f"{v:.0f} services alerting in the last 10 min",
    "minutes_since_change": lambda v, a: (
        f"{a.get('change_kind') or 'change'} to it or a dependency {v:,.0f} min ago"
    ),
    "changes_1h": lambda v, a: (
        f"{v:.0f} changes to it or its dependencies in the last hour" if v > 0 else None
    ),
    "mapped": lambda v, a: None if v > 0 else f"{a['service']} is not in the journey map",
    "stage_impact_max": lambda v, a: (
        f"{a['stage']} is a high-impact stage ({v:.1f})"
        if v >= 0.8
        else f"touches only lower-impact stages ({v:.1f})"
    ),
    "stage_value_max": lambda v, a: f"a {a['stage']} completion is worth {v:g}",
    "hard_dependency": lambda v, a: (
        f"{a['stage']} cannot work without {a['service']}"
        if v > 0
        else f"{a['service']} is only a soft dependency"
    ),
    "anomaly_score": lambda v, a: f"anomaly detector confidence {v:.2f}",
    "severity_level": lambda v, a: f"severity {a.get('severity', '')}".strip(),
    "alert_name": lambda v, a: (
        f"{a.get('alert_name', 'this rule')} alerts tend to come with user impact"
    ),
}


def reasons_for(
    contributions: np.ndarray, features: pd.DataFrame, names: list[str], context: list[dict]
) -> list[list[str]]:
    """For each alert, the top contributions (positive first) that a template can put in words."""
    # the few strongest per alert are enough: most features have no words, or repeat another's
    candidates = np.argsort(-contributions, axis=1, kind="stable")[:, : 4 * MAX_REASONS]
    # only a feature with a template can be put in words; its column is taken when first needed
    # (a pass touches a few of them, and taking a column out of the frame is most of the cost)
    sayable = {name for name in names if name in TEMPLATES and name in features}
    values: dict[str, np.ndarray] = {}
    out = []
    for i, order in enumerate(candidates):
        said: list[str] = []
        for j in order:
            if len(said) >= MAX_REASONS or contributions[i, j] <= 0:
                break
            name = names[j]
            if name not in sayable:
                continue
            if name not in values:
                values[name] = features[name].to_numpy()
            text = _say(name, values[name][i], context[i])
            if text and text not in said:
                said.append(text)
        out.append(said or ["nothing points to user impact right now"])
    return out


def _say(name: str, value, context: dict) -> str | None:
    template = TEMPLATES.get(name)
    if template is None or value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        return (
            template(float(value), context)
            if not isinstance(value, str)
            else template(0.0, context)
        )
    except (TypeError, ValueError):
        return None
