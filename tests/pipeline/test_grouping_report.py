"""How `journeyrank evaluate` reports the grouping: compression always, pairwise figures with the truth."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from features.config import FeatureJobConfig
from features.loading import load_data_dir
from pipeline.evaluate import grouping_quality
from pipeline.render import grouping_line


def test_the_grouping_is_judged_against_the_truth_only_when_it_is_there(sample_dir):
    data = load_data_dir(sample_dir)
    ranker = SimpleNamespace(
        journey_map=data.journey_map, spec=SimpleNamespace(config=FeatureJobConfig())
    )
    with_truth = grouping_quality(ranker, data)
    assert with_truth["alerts"] == len(data.alerts)
    assert 0 < with_truth["compression"] < 1 and 0 < with_truth["pairwise_f1"] <= 1
    assert "F1" in grouping_line(with_truth)
    without = grouping_quality(ranker, dataclasses.replace(data, truth=None))
    assert "pairwise_f1" not in without
    assert without["compression"] == with_truth["compression"]
    line = grouping_line(without)
    assert f"{len(data.alerts):,} alerts" in line and "F1" not in line
