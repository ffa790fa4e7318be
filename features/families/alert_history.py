"""How this rule and this service behaved before: firing rhythm, flapping, and how often they hurt users."""

from __future__ import annotations

import numpy as np

from features.catalogue import Feature
from features.context import AlertBatch, FeatureContext
from features.timeaxis import MINUTE_NS
from features.vocabulary import rule_keys

HOUR_MIN, DAY_MIN, WEEK_MIN = 60, 1440, 10080

FEATURES = (
    Feature(
        "rule_firings_1h",
        "earlier firings of the same rule on the same service",
        "1 h",
        "alert history",
    ),
    Feature(
        "rule_firings_24h",
        "earlier firings of the same rule on the same service",
        "24 h",
        "alert history",
    ),
    Feature(
        "rule_firings_7d",
        "earlier firings of the same rule on the same service",
        "7 d",
        "alert history",
    ),
    Feature(
        "service_firings_24h", "earlier firings of any rule on the service", "24 h", "alert history"
    ),
    Feature(
        "minutes_since_rule_fired",
        "minutes since the same rule last fired on the service (empty: not in 7 d)",
        "7 d",
        "alert history",
    ),
    Feature(
        "rule_flap_share_7d",
        "share of the rule's firings that resolved within the flap limit",
        "7 d",
        "alert history",
    ),
    Feature(
        "rule_impact_rate",
        "the rule's past impact rate on the service, from matured labels, smoothed to the overall rate",
        "all before",
        "labels",
    ),
    Feature(
        "rule_labels_matured",
        "how many of the rule's labels had matured (the rate's evidence)",
        "all before",
        "labels",
        grows_with_history=True,
    ),
    Feature(
        "service_impact_rate",
        "the service's past impact rate from matured labels, smoothed to the overall rate",
        "all before",
        "labels",
        grows_with_history=True,  # the smoothing weakens as matured labels pile up
    ),
)


def compute(batch: AlertBatch, context: FeatureContext) -> dict[str, np.ndarray]:
    history, t = context.alerts, batch.fired
    keys = rule_keys(batch.alerts)
    rule = history.rules.codes(keys)
    services = batch.alerts["service"].astype(str)
    service = history.services.codes(services)

    def firings(index, keys, minutes):
        return index.count_between(keys, t - minutes * MINUTE_NS, t).astype(np.float64)

    last, _ = history.by_rule.last_before(rule, t)
    since = np.where(
        (last >= 0) & (last >= t - WEEK_MIN * MINUTE_NS), (t - last) / MINUTE_NS, np.nan
    )
    flap_end = (
        t - context.config.flap_resolve_min * MINUTE_NS
    )  # a quicker resolution is surely known by t
    flap_start = t - WEEK_MIN * MINUTE_NS
    # the rule's firings in the last 1 h, 24 h and 7 d, and those settled by flap_end: one look-up
    windows = [(t - m * MINUTE_NS, t) for m in (HOUR_MIN, DAY_MIN, WEEK_MIN)]
    windows.append((flap_start, flap_end))
    counts = history.by_rule.count_between(
        np.tile(rule, len(windows)),
        np.concatenate([start for start, _ in windows]),
        np.concatenate([end for _, end in windows]),
    ).astype(np.float64)
    hour, day, week, settled = np.split(counts, len(windows))
    quick_by = history.by_rule.sum_before(
        "quick", np.tile(rule, 2), np.concatenate([flap_end, flap_start])
    )
    quick = quick_by[: len(t)] - quick_by[len(t) :]
    with np.errstate(invalid="ignore", divide="ignore"):
        flap_share = np.where(settled > 0, quick / settled, np.nan)
    rule_rate, rule_n = _impact_rate(context, "by_rule", context.labels.rules.codes(keys), t)
    service_rate, _ = _impact_rate(
        context, "by_service", context.labels.services.codes(services), t
    )
    return {
        "rule_firings_1h": hour,
        "rule_firings_24h": day,
        "rule_firings_7d": week,
        "service_firings_24h": firings(history.by_service, service, DAY_MIN),
        "minutes_since_rule_fired": since,
        "rule_flap_share_7d": flap_share,
        "rule_impact_rate": rule_rate,
        "rule_labels_matured": rule_n,
        "service_impact_rate": service_rate,
    }


def _impact_rate(
    context: FeatureContext, index_name: str, keys: np.ndarray, t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(positives + m × overall rate) / (labels + m), everything counted from labels matured before t."""
    labels = context.labels
    index = getattr(labels, index_name)
    n = index.sum_before("n", keys, t) if len(index) else np.zeros(len(t))
    positives = index.sum_before("positives", keys, t) if len(index) else np.zeros(len(t))
    zero = np.zeros(len(t), np.int64)
    all_n = labels.overall.sum_before("n", zero, t) if len(labels.overall) else np.zeros(len(t))
    all_positive = (
        labels.overall.sum_before("positives", zero, t) if len(labels.overall) else np.zeros(len(t))
    )
    m = context.config.impact_prior_strength
    with np.errstate(invalid="ignore", divide="ignore"):
        overall = np.where(all_n > 0, all_positive / all_n, np.nan)
        rate = np.where(n + m > 0, (positives + m * overall) / (n + m), np.nan)
    return rate, n
