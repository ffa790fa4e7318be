"""The ranking service over HTTP beside MLflow's own scoring server, both on loopback, in one run.

- (a) `POST /rank` with 100 alerts: the service stores them, computes their features from the live
  state, ranks and explains them, writes the inference log durably, then answers;
- (b) `mlflow models serve` of the same registered model, scoring those 100 alerts' feature rows
  (read back from the service's inference log): the model alone, no features, no log.

Each contender gets the same number of sequential keep-alive requests after a warm-up (p50, p99
and their ratio), then as many requests as it answers at concurrency 8 in LOAD_SECONDS. Every /rank
request carries new alert_ids fired just before the end of the warm history (data/sample), so the
features see real journey state and every request adds to the alert history, as live alerts do.
The service's resident memory is summed over its process tree, sampled throughout.

Goals: /rank p50 <= 1.5x MLflow's p50 although it also computes features, explains and logs;
/rank p99 <= 50 ms; >= 5,000 alerts/s at concurrency 8; service RSS <= 600 MB.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "data" / "sample"
CACHE_DIR = REPO / "bench-data" / "serving"
BATCH = 100  # alerts per request
WARMUP, SEQUENTIAL = 30, 300  # requests per contender
CONCURRENCY, LOAD_SECONDS = 8, 10.0
TEMPLATES = 1000  # the sample's latest alerts, replayed under new ids
FIRED_BEFORE_END_S = 600  # bench alerts fire from 10 min before the warm history ends, 1 ms apart
P50_RATIO_GOAL, P99_MS_GOAL, ALERTS_PER_S_GOAL, RSS_MB_GOAL = 1.5, 50.0, 5000.0, 600.0
MODEL_CODE = ("features", "models")  # what the logged model carries (models/ranker_model.py)
MB = 2**20


def main(cache_dir: Path | None = None) -> None:
    from features.loading import load_data_dir

    settings = ensure_model(cache_dir or CACHE_DIR)
    data = load_data_dir(SAMPLE_DIR)
    end = data.journey_outcomes["window_start"].max() + data.window
    batches = rank_batches(data.alerts, end, WARMUP + SEQUENTIAL + 2000)
    with Servers(settings) as servers:
        rank = Contender("/rank (features, explain, log)", servers.rank_url + "/rank")
        sampler = RssSampler(servers.service.pid)
        rank.sequential([_body({"alerts": b}) for b in batches[: WARMUP + SEQUENTIAL]])
        version = servers.model_version
        scoring = [
            _body({"dataframe_split": split, "params": {"model_version": version}})
            for split in feature_rows(settings.home, batches[: WARMUP + SEQUENTIAL])
        ]
        mlflow = Contender("MLflow models serve (model only)", servers.mlflow_url + "/invocations")
        check_same_answers(rank.url, mlflow.url, batches[0], scoring[0])
        mlflow.sequential(scoring)
        passes_before = pass_totals(servers.rank_url)
        rank.load([_body({"alerts": b}) for b in batches[WARMUP + SEQUENTIAL :]])
        passes = np.subtract(pass_totals(servers.rank_url), passes_before)
        mlflow.load(scoring)
        rank.rss_mb, mlflow.rss_mb = sampler.stop(), RssSampler.now(servers.mlflow.pid)
    print(
        f"{os.cpu_count()} cores; {BATCH} alerts per request; {SEQUENTIAL} sequential requests "
        f"after {WARMUP} warm-up; concurrency {CONCURRENCY} for {LOAD_SECONDS:.0f} s; "
        f"model version {version}"
    )
    print(render_table(rank, mlflow))
    print(
        f"/rank at concurrency {CONCURRENCY}: {passes[1] / passes[0]:.1f} requests per ranking "
        f"pass on average ({passes[0]:.0f} passes; journeyrank_pass_requests)"
    )
    print(render_rss(sampler.parts))


# ---------------------------------------------------------------- the model, trained once


def ensure_model(cache_dir: Path):
    """A registered champion and its BentoML import in cache_dir/home, redone when the code changes.

    The logged model carries its own copy of features/ and models/, which `mlflow models serve`
    runs: a model logged by older code would compare new /rank code with old scoring code.
    """
    from features.settings import settings_at

    home = cache_dir / "home"
    stamp = cache_dir / "model.sha256"
    digest = _code_digest()
    if stamp.is_file() and stamp.read_text() == digest and (home / "bentoml").is_dir():
        return settings_at(home)
    import mlflow

    from models.registry import EXPERIMENT
    from pipeline.serve import import_model
    from pipeline.train import train

    print(f"training the sample's model into {home} (once per code version) ...", flush=True)
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    stamp.unlink(missing_ok=True)
    settings = settings_at(home)
    # artifacts beside the registry, not in ./mlruns of whatever folder the benchmark runs from
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.create_experiment(EXPERIMENT, artifact_location=(home / "artifacts").as_uri())
    train(SAMPLE_DIR, settings)
    import_model(settings)
    stamp.write_text(digest)
    return settings


def _code_digest() -> str:
    digest = hashlib.sha256()
    files = [p for d in MODEL_CODE for p in sorted((REPO / d).rglob("*.py"))]
    for path in [*files, *sorted(SAMPLE_DIR.iterdir())]:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# ---------------------------------------------------------------- the requests


def rank_batches(alerts: pd.DataFrame, end: pd.Timestamp, n: int) -> list[list[dict]]:
    """n requests of BATCH alerts: the sample's latest alerts replayed under new ids, still firing."""
    templates = alerts.tail(TEMPLATES).reset_index(drop=True)
    rows = [
        {
            "source": r.source,
            "service": r.service,
            "alert_name": r.alert_name,
            "severity": r.severity,
            "signal": None if pd.isna(r.signal) else r.signal,
            "region": None if pd.isna(r.region) else r.region,
            "labels": json.loads(r.labels) if isinstance(r.labels, str) else None,
            **({} if pd.isna(r.anomaly_score) else {"anomaly_score": float(r.anomaly_score)}),
        }
        for r in templates.itertuples()
    ]
    start = end - pd.Timedelta(seconds=FIRED_BEFORE_END_S)
    fired = (start + pd.to_timedelta(np.arange(n * BATCH), unit="ms")).map(pd.Timestamp.isoformat)
    alerts_out = [
        {"alert_id": f"bench-{k:07d}", "fired_at": fired[k], **rows[k % len(rows)]}
        for k in range(n * BATCH)
    ]
    return [alerts_out[i : i + BATCH] for i in range(0, len(alerts_out), BATCH)]


