"""Source of notebooks/02-train-and-compare.ipynb (build: `make notebooks`)."""

# ruff: noqa: E402  (the warning filters come before the imports that would warn)

# %% [markdown]
# # 02 · Train the ranker and compare it with today's orderings
#
# This notebook does what `journeyrank train --data data/sample` does, one step at a time, calling
# the project's functions:
#
# 1. the feature table — labels and point-in-time features per alert — and the split by time;
# 2. a training run: LightGBM, calibration, page-budget tiers, one MLflow run, a registered version;
# 3. the comparison with every baseline ordering on the same held-out days;
# 4. slices per journey stage and per alert source, calibration, and what the model looks at;
# 5. the champion decision, and a second run to see the gate refuse a weaker model.
#
# MLflow writes to a scratch folder (`settings_at`), never to your `./.journeyrank`. It takes about a
# minute or two.

# %%
import os

# LightGBM threads sleep rather than spin when they wait (pipeline/cli.py says why)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")

import logging
import tempfile
import warnings

warnings.filterwarnings("ignore", message="PySpark does not yet fully support")
warnings.filterwarnings("ignore", module="mlflow")
logging.getLogger("mlflow").setLevel(logging.ERROR)

import json
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from IPython.display import display

import pipeline
from features.build import ALL_FEATURES, FAMILIES
from features.loading import load_data_dir
from features.settings import settings_at
from models.config import LightGBMConfig, TrainConfig
from models.evaluation import comparison_table
from models.metrics import impact_weighted_recall
from pipeline.train import build_training_set, train

REPO = Path(pipeline.__file__).resolve().parent.parent
SAMPLE = Path(os.environ.get("JOURNEYRANK_SAMPLE") or REPO / "data" / "sample")
WORK = Path(tempfile.mkdtemp(prefix="journeyrank-02-"))
settings = settings_at(WORK / "home")  # MLflow (runs, artifacts, registry) in the scratch folder
print(f"sample: {SAMPLE}\nMLflow: {settings.tracking_uri}")

plt.rcParams.update(
    {"figure.figsize": (11, 4), "axes.spines.top": False, "axes.spines.right": False}
)
pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
pd.set_option("display.precision", 3)

# %% [markdown]
# ## 1. Features and the split by time
#
# `build_training_set` is the first half of `train`: it fits the per-hour-of-week baselines on the
# **training days only**, derives the labels, computes every feature *as of each alert's
# `fired_at`* (only outcome windows that had ended, earlier alerts as they stood then, labels that
# had matured), then cuts the alerts by time: train | validation (early stopping, calibration and
# tier thresholds) | held out (the comparison). Never at random: a random split would let the model
# learn an incident from its own alerts.

# %%
config = TrainConfig()
data = load_data_dir(SAMPLE)
training = build_training_set(data, config)
split = training.split
print(
    f"{len(training.table.frame):,} alerts × {len(training.spec.features)} features; "
    f"page budget {config.page_budget.share:.0%} of alerts"
)
pd.DataFrame(
    {
        "from": [split.train["fired_at"].min(), split.validation_start, split.test_start],
        "to": [split.validation_start, split.test_start, split.end],
        "alerts": [len(split.train), len(split.validation), len(split.test)],
        "impact rate": [p["label"].mean() for p in (split.train, split.validation, split.test)],
    },
    index=["train", "validation", "held out"],
)

# %%
colors = {"train": "tab:blue", "validation": "tab:orange", "held out": "tab:green"}
fig, ax = plt.subplots(figsize=(12, 3))
for (name, part), color in zip(
    {"train": split.train, "validation": split.validation, "held out": split.test}.items(),
    colors.values(),
    strict=True,
):
    daily = part.groupby(part["fired_at"].dt.floor("D")).agg(
        n=("label", "size"), hit=("label", "sum")
    )
    ax.bar(daily.index, daily["n"], width=0.8, color=color, alpha=0.35, label=f"{name}: alerts")
    ax.bar(daily.index, daily["hit"] * 10, width=0.8, color=color, label=f"{name}: impactful ×10")
