"""What the service does per request, kept out of the BentoML class: rank, ingest, log, measure."""

from __future__ import annotations

import ctypes
import gc
import itertools
import json
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from pydantic import TypeAdapter

from features.clock import Clock
from features.families.incident import with_incidents
from features.journey_map import JourneyMap, load_journey_map
from features.schemas import TIMESTAMP_DTYPE
from features.settings import Settings
from features.timeaxis import MINUTE_NS, from_ns, instants_ns, to_ns
from models.fallback import FALLBACK, SHADOW, rule_answers
from models.incidents import rank_by_incident
from models.inference_log import InferenceLog
from models.policy import NO_POLICY, Policy, apply_floors, load_policy
from models.ranker_files import load_ranker
from models.ranking import Ranker, flag_list, ranker_rows
from serving import telemetry
from serving.api_models import (
    AlertIn,
    ChangeIn,
    FeedbackIn,
    ModelInfo,
    OutcomeRow,
    RankedAlert,
    RankResponse,
)
from serving.incident_book import IncidentBook
from serving.live import LiveState
from serving.stores import StateStore, open_state_store
from serving.warm import warm_start

MAX_ALERTS_PER_REQUEST = 1000
MAX_ALERTS_PER_PASS = 1000  # waiting requests ranked in one pass: at most this many alerts
GATHER_S = 0.05  # how long a pass may wait for the requests the last one answered to come back
M_ARENA_MAX, MALLOC_ARENAS = -8, 2  # glibc's mallopt parameter, and the arenas a worker keeps
PRUNE_EVERY_NS = 5 * 60 * 10**9
REOPEN_STATE_EVERY_S = 10.0  # a state store that could not be opened is tried again so often
# What fail-open answers for (the rule's answer, flagged `fallback`); anything else is a real error
MODEL, STATE_STORE, FEATURES = "model", "state_store", "features"


class TooManyAlerts(ValueError):
    pass


class FromTheFuture(ValueError):
    """A row dated further ahead of the server clock than the tolerance (features/clock.py): a 422."""


# The times of each route's rows that the clock rule checks
TIME_FIELDS = {
    "alerts": ("fired_at", "resolved_at"),
    "outcomes": ("window_start",),
    "changes": ("ts",),
    "feedback": ("ts",),
}
ROW_IDS = {"alerts": "alert_id", "changes": "change_id", "feedback": "alert_id"}


class StateUnavailable(RuntimeError):
    """The state store cannot take rows now (a 503 for the feeds; /rank answers fail-open)."""


@dataclass
class Degraded:
    """Why the service answers without the model or its state, by cause; empty when healthy.

    A cause found at start (the model) stays; one found by a request clears on the next request
    that the model and the state answer."""

    causes: dict[str, str] = field(default_factory=dict)

    def note(self, cause: str, err: BaseException) -> None:
        self.causes[cause] = f"{type(err).__name__}: {err}"[:300]

    def clear(self, *causes: str) -> None:
        for cause in causes:
            self.causes.pop(cause, None)


