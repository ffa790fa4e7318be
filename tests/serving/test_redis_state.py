"""The Redis state store: SQLite's interface and answers, and replicas that share it rank alike."""

from __future__ import annotations

import uuid

import httpx
import pandas as pd
import pytest
import test_server as server_tests
from programs import require
from redis_server import redis_available, running_redis
from service_client import alert_json, outcome_json

from features.loading import load_data_dir
from features.online import Retention
from features.settings import Settings
from pipeline.serve import free_port, start_service, stop_service, wait_until_ready
from serving.redis_state import RedisStateStore
from serving.state import SqliteStateStore
from serving.stores import open_state_store


@pytest.fixture(scope="module", autouse=True)
def _redis_installed():
    require(redis_available(), "Debian's redis-server")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


def fresh_url(redis_url: str) -> str:
    """A store of its own on the shared server: keys under a prefix no other test uses."""
    return f"{redis_url}?prefix=test-{uuid.uuid4().hex[:8]}"


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path, redis_url):
    retention = Retention(outcomes_min=60, alerts_min=60, changes_min=60, labels_min=60)
    if request.param == "sqlite":
        return SqliteStateStore(tmp_path / "state.sqlite", retention)
    return RedisStateStore.from_url(fresh_url(redis_url), retention)


@pytest.fixture(scope="module")
def sample(sample_dir):
    return load_data_dir(sample_dir)


def test_rows_come_back_in_write_order_with_canonical_dtypes(store, sample):
    alerts = sample.alerts.head(30)
    assert store.is_empty() and store.last_rowids(("alerts",)) == {"alerts": 0}
    assert store.put("alerts", alerts) == 30
    rows, mark = store.rows_since("alerts", 0)
    assert mark == 30 and store.last_rowids(("alerts", "outcomes")) == {"alerts": 30, "outcomes": 0}
    pd.testing.assert_frame_equal(
        rows.drop(columns="labels"), alerts.drop(columns="labels").reset_index(drop=True),
        check_dtype=False,
    )  # fmt: skip
    assert rows["fired_at"].dtype == alerts["fired_at"].dtype
    assert store.rows_since("alerts", mark)[0].empty


def test_a_replaced_row_is_news_again_and_counted_once(store, sample):
    alerts = sample.alerts.head(5)
    store.put("alerts", alerts)
    store.put("alerts", alerts.iloc[[2]])
    rows, mark = store.rows_since("alerts", 5)
    assert rows["alert_id"].tolist() == [alerts["alert_id"].iloc[2]] and mark == 6
    assert store.count("alerts") == 5


