"""Source of notebooks/01-explore-journeys-and-alerts.ipynb (build: `make notebooks`)."""

# ruff: noqa: E402  (the warning filters come before the imports that would warn)

# %% [markdown]
# # 01 · Explore journeys and alerts
#
# Before any model: what do the customer journeys look like, how many alerts does monitoring
# fire, and does an alert's **severity** say whether users were hurt?
#
# This notebook reads the committed sample (`data/sample`: 21 days of a simulated online shop)
# with the project's own loaders and label job, and draws:
#
# 1. the journey map — journeys, stages in funnel order, each stage's impact and value;
# 2. the funnel per journey and segment;
# 3. one high-value stage over three weeks, with the alerts that measurably hurt it;
# 4. alert volume by source, and how much of it is noise;
# 5. severity against measured impact — the reason JourneyRank exists.
#
# It trains nothing and writes nothing; it runs in well under a minute.

# %%
import os
import warnings

warnings.filterwarnings("ignore", message="PySpark does not yet fully support")

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import display

import pipeline
from features.loading import load_data_dir
from features.table import build_feature_table

# The sample, wherever this notebook runs from (the tests run it in a scratch folder).
REPO = Path(pipeline.__file__).resolve().parent.parent
SAMPLE = Path(os.environ.get("JOURNEYRANK_SAMPLE") or REPO / "data" / "sample")

plt.rcParams.update(
    {"figure.figsize": (11, 4), "axes.spines.top": False, "axes.spines.right": False}
)
pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
pd.set_option("display.precision", 3)

# %% [markdown]
# ## 1. The data directory
#
# `load_data_dir` reads every file of the [data contract](../docs/data-contract.md), validates it
# (a bad file fails with one message naming the file, the row and what was expected), and infers
# the width of the journey-outcome windows. `truth.parquet` is the simulator's ground truth:
# the pipeline never reads it to train or rank; we use it once, at the end, to check the labels.

# %%
data = load_data_dir(SAMPLE)
alerts, outcomes = data.alerts, data.journey_outcomes
days = (alerts["fired_at"].max() - alerts["fired_at"].min()) / pd.Timedelta(days=1)
print(f"{SAMPLE}")
print(
    f"{days:.0f} days, from {alerts['fired_at'].min():%Y-%m-%d} to {alerts['fired_at'].max():%Y-%m-%d}; "
    f"outcome windows of {data.window.total_seconds() / 60:.0f} min; journey map version {data.journey_map.version}"
)
pd.DataFrame(
    {
        "rows": {
            "alerts": len(alerts),
            "journey_outcomes": len(outcomes),
            "changes": 0 if data.changes is None else len(data.changes),
            "feedback": 0 if data.feedback is None else len(data.feedback),
            "truth (evaluation only)": 0 if data.truth is None else len(data.truth),
        }
    }
)

# %% [markdown]
# ## 2. The journey map
#
# `journey_map.yaml` is written by the people who own the journeys. Each journey lists its stages
# in funnel order; each stage has an **impact** score in [0, 1] (how much a failure there costs the
# customer: time to value, perceived reliability), a **value** (what one completion is worth) and the
# **services** it depends on, *hard* (the stage fails without it) or *soft* (it degrades). Services
# that are not listed reach stages through `dependencies`. An alert is tied to stages through its
# `service`.

# %%
journey_map = data.journey_map
stages = journey_map.stage_table()
stages["services"] = [
    ", ".join(f"{name} ({kind})" for name, kind in journey_map.find_stage(j, s).services.items())
    for j, s in zip(stages["journey"], stages["stage"], strict=True)
]
stages[["journey", "stage", "position", "impact", "value", "owner", "services"]]

# %%
print(f"segments and the weight of a lost conversion in each: {journey_map.segments}")
print(f"{len(journey_map.dependencies)} services with dependencies, e.g.:")
for service, callees in list(journey_map.dependencies.items())[:4]:
    print(f"  {service} → {', '.join(callees)}")

