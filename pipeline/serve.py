"""`journeyrank serve`: import the model from the MLflow registry into BentoML's store, then serve it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from features.settings import Settings, env_name
from models.registry import load_ranker_from, resolve, use_tracking

SERVICE = "serving.service:JourneyRank"
MODEL_NAME = "journeyrank"


@dataclass(frozen=True)
class ImportedModel:
    tag: str
    uri: str
    version: str | None


def bentoml_env(settings: Settings) -> dict[str, str]:
    """The environment the service runs in: its home, BentoML's store inside it, no phoning home."""
    return {
        env_name("home"): str(settings.home.resolve()),
        "BENTOML_HOME": str((settings.home / "bentoml").resolve()),
        "BENTOML_DO_NOT_TRACK": "true",
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
    }


def import_model(settings: Settings, model_uri: str | None = None) -> ImportedModel:
    """Copy the registered model (default: JOURNEYRANK_MODEL, i.e. @champion) into BentoML's model store."""
    uri = model_uri or settings.model
    env = bentoml_env(settings)
    os.environ.update(env)
    import bentoml
    from bentoml._internal.configuration.containers import BentoMLContainer

    # BentoML resolves its home once per process; a process serving several homes (tests) re-points it
    for provider in (
        BentoMLContainer.bentoml_home,
        BentoMLContainer.model_store_dir,
        BentoMLContainer.model_store,
    ):
        provider.reset()

    client = use_tracking(settings.tracking_uri)
    _, version = resolve(client, uri)
    ranker = load_ranker_from(uri)
    labels = {
        "mlflow_uri": uri,
        "mlflow_version": version or "",
        "journey_map_version": str(ranker.journey_map.version),
        "page_share": f"{ranker.thresholds.page_share:.6f}",
    }
    model = bentoml.mlflow.import_model(MODEL_NAME, uri, labels=labels)
    return ImportedModel(str(model.tag), uri, version)


def serve_command(port: int, host: str = "127.0.0.1") -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", SERVICE, "--host", host, "--port", str(port)]


def start_service(
    settings: Settings,
    port: int,
    host: str = "127.0.0.1",
    warm_from: Path | None = None,
    workers: int | None = None,
    quiet: bool = False,
    warm_until: str | None = None,
) -> subprocess.Popen:
    """`bentoml serve` in a child process (the caller stops it); the model must be imported first."""
    env = {**os.environ, **bentoml_env(settings)}
    if warm_from is not None:
        env[env_name("warm_from")] = str(Path(warm_from).resolve())
    if warm_until is not None:
        env[env_name("warm_until")] = warm_until
    if workers is not None:
        env["BENTOML_CONFIG_OPTIONS"] = f"services.journeyrank.workers={workers}"
    output = subprocess.DEVNULL if quiet else None
    return subprocess.Popen(
        serve_command(port, host), env=env, stdout=output, stderr=output, start_new_session=True
    )


def wait_until_ready(url: str, process: subprocess.Popen, seconds: float = 120.0) -> float:
    """Poll /readyz until it answers 200; returns the seconds it took (raises when the process dies)."""
    import time

    import httpx

    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if process.poll() is not None:
            raise RuntimeError(
                f"the service exited with code {process.returncode} before it was ready"
            )
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} was not ready within {seconds:.0f} s")


def stop_service(process: subprocess.Popen, grace: float = 20.0) -> None:
    """SIGTERM the service's process group, SIGKILL if it lingers."""
    import signal

    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


FORWARDED_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP")  # what supervisors, Ctrl-C and hang-ups send
SHUTDOWN_GRACE_S = 30.0


def serve_until_stopped(process: subprocess.Popen, grace: float = SHUTDOWN_GRACE_S) -> int:
    """Wait for the service; a stop signal to this process goes to the service's whole tree.

    `bentoml serve` runs in a session of its own, and its workers may sit in process groups of
    their own: SIGTERM, SIGINT or SIGHUP sent here (by systemd, a supervisor, `kill`, Ctrl-C, a
    closed terminal) stops its group (as a SIGTERM), and this waits for the tree to stop; whatever of
    it is still there after `grace` seconds is killed. Nothing survives, and the port is free.
    Returns the service's exit code, or 128 + the number of the signal that stopped it.
    """
    import signal

    received: list[int] = []

    def forward(signum: int, frame) -> None:
        if not received:
            received.append(signum)
            # as SIGTERM: BentoML's arbiter would read a SIGHUP as "reload" and start new workers
            stop_tree(process, signal.SIGTERM, grace)

    previous = {name: signal.signal(getattr(signal, name), forward) for name in FORWARDED_SIGNALS}
    try:
        code = process.wait()
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)
    return 128 + received[0] if received else code


def stop_tree(process: subprocess.Popen, signum: int, grace: float = SHUTDOWN_GRACE_S) -> None:
    """Send `signum` to the service's group, wait up to `grace` s for all of its tree, kill the rest.

    The tree is taken before the signal: once the server exits, its workers are no longer its
    children, and would be found no more.
    """
    import contextlib
    import signal

    import psutil  # BentoML's own dependency: there whenever the service is

    try:
        root = psutil.Process(process.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)
    _, alive = psutil.wait_procs(tree, timeout=grace)
    with contextlib.suppress(psutil.NoSuchProcess):  # anything it started meanwhile goes too
        alive += [p for p in root.children(recursive=True) if p not in alive]
    for survivor in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            survivor.send_signal(signal.SIGKILL)
    psutil.wait_procs(alive, timeout=10)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