def test_rows_a_caught_up_reader_puts_are_the_rows_it_would_read_back(store, sample):
    """put_seen hands a reader that holds every row so far the rows it wrote, exactly as
    rows_since reads them back; after another writer's rows, or with a key twice among them,
    nothing (the reader reads them back)."""
    alerts = sample.alerts.head(40).assign(
        anomaly_score=lambda a: a["anomaly_score"].where(a.index % 3 > 0),
        resolved_at=lambda a: a["resolved_at"].where(a.index % 4 > 0),
    )
    tables = {
        "alerts": alerts,
        "outcomes": sample.journey_outcomes.head(300).assign(
            errors=lambda o: o["errors"].astype("Int64").where(o.index % 5 > 0)
        ),
        "changes": sample.changes.head(12),
        "feedback": pd.DataFrame(
            {
                "alert_id": alerts["alert_id"].head(6),
                "impact": [1, 0, 1, 1, 0, 0],
                "ts": alerts["fired_at"].head(6),
                "author": ["ana", None, "bo", "bo", None, "cy"],
                "note": [None, "noise", None, "", "flap", "é"],
            }
        ),
        "labels": pd.DataFrame(
            {
                "alert_id": alerts["alert_id"].head(8),
                "matured_at": alerts["fired_at"].head(8),
                "label": [1.0, 0.0] * 4,
                "alert_name": alerts["alert_name"].head(8),
                "service": alerts["service"].head(8),
            }
        ),
    }
    for name, frame in tables.items():
        seen = 0
        for part in (frame.iloc[: len(frame) // 2], frame.iloc[len(frame) // 2 :]):
            stored, written = store.put_seen(name, part, seen)
            assert stored == len(part) and written is not None, name
            rows, mark = written
            read, read_mark = store.rows_since(name, seen)
            pd.testing.assert_frame_equal(rows, read)  # dtypes, missing values and all
            assert mark == read_mark
            seen = mark

    more = sample.alerts.iloc[100:110]
    stale = store.last_rowids(("alerts",))["alerts"]
    store.put("alerts", more.head(4))  # another worker writes first
    assert store.put_seen("alerts", more.tail(6), stale) == (6, None)
    assert store.rows_since("alerts", stale)[0]["alert_id"].tolist() == more["alert_id"].tolist()
    seen = store.last_rowids(("alerts",))["alerts"]
    twice = pd.concat([sample.alerts.iloc[[120]], sample.alerts.iloc[[120]]])
    assert store.put_seen("alerts", twice, seen) == (2, None)
    assert len(store.rows_since("alerts", seen)[0]) == 1


def test_resolve_closes_known_alerts_only(store, sample):
    alerts = sample.alerts.head(3).assign(resolved_at=pd.NaT)
    store.put("alerts", alerts)
    when = alerts["fired_at"] + pd.Timedelta(minutes=7)
    assert store.resolve([*alerts["alert_id"][:2], "nobody"], pd.concat([when[:2], when[:1]])) == 2
    rows, _ = store.rows_since("alerts", 3)
    assert rows["resolved_at"].tolist() == when[:2].tolist()


def test_outcomes_latest_label_totals_and_prune_answer_as_sqlite_does(store, sample):
    outcomes = sample.journey_outcomes.head(400)
    store.put("outcomes", outcomes)
    rows, _ = store.rows_since("outcomes", 0)
    pd.testing.assert_frame_equal(rows, outcomes.reset_index(drop=True), check_dtype=False)
    assert rows["errors"].dtype == "Int64" and rows["sessions"].dtype == "int64"
    store.put("alerts", sample.alerts.head(50))
    assert store.latest("alerts", "fired_at") == sample.alerts.head(50)["fired_at"].max().value
    totals = pd.DataFrame(
        {"alert_name": ["a", "a", "b"], "service": ["s", "s", "s"], "n": [2.0, 3.0, 1.0],
         "positives": [1.0, 1.0, 0.0]}
    )  # fmt: skip
    store.add_label_totals(totals)
    got = store.label_totals().sort_values("alert_name", ignore_index=True)
    assert got.to_dict("list") == {
        "alert_name": ["a", "b"], "service": ["s", "s"], "n": [5.0, 1.0], "positives": [2.0, 0.0]
    }  # fmt: skip
    latest = outcomes["window_start"].max()
    store.prune((latest + pd.Timedelta(minutes=30)).value)
    kept = outcomes[outcomes["window_start"] >= latest - pd.Timedelta(minutes=30)]
    assert store.count("outcomes") == len(kept) and store.integrity() == "ok"


def test_a_document_is_kept_replaced_and_absent_until_written(store):
    """The incident grouper's state is one named document: a head and parts by key, each write
    holding the head and only the parts that changed (serving/incident_book.py)."""
    assert store.document("incidents") is None
    store.put_document("incidents", '{"version": 1}', {"a": "1", "b": "2"})
    store.put_document("incidents", '{"version": 2, "text": "é"}', {"b": "20", "a": None, "c": "é"})
    assert store.document("incidents") == ('{"version": 2, "text": "é"}', {"b": "20", "c": "é"})
    store.put_document("incidents", "{}", {"d": "4"}, replace=True)
    assert store.document("incidents") == ("{}", {"d": "4"})
    store.put_document("incidents", "{}")
    assert store.document("incidents") == ("{}", {"d": "4"})
    assert store.document("other") is None


def test_the_factory_picks_the_store_by_url(tmp_path, redis_url):
    assert isinstance(open_state_store(Settings(home=tmp_path)), SqliteStateStore)
    chosen = open_state_store(Settings(home=tmp_path, state_url=fresh_url(redis_url)))
    assert isinstance(chosen, RedisStateStore)
    with pytest.raises(ValueError, match="JOURNEYRANK_STATE_URL"):
        open_state_store(Settings(home=tmp_path, state_url="postgres://x"))


@pytest.mark.integration
def test_ranking_over_http_equals_journeyrank_score_on_redis(
    served, sample_dir, service_env, tmp_path, monkeypatch, redis_url
):
    """The serving issue's parity test, the service's state in Redis."""
    monkeypatch.setenv("JOURNEYRANK_STATE_URL", fresh_url(redis_url))
    server_tests.test_ranking_over_http_equals_journeyrank_score(
        served, sample_dir, service_env, tmp_path, monkeypatch
    )


@pytest.mark.integration
def test_two_replicas_sharing_redis_rank_the_same_alerts_identically(
    served, sample_dir, tmp_path, monkeypatch, redis_url
):
    settings, _ = served
    url = fresh_url(redis_url)
    monkeypatch.setenv("JOURNEYRANK_STATE_URL", url)
    monkeypatch.delenv("JOURNEYRANK_API_TOKEN", raising=False)
    alerts = pd.read_parquet(sample_dir / "alerts.parquet")
    until = alerts["fired_at"].max().floor("h") - pd.Timedelta(hours=3)
    history = server_tests.cut_data_dir(sample_dir, until, tmp_path / "history")
    outcomes = load_data_dir(sample_dir).journey_outcomes
    later = outcomes[(outcomes["window_start"] >= until)]
    later = later[later["window_start"] < until + pd.Timedelta(minutes=30)]
    batches = [
        alerts[(alerts["fired_at"] >= until) & (alerts["fired_at"] < until + pd.Timedelta(minutes=m))]
        for m in (20, 40)
    ]  # fmt: skip
    replicas = []
    try:
        for warm in (history, None):  # the first warms the shared store; the second finds it full
            port = free_port()
            process = start_service(settings, port, warm_from=warm, quiet=True)
            replicas.append((f"http://127.0.0.1:{port}", process))
            wait_until_ready(replicas[-1][0], process)
        (a, _), (b, _) = replicas
        first = [_ranked(url, batches[0]) for url in (a, b)]
        # live outcomes reach one replica only; the other sees them through Redis
        response = httpx.post(
            f"{b}/journey-metrics", json={"rows": outcome_json(later)}, timeout=60
        )
        assert response.status_code == 200, response.text
        second = [_ranked(url, batches[1]) for url in (a, b)]
    finally:
        for _, process in replicas:
            stop_service(process)
    for answers in (first, second):
        pd.testing.assert_frame_equal(answers[0], answers[1])
    assert len(second[0]) == len(batches[1]) and not second[0]["priority"].isna().any()
    shared = RedisStateStore.from_url(url)  # the replicas kept their state there, not in SQLite
    assert shared.count("alerts") >= len(batches[1])
    assert shared.latest("outcomes", "window_start") == later["window_start"].max().value


def _ranked(url: str, alerts: pd.DataFrame) -> pd.DataFrame:
    response = httpx.post(f"{url}/rank", json={"alerts": alert_json(alerts)}, timeout=60)
    assert response.status_code == 200, response.text
    ranked = pd.DataFrame(response.json()["ranked"])
    return ranked[
        ["alert_id", "impact_probability", "priority", "tier", "reasons", "flags"]
    ].assign(reasons=lambda f: f["reasons"].map(str), flags=lambda f: f["flags"].map(str))