def feature_rows(home: Path, batches: list[list[dict]]) -> list[dict]:
    """Each /rank request's alerts as the pyfunc takes them (META_INPUTS + features), from the log.

    The service logged every feature it ranked with; MLflow's signature holds naive UTC times.
    """
    from features.build import FEATURE_NAMES
    from models.inference_log import LOG_FILE
    from models.ranking import META_INPUTS

    with sqlite3.connect(f"file:{home / LOG_FILE}?mode=ro", uri=True) as db:
        logged = dict(db.execute("SELECT alert_id, features FROM inference_log").fetchall())
    columns = list(dict.fromkeys([*META_INPUTS, *FEATURE_NAMES]))
    out = []
    for batch in batches:
        frame = pd.DataFrame(
            [{**alert, **json.loads(logged[alert["alert_id"]])} for alert in batch]
        )
        frame["fired_at"] = pd.to_datetime(
            frame["fired_at"], utc=True, format="ISO8601"
        ).dt.tz_localize(None)
        split = json.loads(
            frame[columns].to_json(orient="split", index=False, date_format="iso", date_unit="ns")
        )
        out.append(split)
    return out


def check_same_answers(rank_url: str, mlflow_url: str, alerts: list[dict], scoring: bytes) -> None:
    """Both rank the first batch alike (priorities equal to the log's JSON precision), or we stop."""
    import httpx

    ranked = httpx.post(rank_url, content=_body({"alerts": alerts}), headers=_JSON, timeout=60)
    scored = httpx.post(mlflow_url, content=scoring, headers=_JSON, timeout=60)
    for name, response in (("/rank", ranked), ("MLflow", scored)):
        if response.status_code != 200:
            raise RuntimeError(f"{name} answered {response.status_code}: {response.text[:500]}")
    ours = {r["alert_id"]: r["priority"] for r in ranked.json()["ranked"]}
    theirs = {r["alert_id"]: r["priority"] for r in scored.json()["predictions"]}
    if ours.keys() != theirs.keys() or not np.allclose(
        [ours[a] for a in ours], [theirs[a] for a in ours], rtol=1e-6
    ):
        raise RuntimeError("MLflow's scoring server ranks the batch differently from /rank")


