"""Training, baselines, calibration, metrics, page-budget thresholds and the ranker model."""