@dataclass
class RankingEngine:
    ranker: Ranker | None  # None: the model could not load (every answer is the rule's)
    model: ModelInfo
    store: StateStore | None  # SQLite in home, or Redis shared by replicas (JOURNEYRANK_STATE_URL)
    log: InferenceLog
    live: LiveState | None
    max_alerts: int = MAX_ALERTS_PER_REQUEST
    clock: Clock = field(default_factory=Clock.from_settings)
    policy: Policy = NO_POLICY
    shadow: bool = False  # answer (and forward) the original routing; log the model's answer
    journey_map: JourneyMap | None = None  # the model's map, for the rule when the model is out
    degraded: Degraded = field(default_factory=Degraded)
    settings: Settings | None = None
    incidents: IncidentBook | None = None  # the grouper, fed under _state in the order of passes
    _reopen_at: float = 0.0
    _pruned_at: int = 0
    # A worker serves requests on several threads. The store's connection and the live mirror
    # are one caller's at a time (_state), and so is the log's connection (_logging); ranking
    # passes run one at a time (_passing, set under _queue), and waiting requests queue up in
    # _waiting.
    _state: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _logging: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _passing: bool = False
    _queue: threading.Condition = field(default_factory=threading.Condition, repr=False)
    _waiting: deque[_Request] = field(default_factory=deque, repr=False)
    gather_s: float = GATHER_S
    _in_play: int = 0  # requests the last pass answered, and those that came while it ran

    @classmethod
    def open(
        cls,
        settings: Settings,
        ranker_dir: Path,
        model: ModelInfo,
        warm_from: Path | None = None,
        warm_until: pd.Timestamp | None = None,
    ) -> RankingEngine:
        policy = load_policy(settings.policy)  # a bad policy file stops the start, with its message
        degraded = Degraded()
        try:
            ranker = load_ranker(ranker_dir).warm()
        except Exception as err:  # fail-open: the rule answers until a model that loads is served
            ranker = None
            degraded.note(MODEL, err)
        engine = cls(
            ranker,
            model,
            None,
            InferenceLog.in_home(settings.home),
            None,
            policy=policy,
            shadow=settings.shadow or policy.shadow,
            journey_map=ranker.journey_map if ranker else _map_beside(ranker_dir),
            degraded=degraded,
            settings=settings,
        )
        engine._open_state(warm_from, warm_until)
        # The warm state is long-lived: keep the collector from walking it again and again (each
        # full collection would pause a request for as long as it takes to visit it all).
        gc.collect()
        gc.freeze()
        _give_back_free_memory()
        return engine

    @property
    def ready(self) -> bool:
        """Ready to answer: always, fail-open (degraded_causes says when the answers are the rule's)."""
        return True

    def degraded_causes(self) -> dict[str, str]:
        return dict(self.degraded.causes)

    def _open_state(self, warm_from: Path | None = None, warm_until=None) -> None:
        """Open the state store and its live mirror; on failure note it (tried again later)."""
        self._reopen_at = time.monotonic() + REOPEN_STATE_EVERY_S
        if self.ranker is None or self.settings is None:
            return
        try:
            store = open_state_store(self.settings)
            if warm_from is not None and store.is_empty():
                warm_start(store, self.ranker, warm_from, warm_until)
            live = LiveState(store, self.ranker)
            live.sync()
            incidents = IncidentBook.opened(
                self.ranker.journey_map, self.ranker.spec.config.incidents, store, live
            )
            incidents.recall_priorities(self.log)
        except Exception as err:
            self.degraded.note(STATE_STORE, err)
            return
        self.store, self.live, self.incidents = store, live, incidents
        self.degraded.clear(STATE_STORE)

    @contextmanager
    def reading(self):
        """Hold the live state still while reading it (passes and ingests wait meanwhile)."""
        with self._state:
            yield

    # ------------------------------------------------------------------ routes

    def rank(self, alerts: list[AlertIn]) -> RankResponse:
        """Store the alerts, compute features from live state, rank, log durably, then answer.

        Requests that arrive while others are being ranked wait their turn; whoever's turn it is
        ranks every waiting request that it can rank in the same pass with the same answers as
        one after the other (see _take_group): one pass over 800 alerts costs far less than eight
        over 100, and no request is answered differently for it. A pass first waits briefly for
        the requests the last one answered, which steady senders send again at once (_gather).
        """
        if len(alerts) > self.max_alerts:
            raise TooManyAlerts(
                f"{len(alerts)} alerts in one request; at most {self.max_alerts} (split the batch)"
            )
        times = refuse_future(alerts, "alerts", self.clock)
        started = time.perf_counter()
        frame = alerts_frame(alerts, times)
        if frame.empty:
            return RankResponse(ranked=[], model=self.model)
        if self.live is None and self.ranker is not None and time.monotonic() >= self._reopen_at:
            with self._state:
                if self.live is None:
                    self._open_state()
        if self.ranker is None or self.live is None:
            cause = MODEL if self.ranker is None else STATE_STORE
            return self._fail_open(frame, cause, started)
        request = _Request(frame)
        with self._queue:
            self._waiting.append(request)
            self._queue.notify_all()
        while self._turn_or_taken(request):
            self._rank_waiting()
        request.done.wait()
        if request.error is not None:
            if request.cause is None:
                raise request.error
            self.degraded.note(request.cause, request.error)
            return self._fail_open(frame, request.cause, started)
        self.degraded.clear(STATE_STORE, FEATURES)
        answers = request.answers
        if self.shadow:  # the model's answer is logged; the caller gets the original routing
            answers = rule_answers(frame, self.journey_map, SHADOW, self.model.version)
            answers, _ = rank_by_incident(answers, frame, request.incident_of)
        telemetry.record_ranked(answers, time.perf_counter() - started, request.lag)
        return RankResponse(ranked=_answers(answers), model=self.model)

    def _fail_open(self, frame: pd.DataFrame, cause: str, started: float) -> RankResponse:
        """The criticality rule's answer (floors applied), logged like any other, flagged fallback."""
        answers = rule_answers(frame, self.journey_map, FALLBACK, self.model.version, cause)
        answers, _ = rank_by_incident(answers, frame, self._incidents_of(frame))
        if not self.shadow:
            answers = self._floored(answers, frame)
        with self._logging:
            self.log.write(answers, frame[["alert_id"]], frame)
        telemetry.record_fallback(cause, len(answers))
        telemetry.record_ranked(answers, time.perf_counter() - started, None)
        return RankResponse(ranked=_answers(answers), model=self.model)

    def _incidents_of(self, frame: pd.DataFrame) -> dict[str, str]:
        """Each alert's incident for a fail-open answer: the grouper's when it can be reached, else
        an incident of its own (pages stay one per incident either way)."""
        if self.incidents is not None and self._state.acquire(timeout=1.0):
            try:
                ids = self.incidents.assign(frame)
                return dict(zip(frame["alert_id"].tolist(), ids, strict=True))
            except Exception:
                pass  # the singletons below
            finally:
                self._state.release()
        return {a: f"inc-{a}" for a in frame["alert_id"].tolist()}

    def _floored(self, answers: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
        escalation = self.journey_map.escalation_for if self.journey_map else (lambda tier: None)
        return apply_floors(answers, frame, self.policy, escalation)

    def _turn_or_taken(self, mine: _Request) -> bool:
        """Wait until no pass runs, or until one has taken `mine`: True when the next pass is ours.

        A caller whose request a pass took stops waiting for a turn at once. Its sender's next
        request is what the next pass gathers for (_gather): were it to wait for that pass to
        end, the pass would wait out gather_s for it, and rank the rest without it.
        """
        with self._queue:
            self._queue.wait_for(lambda: mine.taken or not self._passing)
            if mine.taken:
                return False
            self._passing = True
            return True

    def _rank_waiting(self) -> None:
        """Rank the longest run of waiting requests that can share one pass with the oldest.

        One pass at a time (the caller has the turn: _turn_or_taken): requests that come
        meanwhile gather for the next one (the larger a pass, the less each request pays for
        it). Only its durable log write overlaps the next pass.
        """
        try:
            ranked = self._pass()
        finally:
            with self._queue:
                self._passing = False
                self._queue.notify_all()
        if ranked is None:
            return
        try:
            self.log.write(_together(ranked.parts), ranked.features, ranked.frame)
        except BaseException as err:
            _fail(ranked.group, err)
            return
        finally:
            self._logging.release()
        for request, part in zip(ranked.group, ranked.parts, strict=True):
            request.answers, request.lag, request.incident_of = part, ranked.lag, ranked.incident_of
            request.done.set()

    def _pass(self) -> _Ranked | None:
        """One pass: its group of requests ranked, with what the log write needs, and the log's
        lock taken (so logs keep the passes' order); None when there was nothing to rank, or
        when the group was failed (each request holds its error)."""
        self._gather()
        with self._state:
            group = self._take_group()
            if not group:
                return None
            telemetry.record_pass(len(group))
            frame = _together([r.frame for r in group])
            try:
                self.live.put("alerts", frame)
                grouped = self._assign_incidents(frame)
                incident_of = grouped["incident_id"].to_dict()
            except Exception as err:
                _fail(group, err, STATE_STORE)
                return None
            try:
                features = self.live.features_for(with_incidents(frame, grouped))
            except Exception as err:
                _fail(group, err, FEATURES)
                return None
            try:
                self._housekeeping()
                lag = self.state_lag_seconds()
            except Exception as err:
                _fail(group, err, STATE_STORE)
                return None
        try:
            answers = self.ranker.rank(
                ranker_rows(frame, features), self.model.version, plain_text=True
            )
        except Exception as err:
            _fail(group, err, MODEL)
            return None
        try:
            answers, best = rank_by_incident(answers, frame, incident_of, self.incidents.best)
            self.incidents.best.update(best)
            answers = self._floored(answers, frame)
            parts = _by_request(answers, group)
            self._in_play = len(group) + len(self._waiting)
        except BaseException as err:
            _fail(group, err)
            return None
        self._logging.acquire()  # taken before the next pass may start: logs keep order
        return _Ranked(group, parts, features, frame, lag, incident_of)

    def _gather(self) -> None:
        """Wait, at most gather_s, until as many requests wait as the last pass had in play.

        Under steady concurrency the requests a pass answers come back together, but a request
        that came while it ran is waiting already: ranked at once, it would make a pass of its
        own, and the passes would alternate between one request and the rest (a pass costs
        nearly as much for one request as for eight). A lone sender's pass had one request in
        play, so it never waits; nor does a pass whose alerts are waiting already (a backlog).
        """
        want = self._in_play
        if want > 1 and self.gather_s > 0:
            with self._queue:
                self._queue.wait_for(
                    lambda: (
                        len(self._waiting) >= want
                        or sum(len(r.ids) for r in self._waiting) >= MAX_ALERTS_PER_PASS
                    ),
                    timeout=self.gather_s,
                )

    def _assign_incidents(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The pass's alerts joined to incidents, in fire order, and the grouper persisted: the
        grouper's answer by alert_id (each alert's incident as it stood when it joined)."""
        grouped = self.incidents.answer(frame)
        self.incidents.persist(self.store, force=False)
        return grouped

    def _take_group(self) -> list[_Request]:
        """The oldest waiting request, and the waiting ones one pass ranks as serial ones would.

        Requests that wait side by side have no order of their own: any order is one they could
        have arrived in. Features look only at what came before an alert fired, so requests
        ranked in one pass in the order of their fire times see exactly what they would see one
        after the other, as long as each one's alerts fired at or after all the alerts of those
        before it. Besides, only the first may re-send an alert already held (the earlier copy
        would vanish for the others), no alert may come twice, and housekeeping must not be due
        before the last.
        """
        with self._queue:
            if not self._waiting:
                return []
            oldest, others = self._waiting[0], list(itertools.islice(self._waiting, 1, None))
            others.sort(key=lambda r: r.earliest)  # stable: ties keep their arrival order
            before = [r for r in others if r.latest <= oldest.earliest]
            after = [r for r in others if r.earliest >= oldest.latest]
            group = self._chain([*_ordered_run(before), oldest, *_ordered_run(after)], oldest)
            taken = set(map(id, group))
            self._waiting = deque(r for r in self._waiting if id(r) not in taken)
            for request in group:
                request.taken = True
            self._queue.notify_all()  # their callers stop waiting for a turn (_turn_or_taken)
            return group

    def _chain(self, candidates: list[_Request], oldest: _Request) -> list[_Request]:
        """The longest run of candidates around `oldest` that one pass may rank together."""
        start = candidates.index(oldest)
        # the oldest must be in; a candidate before it may only join if all from it on can
        for first in range(start + 1):
            group = candidates[first:]
            if first < start and self.live.mirror.holds_any(oldest.ids):
                continue
            taken = self._compatible_prefix(group)
            if len(taken) > start - first:
                return taken
        return [oldest]

    def _compatible_prefix(self, requests: list[_Request]) -> list[_Request]:
        now = self.live.event_time_ns()
        group = [requests[0]]
        ids, latest, size = set(requests[0].ids), requests[0].latest, len(requests[0].frame)
        for request in requests[1:]:
            prunes = now is not None and max(now, latest) - self._pruned_at >= PRUNE_EVERY_NS
            if (
                prunes
                or size + len(request.frame) > MAX_ALERTS_PER_PASS
                or request.earliest < latest
                or not ids.isdisjoint(request.ids)
                or self.live.mirror.holds_any(request.ids)
            ):
                break
            group.append(request)
            ids.update(request.ids)
            latest, size = max(latest, request.latest), size + len(request.frame)
        return group

    def ingest(self, name: str, rows: list[OutcomeRow] | list[ChangeIn] | list[FeedbackIn]) -> int:
        times = refuse_future(rows, name, self.clock)
        if self.live is None:
            raise StateUnavailable(
                "the state store is unavailable"
                + (
                    f" ({self.degraded.causes[STATE_STORE]})"
                    if STATE_STORE in self.degraded.causes
                    else ""
                )
                + "; rows are not stored, send them again later"
            )
        frame = pd.DataFrame([r.model_dump() for r in rows])
        if frame.empty:
            return 0
        for column, ns in times.items():
            frame[column] = from_ns(ns)
        if name == "feedback":
            self.log.write_verdicts(frame)  # kept for `journeyrank export-feedback` and retraining
        with self._state:
            if name == "outcomes":
                frame = self._recent_outcomes(frame)
            stored = self.live.put(name, frame)
            if name == "changes" and self.incidents is not None:
                self.incidents.add_changes(frame)  # evidence of a root cause from its ts on
                self.incidents.persist(self.store, force=False)
            self._housekeeping()
            lag = self.state_lag_seconds()
        telemetry.record_state_lag(lag)
        return stored

    def _recent_outcomes(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Windows the live state still keeps. An older one changes no feature (retention prunes
        it), and holding it would stretch the journey grid, and memory, over all the years between."""
        starts = to_ns(frame["window_start"])
        now = max(int(starts.max()), self.live.event_time_ns() or 0)
        return frame[starts >= now - self.store.retention.outcomes_min * MINUTE_NS]

    def close(self, closed: list[tuple[str, datetime]]) -> int:
        """Record resolved or acknowledged alerts (adapters' closures); returns how many were held."""
        if not closed or self.live is None:
            return 0
        ids = [alert_id for alert_id, _ in closed]
        when = pd.Series(pd.to_datetime([t for _, t in closed], utc=True)).astype(TIMESTAMP_DTYPE)
        with self._state:
            changed = self.store.resolve(ids, when)
            self.live.sync()
            if self.incidents is not None:
                self.incidents.resolve(closed)
                self.incidents.persist(self.store, force=False)
        return changed

    # ------------------------------------------------------------------ upkeep

    def state_lag_seconds(self) -> float | None:
        """How far the journey feed lags the wall clock (the live state's freshness)."""
        latest = self.live.mirror.data_end_ns
        return None if latest is None else max(0.0, (time.time_ns() - latest) / 1e9)

    def _housekeeping(self) -> None:
        now = self.live.event_time_ns()
        if now is None or now - self._pruned_at < PRUNE_EVERY_NS:
            return
        self.store.prune(now)
        self.live.mirror.prune(pd.Timestamp(now, tz="UTC"))
        self._pruned_at = now


# ---------------------------------------------------------------------- passes


@dataclass(eq=False)
class _Request:
    """A /rank request's alerts, waiting to be ranked, and then its answers (or what went wrong)."""

    frame: pd.DataFrame
    taken: bool = False
    answers: pd.DataFrame | None = None
    lag: float | None = None
    incident_of: dict[str, str] = field(default_factory=dict)  # the pass's alerts' incidents
    error: BaseException | None = None
    cause: str | None = None  # set when the error is one fail-open answers for
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.ids = self.frame["alert_id"].tolist()
        fired = to_ns(self.frame["fired_at"])
        self.earliest, self.latest = int(fired.min()), int(fired.max())


class _Ranked(NamedTuple):
    """A pass's answers, split by request, and what its log write needs."""

    group: list[_Request]
    parts: list[pd.DataFrame]
    features: pd.DataFrame
    frame: pd.DataFrame
    lag: float | None
    incident_of: dict[str, str]


def _together(frames: list[pd.DataFrame]) -> pd.DataFrame:
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _by_request(answers: pd.DataFrame, group: list[_Request]) -> list[pd.DataFrame]:
    """Each request's answers, in the pass's order (highest priority first, ties as they came)."""
    if len(group) == 1:
        return [answers]
    owner = {alert_id: i for i, request in enumerate(group) for alert_id in request.ids}
    of = np.array([owner[a] for a in answers["alert_id"].tolist()])
    return [answers[of == i].reset_index(drop=True) for i in range(len(group))]


def event_now(live: LiveState | None) -> datetime:
    """The live state's "now" (its latest event), or the wall clock before it holds any."""
    latest = live.event_time_ns() if live is not None else None
    return datetime.now(UTC) if latest is None else datetime.fromtimestamp(latest / 1e9, UTC)


def _give_back_free_memory() -> None:
    """Return the heap the warm start freed to the system, and keep the heap from splitting up.

    glibc keeps freed memory, and gives each new thread its own heap (arena) up to 8 per core:
    a worker serving on several threads would grow one per thread. Elsewhere: nothing to do.

    Arrow's pool keeps ~70 MB that the warm start freed too. Releasing it here lowered a quiet
    worker's RSS but not its peak under load (the load takes it back), and in two pairs of serving
    benchmark runs p99 at concurrency 8 was higher with it: it is left to Arrow.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _ordered_run(requests: list[_Request]) -> list[_Request]:
    """Requests sorted by fire time, each one's alerts at or after all of the one before it."""
    run: list[_Request] = []
    for request in requests:
        if not run or request.earliest >= run[-1].latest:
            run.append(request)
    return run


def _fail(group: list[_Request], err: BaseException, cause: str | None = None) -> None:
    for request in group:
        request.error, request.cause = err, cause
        request.done.set()


def _map_beside(ranker_dir: Path) -> JourneyMap | None:
    """The journey map the model was trained with, read on its own when the model will not load."""
    try:
        return load_journey_map(ranker_dir / "journey_map.yaml")
    except Exception:  # without it the rule still ranks, by severity alone
        return None


# ---------------------------------------------------------------------- requests and answers


def refuse_future(rows: list, name: str, clock: Clock) -> dict[str, np.ndarray]:
    """Raise FromTheFuture naming the first row dated beyond the clock's tolerance (none is stored).

    Returns the rows' times (TIME_FIELDS[name]) as UTC ns, the one conversion of their datetimes:
    the frame of the rows is built from them.
    """
    columns = TIME_FIELDS[name]
    times = {
        column: instants_ns([getattr(row, column, None) for row in rows]) for column in columns
    }
    late = (
        np.column_stack([times[c] for c in columns]) > clock.latest_allowed_ns() if rows else None
    )
    if late is not None and late.any():
        i, j = np.argwhere(late)[0]  # the first in row order, then in TIME_FIELDS order
        row, column = rows[i], columns[j]
        field_name = ROW_IDS.get(name)
        which = f" ({field_name} {getattr(row, field_name)!r})" if field_name else ""
        body = "alerts" if name == "alerts" else "rows"
        raise FromTheFuture(
            f"{body}[{i}].{column}{which}: {getattr(row, column).isoformat()} is dated in the "
            f"future; expected {clock.expected()}"
        )
    return times


def alerts_frame(alerts: list[AlertIn], times: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Request alerts in the contract's canonical dtypes (pydantic has already checked each field).

    Built column by column from the models: times as UTC nanoseconds (`times`, as refuse_future
    converted them, when given), text as plain Python strings (as the live state holds it: a
    request's few rows are cheaper so than as Arrow text).
    """
    if not alerts:
        return pd.DataFrame()
    columns = {name: [getattr(a, name) for a in alerts] for name in AlertIn.model_fields}
    columns["labels"] = [None if v is None else json.dumps(v) for v in columns["labels"]]
    frame = pd.DataFrame(columns, dtype=object)  # text as it is: no inference, no Arrow
    for name in TIME_FIELDS["alerts"]:
        frame[name] = from_ns(times[name] if times else instants_ns(columns[name]))
    frame["anomaly_score"] = np.array(
        [np.nan if v is None else v for v in columns["anomaly_score"]], np.float64
    )
    if len(set(columns["alert_id"])) == len(frame):
        return frame
    return frame.drop_duplicates("alert_id", keep="last").reset_index(drop=True)


def _answers(answers: pd.DataFrame) -> list[RankedAlert]:
    """The ranker's answers as the API's models, in their order (column by column, validated at once)."""
    columns = {name: _answer_values(name, answers[name].tolist()) for name in answers.columns}
    rows = [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    return _RANKED.validate_python(rows)


_RANKED = TypeAdapter(list[RankedAlert])


def _answer_values(name: str, values: list) -> list:
    """One column of answers as the API holds it: reasons from their JSON text (one parse for the
    column), flags as a list, and a missing value (NaN) as null."""
    if name == "reasons":
        return json.loads(f"[{','.join(values)}]")
    if name == "flags":
        return [flag_list(flags) for flags in values]
    return [None if isinstance(v, float) and v != v else v for v in values]
