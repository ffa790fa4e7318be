"""Docs generated from the code (the schemas and the feature catalogue), so they cannot drift from it."""

from __future__ import annotations

from pathlib import Path

from features.build import feature_catalogue
from features.config import AttributionConfig, EpisodeConfig
from features.schemas import TABLES, TableSpec

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"


def data_contract_markdown() -> str:
    lines = [
        "# Data contract",
        "",
        "Generated from `features/schemas.py`. A data directory holds these files, Parquet preferred, CSV",
        "accepted under the same names. Time stamps carry a time zone (they are converted to UTC; a time",
        "stamp without one is refused, never guessed). Every rejection names the file, the column or key,",
        "the first offending row and what was expected; the CLI then exits with code 2 and writes nothing.",
        "",
        "The journey map (`journey_map.yaml`) is described in the README and in `features/journey_map.py`.",
        "",
    ]
    for spec in TABLES.values():
        lines += _table_section(spec)
    return "\n".join(lines) + "\n"


def _table_section(spec: TableSpec) -> list[str]:
    need = "required file" if spec.required_file else "optional file"
    lines = [
        f"## {spec.name}",
        "",
        f"{spec.description} ({need})",
        "",
        "| column | type | required | meaning |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| `{c.name}` | {c.dtype} | {'yes' if c.required else 'no'} | {c.description} |"
        for c in spec.columns
    ]
    if spec.rules:
        lines += ["", "Row rules: " + "; ".join(rule.expected for rule in spec.rules) + "."]
    return [*lines, ""]


def training_target_markdown() -> str:
    """The settings of the training target (features/attribution.py), from their pydantic fields."""
    lines = [
        "## The training target: labels attributed to causes",
        "",
        "The `label` the model learns is attributed (`features/attribution.py`): an alert is credited",
        "with a degradation episode only when it explains it better than chance does (see the README,",
        '"Labels: credit the cause, not the coincidence"). The track-record features above read the',
        "window labels as they matured instead, which is what a live service knows. The settings,",
        "under `features.attribution` in a train config, are logged with every model:",
        "",
        "| setting | default | meaning |",
        "|---|---|---|",
    ]
    for name, field in AttributionConfig.model_fields.items():
        default = field.default
        shown = "see below" if isinstance(default, EpisodeConfig) else f"`{default}`"
        lines.append(f"| `{name}` | {shown} | {field.description} |")
    lines += [
        "",
        "Episodes (`features.attribution.episodes`):",
        "",
        "| setting | default | meaning |",
    ]
    lines.append("|---|---|---|")
    for name, field in EpisodeConfig.model_fields.items():
        if name != "baselines":
            lines.append(f"| `{name}` | `{field.default}` | {field.description} |")
    return "\n".join(lines) + "\n"


def generated_docs() -> dict[Path, str]:
    return {
        DOCS_DIR / "data-contract.md": data_contract_markdown(),
        DOCS_DIR / "features.md": feature_catalogue() + "\n" + training_target_markdown(),
    }


def write_docs() -> list[Path]:
    written = []
    for path, text in generated_docs().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written


if __name__ == "__main__":
    for path in write_docs():
        print(f"wrote {path}")