_JSON = {"content-type": "application/json"}


def _body(payload: dict) -> bytes:
    return json.dumps(payload).encode()


# ---------------------------------------------------------------- the two servers


class Servers:
    """`bentoml serve` (warm from the sample, fresh state and log) and `mlflow models serve`."""

    def __init__(self, settings) -> None:
        self.settings = settings

    def __enter__(self) -> Servers:
        from pipeline.serve import free_port, start_service, wait_until_ready

        home = self.settings.home
        for path in home.glob("*.sqlite*"):  # state store and inference log from an earlier run
            path.unlink()
        rank_port, mlflow_port = free_port(), free_port()
        self.rank_url = f"http://127.0.0.1:{rank_port}"
        self.mlflow_url = f"http://127.0.0.1:{mlflow_port}"
        self.service = start_service(self.settings, rank_port, warm_from=SAMPLE_DIR, quiet=True)
        self.mlflow = self._start_mlflow(mlflow_port)
        try:
            wait_until_ready(self.rank_url, self.service, seconds=300)
            _wait_for(f"{self.mlflow_url}/ping", self.mlflow, seconds=300)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        self.model_version = self._champion_version()
        return self

    def __exit__(self, *exc) -> None:
        from pipeline.serve import stop_service

        for process in (self.service, self.mlflow):
            stop_service(process)

    def _start_mlflow(self, port: int) -> subprocess.Popen:
        from features.settings import DEFAULT_MODEL_URI

        env = {
            **os.environ,
            "MLFLOW_TRACKING_URI": self.settings.tracking_uri,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        command = [
            sys.executable, "-m", "mlflow", "models", "serve", "-m", DEFAULT_MODEL_URI,
            "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port),
        ]  # fmt: skip
        log = (self.settings.home / "mlflow-serve.log").open("w")
        return subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def _champion_version(self) -> str:
        from features.settings import DEFAULT_MODEL_URI
        from models.registry import resolve, use_tracking

        _, version = resolve(use_tracking(self.settings.tracking_uri), DEFAULT_MODEL_URI)
        return version or ""


def _wait_for(url: str, process: subprocess.Popen, seconds: float) -> None:
    import httpx

    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} was not ready within {seconds:.0f} s")


# ---------------------------------------------------------------- measuring


@dataclass
class Contender:
    title: str
    url: str
    latencies_ms: np.ndarray = field(default_factory=lambda: np.zeros(0))
    alerts_per_s: float = float("nan")
    load_p99_ms: float = float("nan")
    rss_mb: float = float("nan")

    def sequential(self, bodies: list[bytes]) -> None:
        """WARMUP requests, then SEQUENTIAL timed ones, one after another on one keep-alive connection."""
        import httpx

        times = []
        with httpx.Client(headers=_JSON, timeout=60) as client:
            for i, body in enumerate(bodies[: WARMUP + SEQUENTIAL]):
                started = time.perf_counter()
                response = client.post(self.url, content=body)
                elapsed = time.perf_counter() - started
                _expect_ok(self.title, response)
                if i >= WARMUP:
                    times.append(elapsed * 1e3)
        self.latencies_ms = np.array(times)

    def load(self, bodies: list[bytes]) -> None:
        """CONCURRENCY clients, each on its own keep-alive connection, for LOAD_SECONDS."""
        import httpx

        taken = itertools.count()
        done: list[float] = []
        deadline = time.perf_counter() + LOAD_SECONDS
        failures: list[str] = []

        def client_loop() -> None:
            with httpx.Client(headers=_JSON, timeout=60) as client:
                while time.perf_counter() < deadline and not failures:
                    body = bodies[next(taken) % len(bodies)]
                    started = time.perf_counter()
                    response = client.post(self.url, content=body)
                    if response.status_code != 200:
                        failures.append(f"{response.status_code}: {response.text[:300]}")
                        return
                    done.append((time.perf_counter() - started) * 1e3)

        started = time.perf_counter()
        threads = [threading.Thread(target=client_loop) for _ in range(CONCURRENCY)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if failures:
            raise RuntimeError(f"{self.title} failed under load: {failures[0]}")
        self.alerts_per_s = len(done) * BATCH / (time.perf_counter() - started)
        self.load_p99_ms = float(np.percentile(done, 99))

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))


