"""Requests that arrive together are ranked in shared passes, and answered as if one after the other."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager

import numpy as np
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


@contextmanager
def passes_recorded(engine: RankingEngine, pause_s: float):
    """Each pass the engine ranks meanwhile, as the first alert_id of each of its requests (in
    pass order); every pass made to last pause_s longer, so that requests gather meanwhile."""
    taken: list[list[str]] = []
    take, rank = engine._take_group, engine.ranker.rank

    def recorded():
        group = take()
        if group:
            taken.append([r.ids[0] for r in group])
        return group

    def slowly(*args, **kwargs):
        time.sleep(pause_s)
        return rank(*args, **kwargs)

    engine._take_group, engine.ranker.rank = recorded, slowly
    try:
        yield taken
    finally:
        engine._take_group, engine.ranker.rank = take, rank


def test_concurrent_requests_get_the_answers_of_one_after_the_other(
    ranker_dir, sample_dir, tmp_path
):
    requests = requests_like_a_live_feed(sample_dir)
    together = open_engine(tmp_path / "together", ranker_dir, sample_dir)
    answers: dict[str, list[dict]] = {}

    def send(batch):
        answers[batch[0].alert_id] = answers_of(together.rank(batch))

    with passes_recorded(together, pause_s=0.02) as taken:
        threads = [threading.Thread(target=send, args=(batch,)) for batch in requests]
        for thread in threads:
            thread.start()
            time.sleep(0.003)
        for thread in threads:
            thread.join()
    assert any(len(group) > 1 for group in taken), taken

    by_first = {batch[0].alert_id: batch for batch in requests}
    alone = open_engine(tmp_path / "alone", ranker_dir, sample_dir)
    for first in [first for group in taken for first in group]:
        assert answers[first] == answers_of(alone.rank(by_first[first])), first

    def logged(engine):
        frame = engine.log.export().drop(columns=["id", "logged_at"])
        return frame.sort_values("alert_id").reset_index(drop=True)

    pd.testing.assert_frame_equal(logged(together), logged(alone))


class WaitsRecorded(threading.Condition):
    """The engine's queue, counting the times a pass had to wait for requests to gather."""

    waits = 0

    def wait_for(self, predicate, timeout=None):
        self.waits += not predicate()
        return super().wait_for(predicate, timeout)


def pass_metric() -> tuple[float, float]:
    """journeyrank_pass_requests so far: the passes and the requests they ranked."""
    from prometheus_client import REGISTRY

    return tuple(
        REGISTRY.get_sample_value(f"journeyrank_pass_requests_{part}") or 0.0
        for part in ("count", "sum")
    )


class WokenLate(threading.Condition):
    """The engine's queue, where one thread, once woken, runs only late_s later (as a busy
    machine may schedule it), and then looks again at what it waited for."""

    def __init__(self, thread_name: str, late_s: float):
        super().__init__()
        self.thread_name, self.late_s = thread_name, late_s

    def wait_for(self, predicate, timeout=None):
        woken = super().wait_for(predicate, timeout)
        if threading.current_thread().name != self.thread_name or not self.late_s:
            return woken
        self.release()
        time.sleep(self.late_s)
        self.acquire()
        return super().wait_for(predicate, timeout)


def steady_senders(engine, requests, senders: int, late_s: float = 0.0) -> list[int]:
    """`senders` clients, each sending its next request when answered (round r holds requests
    r·senders … r·senders + senders - 1, so a round's requests fire before the next round's);
    the number of requests in each pass. The last sender's thread runs late_s late whenever it
    is woken."""
    rounds = len(requests) // senders
    engine._queue = WokenLate(f"sender-{senders - 1}", late_s)

    def send(first: int) -> None:
        for r in range(rounds):
            engine.rank(requests[r * senders + first])

    # a pass takes a while: the other senders' requests come meanwhile
    with passes_recorded(engine, pause_s=0.05) as taken:
        threads = [
            threading.Thread(target=send, args=(s,), name=f"sender-{s}") for s in range(senders)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    return [len(group) for group in taken]


@pytest.mark.parametrize("late_s", [0.0, 0.02], ids=["prompt", "one_sender_late"])
def test_a_pass_waits_for_the_requests_it_answered_so_steady_senders_share_every_pass(
    ranker_dir, sample_dir, tmp_path, late_s
):
    # in time order, none overlapping; batches 5 and 9 fire again alerts of 2 and 6 (each is the first
    # of its pass below, where an alert the state holds may come again)
    first, *requests = requests_like_a_live_feed(sample_dir)[:11]
    engine = open_engine(tmp_path / "steady", ranker_dir, sample_dir)
    engine.rank(first)  # the state's first pruning falls due now, not in the middle of a pass
    engine.gather_s = 30.0  # only a sender that never came back would make a pass wait this long
    engine._in_play = 2  # as after a pass that answered both senders
    before = pass_metric()
    sizes = steady_senders(engine, requests, senders=2, late_s=late_s)
    # every pass holds a request of each sender, even when one of them is slow to come back for
    # its turn: whoever runs the next pass does not keep it from its answer meanwhile
    assert sizes == [2] * 5, sizes
    # /metrics says so: journeyrank_pass_requests counts the passes and the requests in them
    assert np.subtract(pass_metric(), before).tolist() == [5, 10]


def test_a_lone_sender_never_waits_and_a_sender_that_went_away_is_waited_for_briefly(
    ranker_dir, sample_dir, tmp_path
):
    requests = requests_like_a_live_feed(sample_dir)[:5]
    engine = open_engine(tmp_path / "lone", ranker_dir, sample_dir)
    engine._queue = WaitsRecorded()
    for batch in requests[:3]:  # one after the other: each pass had one request in play
        engine.rank(batch)
    assert engine._queue.waits == 0

    engine.gather_s = 0.05
    engine._in_play = 2  # as after a pass that answered two senders, one of whom went away
    answered = engine.rank(requests[3])
    assert engine._queue.waits == 1  # waited for the other (briefly), then ranked it alone
    assert {r.alert_id for r in answered.ranked} == {a.alert_id for a in requests[3]}
    engine.rank(requests[4])  # and the next pass had one request in play: no wait again
    assert engine._queue.waits == 1


def test_a_backlog_that_fills_a_pass_is_ranked_without_waiting(
    ranker_dir, sample_dir, tmp_path, monkeypatch
):
    requests = requests_like_a_live_feed(sample_dir)[:1]
    engine = open_engine(tmp_path / "backlog", ranker_dir, sample_dir)
    engine._queue = WaitsRecorded()
    engine._in_play = 8  # the last pass had eight in play, and they have not come back yet
    monkeypatch.setattr("serving.engine.MAX_ALERTS_PER_PASS", len(requests[0]))
    engine.rank(requests[0])  # but what waits fills a pass already
    assert engine._queue.waits == 0