ax.set_title("the split by time: alerts per day, and the impactful ones (×10 to be visible)")
ax.legend(ncol=3, fontsize=8)
plt.show()

# %% [markdown]
# The features come in families (the catalogue with every definition is
# [docs/features.md](../docs/features.md), generated from the code). A few of them, for impactful
# and harmless alerts of the training days: a live drop in the stage's completions and a rule's
# track record separate the classes far better than severity does.

# %%
pd.DataFrame(
    {
        "family": list(FAMILIES),
        "features": [", ".join(f.name for f in family.FEATURES) for family in FAMILIES.values()],
    }
)

# %%
shown = ["severity_level", "completion_drop_z_15m", "rule_impact_rate", "stage_impact_max"]
train_rows = split.train
fig, axes = plt.subplots(1, len(shown), figsize=(14, 3.5))
for ax, name in zip(axes, shown, strict=True):
    values = pd.to_numeric(train_rows[name], errors="coerce")
    low, high = np.nanpercentile(values, [1, 99])
    bins = np.linspace(low, high, 30) if high > low else 10
    for label, color in ((0, "tab:gray"), (1, "tab:red")):
        ax.hist(
            values[train_rows["label"] == label].clip(low, high).dropna(),
            bins=bins,
            density=True,
            alpha=0.55,
            color=color,
            label="impact" if label else "no impact",
        )
    ax.set_title(name, fontsize=10)
axes[0].legend()
fig.suptitle("feature distributions by label (training days, density)")
fig.tight_layout()
plt.show()
described = {f.name: f for f in ALL_FEATURES}
for name in shown:
    print(f"{name}: {described[name].meaning}")

# %% [markdown]
# ## 2. A training run
#
# `train` runs the whole job: the steps above, LightGBM with early stopping on the validation days,
# a centred isotonic calibrator (so `impact_probability` means what it says, and the booster's
# order stands), tier thresholds that keep pages within the budget, the evaluation on the held-out
# days, then **one MLflow run** (params, metrics, the report, the data's lineage) and **one
# registered version** of the self-contained ranker. The first version becomes `@champion` because
# there is none yet.

# %%
result = train(SAMPLE, settings, config, progress=lambda step: print(f"  · {step}"))
print(
    f"\nrun {result.run_id}: journeyrank v{result.version}, "
    f"best iteration {result.ranker.booster.best_iteration}"
)
print(result.decision.sentence())

# %% [markdown]
# ## 3. The comparison with every baseline, on the same held-out days
#
# One row per ordering of the same held-out alerts:
#
# * `severity` — severity, then recency: what Alertmanager and PagerDuty do by default;
# * `criticality_rule` — ServiceNow-style: the sum of the impacted stages' impact scores, then severity;
# * `journey_weight` — the lightweight mapping: stage impact × a severity weight;
# * `model` — JourneyRank's priority (calibrated probability × users at risk × stage impact);
# * `oracle` — the simulator's truth, ordered by the value each alert truly cost: a ceiling, not a target
#   (it is judged against *measured* labels, so it is not perfect either).
#
# The columns: PR-AUC and ROC-AUC of the impact class; F1 when paging the budget; **impact-weighted
# recall** (IWR) — the share of lost value among the alerts paged — when paging the top 5%, 10%, 20%;
# the share of alerts that need no page while pages still cover 95% of the lost value; and the
# expected calibration error (the model's only: the others are not probabilities).

# %%
evaluation = result.evaluation
comparison_table(evaluation)

# %%
orderings = list(evaluation.scores)
label = evaluation.frame["label"].to_numpy(int)
weight = evaluation.frame["impact_weight"].to_numpy(float)
shares = np.linspace(0.01, 0.40, 40)

fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.2))
for name in orderings:
    curve = [impact_weighted_recall(evaluation.scores[name], label, weight, s) for s in shares]
    style = {"lw": 2.5} if name == "model" else {"lw": 1.2, "ls": "--" if name == "oracle" else "-"}
    left.plot(shares, curve, label=name, **style)
