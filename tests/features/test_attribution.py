"""Labels attributed to causes on tiny hand-made outcomes: a cause is credited, a coincidence is not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tiny import MAP, STEP, T0, alerts, outcomes

from features.attribution import alert_chains, attribute_impact, attributed_labels, causal_posterior
from features.baselines import fit_baselines
from features.config import AttributionConfig, LabelConfig
from features.journey_state import build_journey_state
from features.labels import derive_impact_labels
from features.loading import DataDir
from features.stages import StageIndex

STAGES = StageIndex.from_map(MAP)
DAY = 288  # five-minute windows a day
# three outages of the pay stage, on days and at hours that no whole-day move maps onto another
OUTAGES = (1 * DAY + 120, 4 * DAY + 180, 6 * DAY + 36)
OUTAGE_WINDOWS = 6


@pytest.fixture(scope="module")
def history():
    drops = {("pay", at + i): 0.2 for at in OUTAGES for i in range(OUTAGE_WINDOWS)}
    return outcomes(drops=drops)


def _cause_and_noise() -> pd.DataFrame:
    """PayDown fires at each outage's onset and clears when it ends; DbSlow, a rule on a service
    every stage calls, fires every 97 minutes all week long, once in the middle of an outage."""
    rows = [
        (f"cause-{i}", at * 5 + 2, "pay-svc", "PayDown", OUTAGE_WINDOWS * 5 + 3)
        for i, at in enumerate(OUTAGES)
    ]
    rows += [(f"noise-{k}", 7 + 97 * k, "db", "DbSlow", 20) for k in range(7 * 1440 // 97)]
    return alerts(*rows).sort_values("fired_at", ignore_index=True)


def _credit(frame, history, **config):
    baselines = fit_baselines(history, STAGES, int(STEP.value))
    return attribute_impact(
        frame, history, STAGES, MAP, baselines, int(STEP.value), AttributionConfig(**config)
    ).set_index("alert_id")


def _noise_inside_an_outage(frame: pd.DataFrame) -> str:
    starts = [T0 + at * STEP for at in OUTAGES]
    for row in frame[frame["alert_name"] == "DbSlow"].itertuples():
        if any(s <= row.fired_at < s + OUTAGE_WINDOWS * STEP for s in starts):
            return row.alert_id
    raise AssertionError("the fixture should put a DbSlow firing inside an outage")


def test_the_alert_that_explains_each_outage_is_credited(history):
    credit = _credit(_cause_and_noise(), history)
    causes = credit.loc[[f"cause-{i}" for i in range(len(OUTAGES))]]
    assert (causes["label"] == 1).all()
    assert (causes["impact_weight"] > 0).all()
    assert causes["attributed_to"].notna().all()


def test_a_rule_that_fires_all_week_gets_no_credit_for_landing_in_an_outage(history):
    frame = _cause_and_noise()
    inside = _noise_inside_an_outage(frame)
    credit = _credit(frame, history)
    assert credit.loc[inside, "label"] == 0
    assert credit.loc[frame.loc[frame["alert_name"] == "DbSlow", "alert_id"], "label"].sum() == 0
    # the window label, by contrast, credits it: its stages did lose completions right after it
    baselines = fit_baselines(history, STAGES, int(STEP.value))
    state = build_journey_state(history, STAGES, baselines, int(STEP.value))
    window = derive_impact_labels(frame, state, STAGES, MAP, LabelConfig()).set_index("alert_id")
    assert window.loc[inside, "label"] == 1


def test_re_firings_of_one_rule_on_one_service_form_one_chain():
    frame = alerts(
        ("a", 0, "pay-svc", "PayDown", 10),
        ("b", 15, "pay-svc", "PayDown", 10),  # 5 min after a cleared: the same condition
        ("c", 200, "pay-svc", "PayDown", 10),  # hours later: a new chain
        ("d", 16, "pay-svc", "OtherRule", 10),  # another rule: its own chain
    )
    chains = alert_chains(frame, AttributionConfig(chain_gap_min=15)).set_index(frame["alert_id"])
    assert chains.loc["a", "chain"] == chains.loc["b", "chain"]
    assert len({chains.loc[x, "chain"] for x in ("a", "c", "d")}) == 3
    assert chains.loc["a", "chain_end"] == chains.loc["b", "chain_end"]


def test_an_alert_without_a_resolution_is_active_for_the_open_hold():
    frame = alerts(("a", 0, "pay-svc"))
    chains = alert_chains(frame, AttributionConfig(open_hold_min=30))
    assert chains.loc[0, "chain_end"] - chains.loc[0, "chain_start"] == 30 * 60 * 10**9


def _data_dir(frame: pd.DataFrame, history: pd.DataFrame) -> DataDir:
    return DataDir(
        path=None,
        alerts=frame,
        journey_outcomes=history,
        journey_map=MAP,
        window=STEP,
        changes=None,
        feedback=None,
        truth=None,
        files={},
    )


def test_the_window_method_keeps_the_window_labels(history):
    frame = _cause_and_noise()
    baselines = fit_baselines(history, STAGES, int(STEP.value))
    state = build_journey_state(history, STAGES, baselines, int(STEP.value))
    window = derive_impact_labels(frame, state, STAGES, MAP, LabelConfig())
    kept = attributed_labels(
        window, _data_dir(frame, history), STAGES, baselines, AttributionConfig(method="window")
    )
    pd.testing.assert_frame_equal(kept, window)


def test_an_alert_whose_window_has_not_closed_stays_unlabelled(history):
    frame = pd.concat(
        [_cause_and_noise(), alerts(("late", 7 * 1440 - 5, "pay-svc", "PayDown"))],
        ignore_index=True,
    )
    baselines = fit_baselines(history, STAGES, int(STEP.value))
    state = build_journey_state(history, STAGES, baselines, int(STEP.value))
    window = derive_impact_labels(frame, state, STAGES, MAP, LabelConfig())
    target = attributed_labels(
        window, _data_dir(frame, history), STAGES, baselines, AttributionConfig()
    ).set_index("alert_id")
    assert pd.isna(target.loc["late", "label"])
    assert target.loc["cause-0", "label"] == 1


def _unmapped_cause_and_bystander() -> pd.DataFrame:
    """vault, a service the map leaves out, trips two rules at each outage's onset; log-shipper,
    on no user path, fires all week long — once inside an outage too."""
    rows = []
    for i, at in enumerate(OUTAGES):
        rows += [
            (f"vault-down-{i}", at * 5 + 1, "vault", "VaultDown", OUTAGE_WINDOWS * 5 + 3),
            (f"vault-errors-{i}", at * 5 + 3, "vault", "HighErrorRate", OUTAGE_WINDOWS * 5),
        ]
    rows += [
        (f"ship-{k}", 11 + 89 * k, "log-shipper", "ShipLag", 25) for k in range(7 * 1440 // 89)
    ]
    return alerts(*rows).sort_values("fired_at", ignore_index=True)


def test_an_unmapped_service_is_credited_where_its_alerts_precede_the_stage_beyond_chance(history):
    frame = _unmapped_cause_and_bystander()
    credit = _credit(frame, history)
    vault = frame.loc[frame["service"] == "vault", "alert_id"]
    shipper = frame.loc[frame["service"] == "log-shipper", "alert_id"]
    assert (credit.loc[vault, "label"] == 1).all()
    assert credit.loc[shipper, "label"].sum() == 0
    # without the map check's evidence, vault must clear the stricter bar against every stage
    loose = _credit(frame, history, unmapped_by_evidence=False, min_unmapped_posterior=0.0)
    assert (loose.loc[vault, "label"] == 1).all()


def _db_failure_with_callers() -> pd.DataFrame:
    """DbDown fires at each outage's onset on db, which pay-svc and cart-svc call; cart-svc (its
    stage unharmed) trips CartSlow with the first outage, and again long after its onset."""
    rows = [
        (f"db-{i}", at * 5 + 1, "db", "DbDown", OUTAGE_WINDOWS * 5 + 3)
        for i, at in enumerate(OUTAGES)
    ]
    first = OUTAGES[0] * 5
    rows += [
        ("cart-with-it", first + 4, "cart-svc", "CartSlow", 20),
        ("cart-later", first + 25, "cart-svc", "CartQueue", 8),
    ]
    return alerts(*rows).sort_values("fired_at", ignore_index=True)


def test_with_callers_a_caller_that_alerts_with_the_failure_shares_its_credit(history):
    frame = _db_failure_with_callers()
    credit = _credit(frame, history, share_credit="callers")
    assert (credit.loc[[f"db-{i}" for i in range(len(OUTAGES))], "label"] == 1).all()
    assert credit.loc["cart-with-it", "label"] == 1  # the failure travelled up to its caller
    assert credit.loc["cart-later", "label"] == 0  # began long after the onset: not the failure
    alone = _credit(frame, history)  # the default shares on the cause's own service only
    assert alone.loc["cart-with-it", "label"] == 0


def test_a_chain_that_meets_every_moved_copy_of_the_episodes_is_chance():
    """A condition active for days (one chain) meets the real episodes and every moved copy of
    them: chance is counted once per move, so its share beyond chance is nil. A chain met only by
    the real episodes is a likely cause. Timing and companions are the same for all, so the
    posterior is the rule-on-service view alone."""
    chains = pd.DataFrame(
        {"chain": [0, 1], "chain_start": [0, 0], "chain_end": [1, 1], "key": [0, 1], "rule": [0, 1]}
    )
    pair = {"linked": True, "timing": 3}
    candidates = pd.DataFrame(
        [{"alert": 0, "episode": 0, **pair}, {"alert": 1, "episode": 1, **pair}]
    )
    moved = [{"alert": 0, "episode": 0, "period": p, **pair} for p in range(4)]
    posterior = causal_posterior(
        chains, candidates, (pd.DataFrame(moved), 4.0), np.zeros(2, np.int64), AttributionConfig()
    )
    assert posterior[0] < 0.05
    assert posterior[1] > 0.5
