"""Model behaviour: direction and invariance, all else equal (STYLE.md §6)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import FEATURE_NAMES
from features.settings import settings_at
from models.config import SplitConfig, TrainConfig
from models.priority import UnmappedStand, priority_score
from models.ranker_files import UNMAPPED_FILE, load_ranker, save_ranker
from models.ranking import META_INPUTS
from pipeline.simulate import SimulationConfig, simulate
from pipeline.train import train

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("behaviour")
    simulate(SimulationConfig(out=root / "data", days=12, seed=17))
    config = TrainConfig(split=SplitConfig(validation_days=2, test_days=3))
    result = train(root / "data", settings_at(root / "home"), config)
    rows = result.split.test
    mapped = rows[rows["mapped"] > 0]
    return result.ranker, mapped[list(dict.fromkeys([*META_INPUTS, *FEATURE_NAMES]))].reset_index(
        drop=True
    )


def priority_of(ranker, rows: pd.DataFrame) -> np.ndarray:
    return ranker.score(rows)["priority"].to_numpy()


@pytest.mark.parametrize("factor", [1.5, 3.0, 10.0])
def test_more_sessions_at_risk_never_lowers_priority(model, factor):
    ranker, rows = model
    more = rows.assign(
        sessions_at_risk_15m=rows["sessions_at_risk_15m"] * factor + 1,
        expected_sessions_30m=rows["expected_sessions_30m"] * factor + 1,
    )
    assert (priority_of(ranker, more) >= priority_of(ranker, rows) - 1e-12).all()


def test_a_hard_dependency_never_ranks_below_a_soft_one(model):
    ranker, rows = model
    hard = priority_of(ranker, rows.assign(hard_dependency=1.0))
    soft = priority_of(ranker, rows.assign(hard_dependency=0.0))
    assert (hard >= soft - 1e-12).all()


def test_renaming_alert_ids_changes_nothing(model):
    ranker, rows = model
    before = ranker.rank(rows)
    after = ranker.rank(rows.assign(alert_id="renamed-" + rows["alert_id"]))
    assert (after["alert_id"] == "renamed-" + before["alert_id"]).all()
    pd.testing.assert_frame_equal(before.drop(columns="alert_id"), after.drop(columns="alert_id"))


def test_reordering_the_input_changes_nothing(model):
    ranker, rows = model
    before = ranker.rank(rows).set_index("alert_id")
    after = (
        ranker.rank(rows.sample(frac=1.0, random_state=3)).set_index("alert_id").loc[before.index]
    )
    pd.testing.assert_frame_equal(before, after)


def test_an_unmapped_service_is_ranked_and_flagged(model):
    ranker, rows = model
    stranger = rows.head(3).assign(
        service="service-nobody-mapped",
        mapped=0.0,
        mapped_stages=0.0,
        stage_impact_max=np.nan,
        stage_value_max=np.nan,
    )
    answers = ranker.rank(stranger)
    assert len(answers) == 3 and answers["impact_probability"].between(0, 1).all()
    assert all("unmapped_service" in f for f in answers["flags"])
    assert answers["stage"].isna().all()


def test_an_unmapped_alert_stands_for_the_mapped_alerts_of_the_training_days(model):
    ranker, rows = model
    stand = ranker.unmapped
    assert stand.users_at_risk > 0 and 0 < stand.stage_impact <= 1
    stranger = rows.assign(stage_impact_max=np.nan, mapped=0.0)
    typical = rows.assign(
        stage_impact_max=stand.stage_impact,
        expected_sessions_30m=stand.users_at_risk,
        sessions_at_risk_15m=0.0,
    )
    probability = ranker.probabilities(stranger)
    expected = probability * np.log(2.0 + stand.users_at_risk) * stand.stage_impact
    assert np.allclose(ranker.score(stranger)["priority"], expected)
    assert np.allclose(
        priority_score(probability, typical, stand), ranker.score(stranger)["priority"]
    )


def test_the_unmapped_stand_travels_with_the_model_files(model, tmp_path):
    ranker, _ = model
    folder = save_ranker(ranker, tmp_path / "ranker")
    assert load_ranker(folder).unmapped == ranker.unmapped
    (folder / UNMAPPED_FILE).unlink()  # a model saved before the stand was fitted
    assert load_ranker(folder).unmapped == UnmappedStand()