left.axvline(evaluation.budget, color="black", lw=0.8, ls=":")
left.text(evaluation.budget, 0.02, " page budget", fontsize=8)
left.set_xlabel("share of alerts paged (top of each ordering)")
left.set_ylabel("impact-weighted recall")
left.xaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
left.set_title("how much of the lost value each ordering pages")
left.legend()

table = evaluation.table
x = np.arange(len(orderings))
right.bar(x - 0.2, table.loc[orderings, "pr_auc"], 0.4, label="PR-AUC")
right.bar(x + 0.2, table.loc[orderings, "iw_recall_at_budget"], 0.4, label="IWR at the budget")
right.axhline(label.mean(), color="gray", lw=0.8, ls=":")
right.text(-0.4, label.mean(), "impact rate = PR-AUC of a random order", fontsize=8, va="bottom")
right.set_xticks(x, orderings, rotation=15)
right.legend()
right.set_title("held-out days")
fig.tight_layout()
plt.show()

# %% [markdown]
# **Calibration.** The tiers and the dashboard show `impact_probability` to people, so a 0.3 should
# come true about 30% of the time. The reliability diagram bins the held-out alerts by predicted
# probability (equal counts per bin) and plots the observed impact rate of each bin. Points above the
# diagonal mean more alerts turned out impactful than predicted: the calibrator was fitted on the
# validation days, and a held-out period with more incidents shows up here first.

# %%
probability = evaluation.probability
order = np.argsort(probability, kind="stable")
bins = [part for part in np.array_split(order, 10) if len(part)]
predicted = [probability[part].mean() for part in bins]
observed = [label[part].mean() for part in bins]
fig, ax = plt.subplots(figsize=(4.8, 4.5))
ax.plot([0, 1], [0, 1], color="gray", lw=0.8, ls=":")
ax.plot(predicted, observed, marker="o")
limit = max(max(predicted), max(observed)) * 1.1
ax.set_xlim(0, limit)
ax.set_ylim(0, limit)
ax.set_xlabel("predicted impact probability (bin mean)")
ax.set_ylabel("observed impact rate")
ax.set_title(f"reliability, held-out days (ECE {table.loc['model', 'ece']:.3f})")
plt.show()

# %% [markdown]
# ## 4. Slices: per journey stage and per alert source
#
# An average can hide a stage where the model is worse than a simple rule. Each slice below is
# the held-out alerts whose highest-impact stage (or source) is that value; PR-AUC is left out where
# a slice has fewer than three impactful alerts.


# %%
def slice_heatmap(slices: pd.DataFrame, by: str, title: str) -> None:
    grid = slices.pivot(index=by, columns="ranking", values="pr_auc")[orderings]
    counts = slices.drop_duplicates(by).set_index(by)[["alerts", "positives"]]
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(grid) + 1.5))
    image = ax.imshow(grid.to_numpy(dtype=float), cmap="viridis", aspect="auto", vmin=0, vmax=1)
    ax.set_xticks(range(len(orderings)), orderings, rotation=15)
    ax.set_yticks(
        range(len(grid)),
        [f"{v}  ({counts.loc[v, 'positives']}/{counts.loc[v, 'alerts']})" for v in grid.index],
    )
    for (i, j), value in np.ndenumerate(grid.to_numpy(dtype=float)):
        if np.isfinite(value):
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value < 0.6 else "black",
            )
    fig.colorbar(image, ax=ax, label="PR-AUC")
    ax.set_title(title)
    plt.show()


slice_heatmap(evaluation.slices["stage"], "stage", "PR-AUC by stage (impactful / alerts)")
slice_heatmap(
    evaluation.slices["source"], "alert_source", "PR-AUC by alert source (impactful / alerts)"
)

