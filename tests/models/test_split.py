"""The time split refuses, in words, a part that cannot do its job: no alerts of one kind."""

from __future__ import annotations

import pandas as pd
import pytest

from models.config import TrainConfig
from models.training import TimeSplit, fit_ranker, require_both_classes

VALIDATION_START = pd.Timestamp("2026-10-28", tz="UTC")
TEST_START = pd.Timestamp("2026-10-31", tz="UTC")


def alerts(*labels: int) -> pd.DataFrame:
    return pd.DataFrame({"label": list(labels), "impact_weight": [1.0] * len(labels)})


def split(train: pd.DataFrame, validation: pd.DataFrame, test: pd.DataFrame) -> TimeSplit:
    end = pd.Timestamp("2026-11-03 23:59", tz="UTC")
    return TimeSplit(train, validation, test, VALIDATION_START, TEST_START, end)


def test_a_split_with_both_kinds_everywhere_passes():
    require_both_classes(split(alerts(0, 1), alerts(1, 0), alerts(0, 0, 1)))


def test_validation_days_without_impact_are_named_with_their_counts():
    with pytest.raises(ValueError) as error:
        require_both_classes(split(alerts(0, 1), alerts(0, 0, 0), alerts(0, 1)))
    message = str(error.value)
    assert "validation days 2026-10-28 00:00 → 2026-10-31 00:00" in message
    assert "3 labelled alerts, none with user impact" in message
    assert "calibration" in message and "split.validation_days" in message
    assert "training days" not in message and "held-out" not in message


def test_held_out_days_where_every_alert_had_impact_are_refused():
    with pytest.raises(
        ValueError, match=r"held-out days .* none without user impact.*champion gate"
    ):
        require_both_classes(split(alerts(0, 1), alerts(0, 1), alerts(1, 1)))


def test_every_part_at_fault_is_named_at_once():
    with pytest.raises(ValueError) as error:
        require_both_classes(split(alerts(0), alerts(1, 0), alerts()))
    assert "training days before 2026-10-28" in str(error.value)
    assert "held-out days" in str(error.value) and "0 labelled alerts" in str(error.value)


def test_fit_ranker_refuses_before_fitting_and_never_reads_the_held_out_days():
    held_out_unread = alerts()  # empty: fitting must not need it
    with pytest.raises(ValueError, match="validation days"):
        fit_ranker(
            split(alerts(0, 1), alerts(0, 0), held_out_unread), None, None, None, TrainConfig()
        )
