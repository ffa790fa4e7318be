"""`journeyrank features`: labels and point-in-time features for every alert of a data directory, as Parquet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from features.build import feature_catalogue
from features.config import FeatureJobConfig
from features.loading import load_data_dir
from features.spec import FeatureSpec
from features.table import FeatureTable, build_feature_table
from models.truth_metrics import truth_agreement
from pipeline.io import write_atomically


@dataclass(frozen=True)
class FeaturesResult:
    table: FeatureTable
    spec: FeatureSpec
    out: Path
    spec_path: Path
    catalogue_path: Path
    # derived labels against the simulator's truth, when present
    truth_agreement: dict[str, float] | None


def run_features(
    data_dir: Path,
    out: Path,
    config: FeatureJobConfig | None = None,
    progress: Callable[[str], None] | None = None,
    engine: str = "pandas",
) -> FeaturesResult:
    """Write OUT (features + labels + impact_weight), OUT's spec (.spec.json) and the catalogue (.catalogue.md).

    `engine` "pandas" computes on this machine; "spark" runs the same definitions on Spark.
    """
    data = load_data_dir(data_dir)
    if engine == "spark":
        table = _build_on_spark(data, config)
    elif engine == "pandas":
        table = build_feature_table(data, config, progress=progress)
    else:
        raise ValueError(f"engine must be pandas or spark, got {engine!r}")
    spec = FeatureSpec.from_table(
        table.frame, table.config, table.window_ns, str(data.journey_map.version)
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    spec_path = out.with_suffix(".spec.json")
    catalogue_path = out.with_suffix(".catalogue.md")
    write_atomically(out, lambda tmp: table.frame.to_parquet(tmp, index=False))
    write_atomically(spec_path, lambda tmp: tmp.write_text(spec.to_json()))
    write_atomically(catalogue_path, lambda tmp: tmp.write_text(feature_catalogue()))
    agreement = truth_agreement(table.frame, data.truth) if data.truth is not None else None
    return FeaturesResult(table, spec, out, spec_path, catalogue_path, agreement)


def _build_on_spark(data, config: FeatureJobConfig | None) -> FeatureTable:
    from pipeline.spark.features import build_feature_table_spark
    from pipeline.spark.session import spark_session

    with spark_session() as spark:
        return build_feature_table_spark(spark, data, config)
