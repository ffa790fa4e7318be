"""The contract's closed sets of values, free of any data library.

The HTTP models (serving/api_models.py) are built from these in the process that serves the API
but holds no data; features/schemas.py checks the files against the same sets.
"""

from __future__ import annotations

from typing import Literal, get_args

Severity = Literal["critical", "high", "warning", "info"]
Signal = Literal["latency", "errors", "saturation", "availability", "anomaly", "other"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
SIGNALS: tuple[Signal, ...] = get_args(Signal)