# %% [markdown]
# ## 5. What the model looks at, and what it answers
#
# Gain importance says which features the trees split on most. Each ranked alert also carries its
# own **reasons**: the largest per-alert contributions (TreeSHAP), put into words.

# %%
ranker = result.ranker
importance = pd.Series(
    ranker.booster.feature_importance("gain"), index=list(ranker.spec.features)
).sort_values()
importance.tail(15).plot.barh(figsize=(8, 5), color="tab:purple", title="gain importance, top 15")
plt.show()

# %% [markdown]
# The ranker's answer for the held-out alerts, highest priority first: the calibrated probability,
# the priority, the tier (P1 incident room, P2 page, P3 ticket, P4 digest — thresholds fitted on the
# validation days to the page budget), the stage at risk, the reasons and the playbook. This is
# what `POST /rank` returns for each alert.

# %%
ranked = ranker.rank(split.test, model_version=result.version)
top = ranked.head(8).copy()
top["reasons"] = top["reasons"].map(lambda r: "; ".join(json.loads(r)[:2]))
display(
    top[
        [
            "alert_id",
            "impact_probability",
            "priority",
            "tier",
            "route",
            "journey",
            "stage",
            "reasons",
        ]
    ]
)
print("playbook of the first:", ranked.loc[0, "playbook"])
print("tier thresholds:", {k: round(v, 4) for k, v in ranker.thresholds.to_dict().items()})

# %%
tiers = ranked.merge(split.test[["alert_id", "label", "impact_weight"]], on="alert_id")
summary = tiers.groupby("tier").agg(
    alerts=("label", "size"),
    impact_rate=("label", "mean"),
    lost_value=("impact_weight", lambda w: w[tiers.loc[w.index, "label"] == 1].sum()),
)
summary["share_of_alerts"] = summary["alerts"] / summary["alerts"].sum()
summary["share_of_lost_value"] = summary["lost_value"] / summary["lost_value"].sum()
days = split.days("test")
print(
    f"pages (P1 + P2) a day on the held-out days: {summary.loc[['P1', 'P2'], 'alerts'].sum() / days:.1f}"
)
summary[["alerts", "share_of_alerts", "impact_rate", "share_of_lost_value"]]

# %% [markdown]
# ## 6. The champion decision
#
# A new version becomes `@champion` only when it beats the current champion on the **same held-out
# days** (impact-weighted recall at the page budget); otherwise it is registered as `@challenger`.
# Both figures and the decision are logged on the run and on the version.
#
# To see the gate refuse a model, train a deliberately weaker one — stumps of two leaves, stopped
# early — on the same data:

# %%
weaker = TrainConfig(lightgbm=LightGBMConfig(num_leaves=2, max_rounds=30, learning_rate=0.05))
second = train(SAMPLE, settings, weaker)
print(f"v{second.version}: {second.decision.sentence()}")

client = mlflow.MlflowClient(settings.tracking_uri)
versions = client.search_model_versions(f"name='{config.registered_model}'")
pd.DataFrame(
    [
        {
            "version": v.version,
            "aliases": ", ".join(v.aliases),
            "iw_recall_at_budget": client.get_run(v.run_id).data.metrics.get(
                "model.iw_recall_at_budget"
            ),
            "pr_auc": client.get_run(v.run_id).data.metrics.get("model.pr_auc"),
        }
        for v in sorted(versions, key=lambda v: int(v.version))
    ]
).set_index("version")

# %% [markdown]
# ## Where to go from here
#
# * Everything above is in the MLflow run: `uv run mlflow ui --backend-store-uri <the URI printed at
#   the top>` shows the params, metrics, the HTML report and the registered versions.
# * The same job from a shell: `uv run journeyrank train --data data/sample [--config FILE.yaml]`.
#   A YAML config overrides any part of `TrainConfig` (split, LightGBM, calibration, page budget,
#   label and feature definitions).
# * `journeyrank evaluate --model models:/journeyrank@champion --data DIR` prints the same comparison
#   for any registered model on any data; notebook **03** reviews a drift audit of a later period.
