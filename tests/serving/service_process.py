"""A real `bentoml serve` of JourneyRank with its own home (state, log, outbox) and extra environment."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from features.settings import Settings
from pipeline.serve import bentoml_env, free_port, serve_command, stop_service, wait_until_ready


class ServiceProcess:
    """The session's imported model, served from `home`; `kill()` is a kill -9 of the whole group."""

    def __init__(self, settings: Settings, home: Path, env: dict[str, str] | None = None) -> None:
        self.settings, self.home = settings, home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **bentoml_env(settings),
            "JOURNEYRANK_HOME": str(home),
            **(env or {}),
        }
        for name in ("JOURNEYRANK_WARM_FROM", "JOURNEYRANK_API_TOKEN"):
            if env is None or name not in env:
                self.env.pop(name, None)
        self.process: subprocess.Popen | None = None

    def start(self, ready_within_s: float = 180.0) -> float:
        """Start and wait for /readyz; returns the seconds from start to ready."""
        started = time.monotonic()
        self.home.mkdir(parents=True, exist_ok=True)
        with (self.home / "serve.log").open("a") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                serve_command(self.port),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_ready(self.url, self.process, ready_within_s)
        return time.monotonic() - started

    def kill(self) -> None:
        """kill -9 the service and its workers: no shutdown hook runs, nothing is flushed.

        BentoML's workers may sit in process groups of their own and serve from the inherited
        socket, so every descendant is killed, not only the group.
        """
        import psutil

        tree = [psutil.Process(self.process.pid)]
        tree += tree[0].children(recursive=True)
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        psutil.wait_procs(tree[1:], timeout=10)

    def stop(self) -> None:
        if self.process is not None:
            stop_service(self.process)