# %% [markdown]
# ## 3. The funnel per journey and segment
#
# `journey_outcomes` has one row per window × journey × stage × segment (× region): the sessions
# that reached the stage, and how many of them completed it or abandoned the journey there.
# Below, left: the share of a journey's entering sessions that reach each stage; right: the
# completion rate of each stage. Segments differ — new users drop out more than returning ones —
# which is why the impact labels compare each segment with its own baseline.

# %%
funnel = outcomes.groupby(["journey", "stage", "segment"], observed=True)[
    ["sessions", "completed", "abandoned"]
].sum()
funnel["completion_rate"] = funnel["completed"] / funnel["sessions"]
order = {(j, s): p for j, s, p in stages[["journey", "stage", "position"]].itertuples(index=False)}
funnel["position"] = [order[(j, s)] for j, s, _ in funnel.index]
funnel = funnel.reset_index().sort_values(["journey", "position", "segment"])
first = funnel[funnel["position"] == 0].set_index(["journey", "segment"])["sessions"]
funnel["reach"] = (
    funnel["sessions"].to_numpy()
    / first.loc[list(zip(funnel["journey"], funnel["segment"], strict=True))].to_numpy()
)

journeys = list(journey_map.journeys)
segments = sorted(funnel["segment"].unique())
fig, axes = plt.subplots(2, len(journeys), figsize=(4 * len(journeys), 6.5), sharey="row")
for column, journey in enumerate(journeys):
    part = funnel[funnel["journey"] == journey]
    names = [s.name for s in journey_map.journeys[journey].stages]
    for segment in segments:
        rows = part[part["segment"] == segment].set_index("stage").reindex(names)
        if rows["sessions"].isna().all():
            continue  # a segment that never takes this journey
        axes[0, column].plot(names, rows["reach"], marker="o", label=segment)
        axes[1, column].plot(names, rows["completion_rate"], marker="o", label=segment)
    axes[0, column].set_title(journey)
    for row in (0, 1):
        axes[row, column].tick_params(axis="x", rotation=30)
axes[0, 0].set_ylabel("share of entering sessions\nthat reach the stage")
axes[1, 0].set_ylabel("completion rate of the stage")
axes[0, 0].legend(title="segment")
fig.tight_layout()
plt.show()

# %% [markdown]
# Traffic has a strong daily and weekly rhythm, so "normal" depends on the hour of the week. The
# label job's baselines are robust per stage × segment × hour-of-week rates; incidents do not
# inflate or deflate them (outlying windows are trimmed).

# %%
entering = outcomes[outcomes["stage"].isin(stages.loc[stages["position"] == 0, "stage"])]
hourly = entering.groupby([pd.Grouper(key="window_start", freq="1h"), "journey"])["sessions"].sum()
hourly.unstack("journey").iloc[: 24 * 7].plot(
    title="sessions entering each journey, per hour (first week)", ylabel="sessions"
)
plt.show()

# %% [markdown]
# ## 4. Measured impact: labels from journey outcomes
#
# `build_feature_table` runs the offline feature job: it fits the baselines, derives each alert's
# **impact label**, and computes its point-in-time features (notebook 02 uses those). The label
# looks at the stages the alert's service reaches, in the 30 minutes after it fired, and measures
# lost completions (expected − observed) against the baseline. It is 1 when the loss is both
# *significant* (z ≥ 2.5) and *material* (≥ 10 completions and ≥ 5% of the expected); the
# magnitude — lost completions × stage value × segment weight — is kept as `impact_weight`.
# An alert from a service the map does not reach has no stage to measure: its label is 0 with
# `label_source` *unmapped* (the ranker still ranks it, flagged). An alert whose 30 minutes had not
# ended by the end of the data has no label yet.

# %%
table = build_feature_table(data).frame
labelled = table[table["label"].notna()].copy()
labelled["label"] = labelled["label"].astype(int)
print(
    f"{len(table):,} alerts; {len(labelled):,} labelled, {labelled['label'].mean():.1%} with measured user impact; "
    f"{(table['mapped'] == 0).mean():.0%} from services the map does not reach"
)
table["label_source"].value_counts()

# %% [markdown]
# One stage over three weeks: the stage that lost the most value (the largest sum of impact weight),
# its completion rate per hour, and the alerts whose measured impact fell on that stage. Dips in the
# line are incidents; the red ticks are the alerts the label job tied to them — often several alerts
# for one incident, from the services along its dependency chain.

