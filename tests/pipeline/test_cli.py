"""The command line: a thin coat whose exit codes scripts rely on (0 ok, 2 bad input, 1 failure)."""

from __future__ import annotations

import os
import shutil

from pipeline.cli import main


def test_validate_prints_the_profile(sample_dir, capsys):
    assert main(["validate", str(sample_dir)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # the console wraps at the terminal's width
    for text in (
        "alerts per day",
        "Sessions per stage",
        "windows of 5 min",
        "services the map covers",
    ):
        assert text in out


def test_bad_input_exits_2_with_its_message_and_writes_nothing(sample_dir, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(sample_dir, data)
    (data / "journey_map.yaml").write_text("version: 1\njourneys: {a: {stages: [\n")
    before = sorted(p.name for p in data.iterdir())
    assert main(["validate", str(data)]) == 2
    err = capsys.readouterr().err
    assert "journey_map.yaml" in err and "line" in err
    assert sorted(p.name for p in data.iterdir()) == before


def test_a_missing_directory_is_bad_input(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    assert main(["simulate", "--days", "3"]) == 2
    assert "--out" in capsys.readouterr().err


def test_simulate_writes_a_data_directory(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path / "d"), "--days", "1", "--seed", "3"]) == 0
    assert (tmp_path / "d" / "alerts.parquet").exists()
    assert "true user impact" in capsys.readouterr().out


def test_openmp_threads_wait_passively_unless_told_otherwise(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "unset by the test")  # so the test restores it after
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert main(["--help"]) == 0
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert main(["--help"]) == 0
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_the_spark_install_hint_keeps_its_brackets(tmp_path, monkeypatch, capsys):
    """Without the extra, `--engine spark` says the whole command (rich once ate `[spark]`)."""
    import sys

    for name in ("pyspark", "pyspark.sql"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails as if not installed
    events = tmp_path / "session_events.csv"
    events.write_text("ts,session_id,journey,stage,segment,event\n")
    out = tmp_path / "out.parquet"
    assert main(["aggregate", "--events", str(events), "--out", str(out), "--engine", "spark"]) == 1
    assert "pip install 'journeyrank[spark]'" in " ".join(capsys.readouterr().err.split())


def test_user_text_with_brackets_is_printed_as_typed(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "runs[bold]")]) == 2
    assert "runs[bold]" in capsys.readouterr().err
