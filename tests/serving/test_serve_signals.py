"""`journeyrank serve` stopped by a signal stops the BentoML server with it: no process survives,
the port is free (it once left the server running, holding the port, after a SIGTERM)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import psutil
import pytest

from pipeline.serve import bentoml_env, free_port, wait_until_ready

pytestmark = pytest.mark.integration
HANG_GUARD_S = 600  # not a pass mark: a guard against waiting for ever


def _port_is_free(port: int) -> bool:
    """Nobody listens, and a new server could bind it (as servers do: closed connections of the
    old one may linger in TIME_WAIT, which SO_REUSEADDR lets a listener pass)."""
    with socket.socket() as client:
        if client.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_stops_the_whole_service(served, tmp_path, signum):
    settings, _ = served
    port = free_port()
    env = {**os.environ, **bentoml_env(settings)}
    env.pop("JOURNEYRANK_WARM_FROM", None)
    cli = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_ready(f"http://127.0.0.1:{port}", cli, HANG_GUARD_S)
        tree = psutil.Process(cli.pid).children(recursive=True)
        assert tree, "the CLI started the BentoML server as its child"
        cli.send_signal(signum)  # to the CLI alone, as systemd or `kill` would
        assert cli.wait(timeout=HANG_GUARD_S) == 128 + signum
        _, alive = psutil.wait_procs(tree, timeout=HANG_GUARD_S)
        assert not alive, f"survivors: {[p.pid for p in alive]}"
        assert _port_is_free(port)
    finally:
        if cli.poll() is None:
            cli.kill()