# %%
positives = labelled[labelled["label"] == 1]
journey, stage = (
    positives.groupby(["impact_journey", "impact_stage"])["impact_weight"].sum().idxmax()
)
top = {"journey": journey, "stage": stage}
stage_rows = outcomes[(outcomes["journey"] == top["journey"]) & (outcomes["stage"] == top["stage"])]
per_hour = stage_rows.groupby(pd.Grouper(key="window_start", freq="1h"))[
    ["sessions", "completed"]
].sum()
rate = per_hour["completed"] / per_hour["sessions"]
hits = labelled[
    (labelled["label"] == 1)
    & (labelled["impact_journey"] == top["journey"])
    & (labelled["impact_stage"] == top["stage"])
]
fig, ax = plt.subplots(figsize=(12, 3.8))
ax.plot(rate.index, rate, lw=0.8, color="tab:blue", label="completion rate (hourly)")
floor = rate.min() - 0.08
ax.plot(
    hits["fired_at"],
    np.full(len(hits), floor + 0.02),
    "|",
    ms=14,
    color="tab:red",
    label="impactful alert",
)
ax.set_ylim(floor, rate.max() + 0.06)
ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
ax.set_title(f"{top['journey']} / {top['stage']}: completion rate and the alerts that hurt it")
ax.legend(loc="upper left", ncol=2, fontsize=8, frameon=False)
plt.show()
print(f"{len(hits)} alerts with measured impact on {top['journey']}/{top['stage']}")

# %% [markdown]
# ## 5. Alert volume and noise
#
# Monitoring fires far more than anyone can act on. Below: alerts per day by source, then the
# loudest rules (service × alert name) with their measured impact rate. Many fire hundreds of
# times and never coincide with a measurable loss — noise a severity-ordered queue still pages for.

# %%
per_day = (
    alerts.groupby([pd.Grouper(key="fired_at", freq="1D"), "source"]).size().unstack(fill_value=0)
)
per_day.index = per_day.index.strftime("%m-%d")
ax = per_day.plot.bar(
    stacked=True, figsize=(12, 4), width=0.85, rot=0, title="alerts per day, by source"
)
ax.set_xlabel("")
plt.show()
print(f"{len(alerts) / days:,.0f} alerts a day on average")

# %%
rules = labelled.groupby(["service", "alert_name"]).agg(
    firings=("label", "size"), impact_rate=("label", "mean")
)
loudest = rules.sort_values("firings", ascending=False).head(15).iloc[::-1]
fig, ax = plt.subplots(figsize=(10, 5.5))
ax.barh([f"{s} · {n}" for s, n in loudest.index], loudest["firings"], color="tab:gray")
for y, (count, share) in enumerate(zip(loudest["firings"], loudest["impact_rate"], strict=True)):
    ax.text(count, y, f"  {share:.0%} impact", va="center", fontsize=8)
ax.set_title(
    "the 15 loudest rules (labelled alerts) and the share of their firings with user impact"
)
ax.set_xlabel("firings in 21 days")
plt.show()

never = rules[rules["impact_rate"] == 0]
duration = (alerts["resolved_at"] - alerts["fired_at"]).dt.total_seconds() / 60
print(
    f"{len(never)} of {len(rules)} rules never had measured impact; they fired "
    f"{never['firings'].sum() / len(labelled):.0%} of the labelled alerts"
)
print(f"{(duration < 10).mean():.0%} of all alerts resolved within 10 minutes (flapping)")

# %% [markdown]
# ## 6. Severity against measured impact
#
# Alertmanager and PagerDuty order by severity, then recency. If severity tracked user impact,
# critical alerts would hurt users far more often than warnings. The left chart shows the measured
# impact rate per severity (with a 95% interval); the right one the share of all alerts against the
# share of all **impact weight** (lost value) each severity carries.