def pass_totals(url: str) -> tuple[float, float]:
    """The service's ranking passes so far and the requests they ranked, from its /metrics."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{url}/metrics", timeout=10).text
    totals = {"_count": 0.0, "_sum": 0.0}
    for family in text_string_to_metric_families(text):
        if family.name == "journeyrank_pass_requests":
            for sample in family.samples:
                for suffix in totals:
                    if sample.name.endswith(suffix):
                        totals[suffix] += sample.value
    return totals["_count"], totals["_sum"]


def _expect_ok(title: str, response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{title} answered {response.status_code}: {response.text[:500]}")


class RssSampler:
    """The peak of Σ RSS over a process and its descendants, sampled every 0.2 s until stopped,
    and each process's share at that peak (`parts`: what it runs, MB)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self.parts = pid, 0.0, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        self._take(self.processes(self.pid))
        return self.peak

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self._take(self.processes(self.pid))

    def _take(self, parts: list[tuple[str, float]]) -> None:
        total = sum(mb for _, mb in parts)
        if total > self.peak:
            self.peak, self.parts = total, parts

    @classmethod
    def now(cls, pid: int) -> float:
        return sum(mb for _, mb in cls.processes(pid))

    @staticmethod
    def processes(pid: int) -> list[tuple[str, float]]:
        """Each process of the tree: the module or program it runs, and its RSS in MB."""
        import psutil

        try:
            root = psutil.Process(pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        found = []
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):  # a process may end meanwhile
                command = process.cmdline()
                runs = command[command.index("-m") + 1] if "-m" in command[:-1] else process.name()
                found.append((runs, process.memory_info().rss / MB))
        return found


def render_rss(parts: list[tuple[str, float]]) -> str:
    """/rank's processes at its RSS peak (`bentoml serve` runs a serving process and a worker)."""
    shares = ", ".join(f"{runs} {mb:.0f} MB" for runs, mb in parts)
    return f"/rank's RSS at its peak, by process: {shares}"


# ---------------------------------------------------------------- the table


def render_table(rank: Contender, mlflow: Contender) -> str:
    ratio = rank.percentile(50) / mlflow.percentile(50)
    goals = [
        _verdict(f"p50 <= {P50_RATIO_GOAL}x MLflow", ratio <= P50_RATIO_GOAL),
        _verdict(f"p99 <= {P99_MS_GOAL:.0f} ms", rank.percentile(99) <= P99_MS_GOAL),
        _verdict(f">= {ALERTS_PER_S_GOAL:,.0f} alerts/s", rank.alerts_per_s >= ALERTS_PER_S_GOAL),
        _verdict(f"RSS <= {RSS_MB_GOAL:.0f} MB", rank.rss_mb <= RSS_MB_GOAL),
    ]
    header = ("contender", "p50 ms", "p99 ms", "x MLflow p50", f"alerts/s (c={CONCURRENCY})",
              f"p99 ms (c={CONCURRENCY})", "RSS MB")  # fmt: skip
    rows = [_row(c, mlflow) for c in (rank, mlflow)]
    widths = [max(len(str(row[i])) for row in (header, *rows)) for i in range(len(header))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"goals (/rank): {', '.join(goals)}")
    return "\n".join(lines)


def _row(c: Contender, mlflow: Contender) -> tuple[str, ...]:
    return (
        c.title,
        f"{c.percentile(50):.1f}",
        f"{c.percentile(99):.1f}",
        f"{c.percentile(50) / mlflow.percentile(50):.2f}",
        f"{c.alerts_per_s:,.0f}",
        f"{c.load_p99_ms:.1f}",
        f"{c.rss_mb:.0f}",
    )


def _verdict(goal: str, met: bool) -> str:
    return f"{goal}: {'PASS' if met else 'MISS'}"
