"""A throwaway Debian `redis-server` on a free loopback port, for the tests that share state through it."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pipeline.serve import free_port

REDIS_SERVER = "redis-server"


def redis_available() -> bool:
    return shutil.which(REDIS_SERVER) is not None


@contextmanager
def running_redis(workdir: Path) -> Iterator[str]:
    """Start redis-server (no persistence) and yield its URL; stopped (by its own pid) after."""
    import redis

    port = free_port()
    options = {"--port": str(port), "--bind": "127.0.0.1", "--save": "", "--appendonly": "no"}
    command = [REDIS_SERVER, *[part for pair in options.items() for part in pair]]
    process = subprocess.Popen(
        [*command, "--dir", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None:
                    raise RuntimeError(
                        f"redis-server exited with code {process.returncode}"
                    ) from None
                time.sleep(0.05)
        else:
            raise TimeoutError("redis-server did not answer within 5 s")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
