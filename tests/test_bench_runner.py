"""`make bench`'s runner (benchmarks/__main__.py): it runs the benchmarks named, and refuses a
name it does not know before running anything."""

from __future__ import annotations

from benchmarks.__main__ import ON_THEIR_OWN, discover, main


def test_the_runner_finds_the_benchmarks_and_leaves_the_long_ones_to_their_own_target():
    found = discover()
    assert "serving" in found and "quality" not in found
    assert "quality" in ON_THEIR_OWN


def test_an_option_or_an_unknown_name_is_refused_before_anything_runs(capsys):
    assert main(["quality", "--config", "train.yaml"]) == 2
    out, err = capsys.readouterr()
    assert "=== benchmarks/" not in out, "nothing ran"
    assert "'--config'" in err and "'train.yaml'" in err
    assert "python -m benchmarks.quality --config" in err
    assert main(["no-such-benchmark"]) == 2
    assert "serving" in capsys.readouterr().err  # the benchmarks there are
