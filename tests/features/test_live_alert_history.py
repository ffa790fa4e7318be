"""The online alert history, updated batch by batch, answers what index_alerts answers for the same alerts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.alert_index import LiveAlertHistory, index_alerts
from features.config import FeatureConfig
from features.event_index import EventIndex
from features.keyed_timeline import KeyedTimeline
from features.stages import StageIndex
from features.timeaxis import MINUTE_NS, to_ns

T0 = pd.Timestamp("2026-10-01", tz="UTC")


def random_alerts(
    rng: np.random.Generator, n: int, services: list[str], ids: list[str]
) -> pd.DataFrame:
    """n alerts on a few services and rules, often at the same instant, some resolved quickly."""
    fired = T0 + pd.to_timedelta(rng.integers(0, 600, n) * 15, unit="s")
    resolved = fired + pd.to_timedelta(rng.integers(1, 30, n), unit="min")
    return pd.DataFrame(
        {
            "alert_id": rng.choice(ids, n, replace=False),
            "fired_at": fired,
            "resolved_at": resolved.where(rng.random(n) < 0.6),
            "service": rng.choice(services, n),
            "alert_name": rng.choice(["HighLatency", "ErrorBurst", "Saturation"], n),
        }
    )


def lookups(history, alerts: pd.DataFrame) -> dict[str, np.ndarray]:
    """Every look-up the features make, for queries at and around these alerts' times."""
    t = np.concatenate([to_ns(alerts["fired_at"]) + d * MINUTE_NS for d in (-7, 0, 1, 13)])
    rule = np.tile(
        history.rules.codes((alerts["alert_name"] + "\x1f" + alerts["service"]).to_numpy(object)), 4
    )
    service = np.tile(history.services.codes(alerts["service"].to_numpy(object)), 4)
    stage = np.resize(np.arange(-1, 6), len(t))
    return {
        "rule_count": history.by_rule.count_between(rule, t - 60 * MINUTE_NS, t),
        "rule_last": history.by_rule.last_before(rule, t)[0],
        "rule_quick": history.by_rule.sum_before("quick", rule, t),
        "rule_quick_at": history.by_rule.sum_before("quick", rule, t, inclusive=True),
        "service_count": history.by_service.count_between(service, t - 30 * MINUTE_NS, t),
        "stage_count": history.by_stage.count_between(stage, t - 10 * MINUTE_NS, t),
        "every": history.every.count_between(np.zeros(len(t), np.int64), t - 10 * MINUTE_NS, t),
        "distinct": history.services_alerting(t),
    }


@pytest.fixture(scope="module")
def stages(sample_dir):
    from features.journey_map import load_journey_map

    return StageIndex.from_map(load_journey_map(sample_dir / "journey_map.yaml"))


def test_batches_arriving_out_of_order_and_re_sent_give_the_offline_index(stages):
    rng = np.random.default_rng(7)
    services = [*sorted(stages.links["service"].unique())[:5], "not-in-the-map"]
    ids = [f"a{i}" for i in range(400)]
    config = FeatureConfig()
    live = LiveAlertHistory(stages, config)
    held = pd.DataFrame()
    for _ in range(12):
        batch = random_alerts(rng, 40, services, ids)  # ids repeat across batches: replacements
        live.add(batch)
        held = pd.concat([held, batch]).drop_duplicates("alert_id", keep="last")
        offline = index_alerts(held.reset_index(drop=True), stages, config)
        queries = held.sample(30, random_state=int(rng.integers(1000)))
        ours, theirs = lookups(live, queries), lookups(offline, queries)
        for name in ours:
            np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    assert len(live) == len(held)


def test_a_timeline_counts_like_an_event_index_through_inserts_and_removals():
    rng = np.random.default_rng(3)
    timeline, events = KeyedTimeline(), []
    for _ in range(20):
        keys, times = rng.integers(0, 6, 30), rng.integers(0, 50, 30)  # many equal times
        timeline.insert(keys, times)
        events.extend(zip(keys.tolist(), times.tolist(), strict=True))
        drop = sorted(rng.choice(len(events), 10, replace=False), reverse=True)
        gone = [events.pop(i) for i in drop]
        timeline.remove(np.array([k for k, _ in gone]), np.array([t for _, t in gone]))
        k, t = np.array([k for k, _ in events]), np.array([t for _, t in events])
        index = EventIndex.build(k, t)
        qk, qt = rng.integers(-1, 8, 200), rng.integers(-5, 55, 200)
        np.testing.assert_array_equal(
            timeline.count_between(qk, qt - 7, qt), index.count_between(qk, qt - 7, qt)
        )
        np.testing.assert_array_equal(timeline.last_before(qk, qt)[0], index.last_before(qk, qt)[0])
    with pytest.raises(ValueError, match="does not hold"):
        timeline.remove(np.array([0]), np.array([999]))
