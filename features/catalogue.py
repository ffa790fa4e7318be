"""The feature catalogue: every feature named once, with its meaning, window and source."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["numeric", "categorical"]


@dataclass(frozen=True)
class Feature:
    name: str
    meaning: str
    window: str  # the look-back, "" when the feature is not windowed
    source: (
        str  # alert | journey map | journey outcomes | baselines | alert history | labels | changes
    )
    kind: Kind = "numeric"
    # a count over all history so far, or a rate shrunk toward a prior by how much of it there
    # is: it moves as the history grows, so its drift says the history got longer, not that the
    # world changed (audits report it but do not judge by it)
    grows_with_history: bool = False


def catalogue_markdown(
    features: tuple[Feature, ...], families: dict[str, tuple[Feature, ...]]
) -> str:
    """The catalogue as a Markdown page (docs/features.md is generated from it)."""
    lines = [
        "# Feature catalogue",
        "",
        "Generated from the code (`features/families/`); every feature of an alert uses only what was known",
        "before its `fired_at`. The same definitions compute features offline and online.",
        "",
        'A window such as "15 min" over journey outcomes means the outcome windows that ended in the 15',
        "minutes before `fired_at` (strictly before it, and after the feed delay `live_data_delay_min`);",
        '"worst mapped stage" is the largest value over the stages the alert\'s service reaches.',
        "",
    ]
    for family, members in families.items():
        lines += [
            f"## {family}",
            "",
            "| name | meaning | window | source | kind |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| `{f.name}` | {f.meaning} | {f.window or '—'} | {f.source} | {f.kind} |"
            for f in members
        ]
        lines.append("")
    lines.append(f"{len(features)} features in all.")
    return "\n".join(lines) + "\n"
