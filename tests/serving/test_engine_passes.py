"""Requests that arrive together are ranked in shared passes, and answered as if one after the other."""

from __future__ import annotations

import threading
import time

import pandas as pd
import pytest
from service_client import alert_json

from features.settings import settings_at
from models.ranker_files import save_ranker
from serving.api_models import AlertIn, ModelInfo
from serving.engine import RankingEngine

MODEL = ModelInfo(name="journeyrank", version="1", uri="", journey_map_version="", page_share=0.1)


@pytest.fixture(scope="module")
def ranker_dir(served, tmp_path_factory):
    return save_ranker(served[1].ranker, tmp_path_factory.mktemp("ranker"))


def requests_like_a_live_feed(sample_dir) -> list[list[AlertIn]]:
    """24 requests: new alerts firing one after another, some re-sent, some overlapping in time."""
    alerts = pd.read_parquet(sample_dir / "alerts.parquet").tail(600).reset_index(drop=True)
    end = alerts["fired_at"].max().ceil("h")
    alerts["fired_at"] = end - pd.Timedelta(minutes=20) + pd.to_timedelta(alerts.index, unit="s")
    alerts["alert_id"] = [f"live-{i}" for i in range(len(alerts))]
    batches = [alerts.iloc[i : i + 25] for i in range(0, len(alerts), 25)]
    # re-sent: alerts ranked a little earlier fire again (and some of a request arrive again)
    for k in (5, 9, 14, 18, 21):
        refired = batches[k - 3].head(3).assign(fired_at=batches[k]["fired_at"].max())
        batches[k] = pd.concat([batches[k], refired])
    batches[12] = pd.concat([batches[12], batches[11].tail(3)])
    batches[15] = batches[15].assign(fired_at=batches[15]["fired_at"] - pd.Timedelta(minutes=5))
    return [[AlertIn.model_validate(a) for a in alert_json(b)] for b in batches]


def open_engine(home, ranker_dir, sample_dir) -> RankingEngine:
    return RankingEngine.open(settings_at(home), ranker_dir, MODEL, sample_dir)


def answers_of(response) -> list[dict]:
    return [r.model_dump() for r in response.ranked]


def test_concurrent_requests_get_the_answers_of_one_after_the_other(
    ranker_dir, sample_dir, tmp_path
):
    requests = requests_like_a_live_feed(sample_dir)
    together = open_engine(tmp_path / "together", ranker_dir, sample_dir)
    taken: list[list[str]] = []  # each pass: the first alert_id of each request, in pass order
    take, rank = together._take_group, together.ranker.rank

    def recorded():
        group = take()
        if group:
            taken.append([r.ids[0] for r in group])
        return group

    def slowly(*args, **kwargs):
        time.sleep(0.02)  # a pass takes a while: requests gather meanwhile
        return rank(*args, **kwargs)

    together._take_group, together.ranker.rank = recorded, slowly
    answers: dict[str, list[dict]] = {}

    def send(batch):
        answers[batch[0].alert_id] = answers_of(together.rank(batch))

    threads = [threading.Thread(target=send, args=(batch,)) for batch in requests]
    for thread in threads:
        thread.start()
        time.sleep(0.003)
    for thread in threads:
        thread.join()
    together.ranker.rank = rank
    assert any(len(group) > 1 for group in taken), taken

    by_first = {batch[0].alert_id: batch for batch in requests}
    alone = open_engine(tmp_path / "alone", ranker_dir, sample_dir)
    for first in [first for group in taken for first in group]:
        assert answers[first] == answers_of(alone.rank(by_first[first])), first

    def logged(engine):
        frame = engine.log.export().drop(columns=["id", "logged_at"])
        return frame.sort_values("alert_id").reset_index(drop=True)

    pd.testing.assert_frame_equal(logged(together), logged(alone))
