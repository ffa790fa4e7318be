"""A trained model imported into a private BentoML store, and the service's ASGI app around it."""

from __future__ import annotations

import pytest
from service_client import make_client

from features.settings import settings_at
from pipeline.serve import bentoml_env, import_model
from pipeline.train import train


@pytest.fixture(scope="session")
def served(tmp_path_factory, sample_dir):
    """Settings whose home holds an MLflow registry with a champion, imported into BentoML."""
    settings = settings_at(tmp_path_factory.mktemp("serving-home"))
    result = train(sample_dir, settings)
    import_model(settings)
    return settings, result


@pytest.fixture
def service_env(served, tmp_path, monkeypatch):
    """A fresh JOURNEYRANK_HOME for the state store and log, sharing the session's BentoML store."""
    settings, _ = served
    for key, value in bentoml_env(settings).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("JOURNEYRANK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("JOURNEYRANK_API_TOKEN", raising=False)
    monkeypatch.delenv("JOURNEYRANK_WARM_FROM", raising=False)
    return tmp_path / "home"


@pytest.fixture
def client(service_env, sample_dir, monkeypatch):
    monkeypatch.setenv("JOURNEYRANK_WARM_FROM", str(sample_dir))
    with make_client() as test_client:
        yield test_client