# %%
levels = [s for s in ("critical", "high", "warning", "info") if s in set(labelled["severity"])]
by_severity = (
    labelled.groupby("severity")
    .agg(
        alerts=("label", "size"),
        impact_rate=("label", "mean"),
        impact_weight=("impact_weight", lambda w: w[labelled.loc[w.index, "label"] == 1].sum()),
    )
    .loc[levels]
)
by_severity["interval"] = 1.96 * np.sqrt(
    by_severity["impact_rate"] * (1 - by_severity["impact_rate"]) / by_severity["alerts"]
)
by_severity["share_of_alerts"] = by_severity["alerts"] / by_severity["alerts"].sum()
by_severity["share_of_impact"] = by_severity["impact_weight"] / by_severity["impact_weight"].sum()

fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
left.bar(
    levels, by_severity["impact_rate"], yerr=by_severity["interval"], color="tab:orange", capsize=4
)
left.set_title("measured impact rate by severity")
left.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
x = np.arange(len(levels))
right.bar(x - 0.2, by_severity["share_of_alerts"], 0.4, label="share of alerts")
right.bar(x + 0.2, by_severity["share_of_impact"], 0.4, label="share of impact weight")
right.set_xticks(x, levels)
right.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
right.legend()
right.set_title("where the alerts are, and where the lost value is")
fig.tight_layout()
plt.show()
print(
    f"even among {levels[0]} alerts, {1 - by_severity['impact_rate'].iloc[0]:.0%} had no measured impact; "
    f"{levels[-1]} alerts, which nobody pages for, carry {by_severity['share_of_impact'].iloc[-1]:.0%} of the lost value"
)
by_severity[["alerts", "impact_rate", "share_of_alerts", "share_of_impact"]]

# %% [markdown]
# Severity barely separates harmful alerts from harmless ones. Other things do: the source and
# signal of the alert, and above all *which stage* it can reach. The table below is the measured
# impact rate by stage (the highest-impact stage the alert's service reaches) and severity.

# %%
by_stage = labelled.pivot_table(
    index="stage", columns="severity", values="label", aggfunc="mean"
).reindex(columns=levels)
fig, ax = plt.subplots(figsize=(7, 5))
image = ax.imshow(by_stage.to_numpy(dtype=float), cmap="Oranges", aspect="auto")
ax.set_xticks(range(len(levels)), levels)
ax.set_yticks(range(len(by_stage)), by_stage.index)
for (i, j), value in np.ndenumerate(by_stage.to_numpy(dtype=float)):
    if np.isfinite(value):
        ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=8)
fig.colorbar(image, ax=ax, label="impact rate")
ax.set_title("measured impact rate by stage and severity")
plt.show()

pd.concat(
    {
        "by source": labelled.groupby("alert_source")["label"].agg(["size", "mean"]),
        "by signal": labelled.groupby("signal")["label"].agg(["size", "mean"]),
    }
).rename(columns={"size": "alerts", "mean": "impact_rate"})

# %% [markdown]
# ## 7. Are the labels right?
#
# The simulator knows which alerts belonged to an incident that truly cost users something. The
# labels are *measured* from journey outcomes alone, so they are not perfect: small incidents stay
# below the materiality threshold, and an unrelated alert can fire during someone else's incident.
# Two of the shop's real services are missing from its map, so their incidents cannot be measured
# at all. Here is how the measured labels agree with that truth (the pipeline never sees it).

# %%
if data.truth is not None:
    checked = labelled.merge(data.truth[["alert_id", "true_impact"]], on="alert_id")
    agreement = pd.crosstab(checked["label"], checked["true_impact"], margins=True)
    agreement.index.name, agreement.columns.name = "measured label", "true impact"
    hit = checked[(checked["label"] == 1) & (checked["true_impact"] == 1)]
    print(
        f"precision {len(hit) / checked['label'].sum():.2f}, "
        f"recall {len(hit) / checked['true_impact'].sum():.2f} of the measured labels against the truth"
    )
    display(agreement)

# %% [markdown]
# ## What this means for the model
#
# * Severity alone is a weak signal of user impact, and most alerts are noise.
# * Whether an alert hurts users depends on the stage it reaches, the journey's live state when it
#   fires (is the stage already completing less than normal?), the rule's track record, concurrent
#   alerts and recent changes — the feature families of [docs/features.md](../docs/features.md).
#
# Notebook **02** builds those features, trains the ranker and compares it with severity and the
# other orderings teams use today.
