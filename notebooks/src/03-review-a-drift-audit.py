"""Source of notebooks/03-review-a-drift-audit.ipynb (build: `make notebooks`)."""

# ruff: noqa: E402, B018  (warning filters come before the imports; a cell's last expression is shown)

# %% [markdown]
# # 03 · Review a drift audit
#
# A model trained on October keeps ranking alerts in November. Is it still the model we validated?
# `journeyrank audit` answers that against the **reference profile** the model carries from
# training (its feature and score distributions on fixed bins, its tier mix, the pages a day it
# promised, the services and rules it knew, its held-out figures), and ends with a verdict:
# **ok**, **investigate** or **retrain**, with the reasons.
#
# Here we:
#
# 1. train on the sample (it becomes `@champion`);
# 2. simulate the **week after** the sample twice with the same seed: once as it is, once with
#    realistic shifts — a sign-up campaign changes the traffic mix, a new `promotions` service
#    starts serving checkout without being added to the journey map, and teams re-tune their rules;
# 3. audit both weeks with `run_audit` and read the audit figure by figure, the unshifted week as the
#    control: an audit that cries wolf on an ordinary week is as useless as one that misses a shift.
#
# MLflow and every file go to a scratch folder. It takes a few minutes.

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

import itertools
import json
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from IPython.display import display

import pipeline
from features.loading import load_data_dir
from features.settings import settings_at
from features.table import build_feature_table
from models.drift import Thresholds
from models.drift import weighed as weighed_by_the_verdict
from models.profile import categorical_counts, numeric_shares
from pipeline.audit import run_audit
from pipeline.simulate import SHIFTS, SimulationConfig, simulate
from pipeline.simulate.shifts import NEW_SERVICE
from pipeline.stack import stack_data_dirs
from pipeline.train import train

REPO = Path(pipeline.__file__).resolve().parent.parent
SAMPLE = Path(os.environ.get("JOURNEYRANK_SAMPLE") or REPO / "data" / "sample")
WORK = Path(tempfile.mkdtemp(prefix="journeyrank-03-"))
settings = settings_at(WORK / "home")  # MLflow (runs, artifacts, registry) in the scratch folder
MODEL_URI = "models:/journeyrank@champion"
print(f"sample: {SAMPLE}\nscratch: {WORK}\nMLflow: {settings.tracking_uri}")

plt.rcParams.update(
    {"figure.figsize": (11, 4), "axes.spines.top": False, "axes.spines.right": False}
)
pd.set_option("display.width", 160)
pd.set_option("display.max_columns", 20)
pd.set_option("display.precision", 3)

# %% [markdown]
# ## 1. The model under review
#
# The same training run as `journeyrank train --data data/sample` (notebook 02 takes it apart).
# Along with the booster, the calibrator and the thresholds, the registered model now carries its
# reference profile.

# %%
trained = train(SAMPLE, settings)
ranker = trained.ranker
profile = ranker.profile
print(f"journeyrank v{trained.version}: {trained.decision.sentence()}")
print(
    f"reference: {profile['alerts']:,} alerts from {profile['period'][0][:10]} to {profile['period'][1][:10]}; "
    f"{len(profile['features'])} feature distributions; {profile['pages_per_day']:.1f} pages a day promised"
)

# %% [markdown]
# ## 2. Two later weeks: as they are, and shifted
#
# The simulator draws later periods of the same shop (same services, rules and teams; new traffic,
# incidents and alerts). Both weeks below use the sample's seed and the same period — the week
# right after the sample's three — so they differ **only** by the shifts. `simulation.json` in
# each folder records how it was made.
#
# An audit reads a data directory the way a live system keeps it: the history up to now, with
# `since` marking the period to audit (alert histories and baselines look back up to seven days).
# `stack_data_dirs` appends each later week to the sample, under the newest journey map.

# %%
manifest = json.loads((SAMPLE / "simulation.json").read_text())
LATER_DAYS = 7
APPLIED = ("traffic_mix", "new_service", "retuned_rules")
since = pd.Timestamp(manifest["end"])  # the week after the sample
for name in APPLIED:
    print(f"{name}: {SHIFTS[name].summary}")

weeks = {}
for name, shifts in {"unshifted": (), "shifted": APPLIED}.items():
    config = SimulationConfig(
        out=WORK / "later" / name,
        days=LATER_DAYS,
        seed=manifest["seed"],
        period=manifest["days"] // LATER_DAYS,  # the sample is periods 0-2 of 7-day periods
        start=since.to_pydatetime(),
        shifts=shifts,
    )
    made = simulate(config)
    weeks[name] = stack_data_dirs([SAMPLE, config.out], WORK / "audited" / name)
    print(
        f"{name}: {made.rows['alerts']:,} alerts from {config.start:%Y-%m-%d}, "
        f"shifts: {', '.join(config.shifts) or 'none'}"
    )

# %% [markdown]
# What the shifts did, seen from the raw data (the audit does not get to see this view — it has to
# find it in the model's own inputs and outputs):

# %%
raw = {name: load_data_dir(folder) for name, folder in weeks.items()}
later = {name: d.alerts[d.alerts["fired_at"] >= since] for name, d in raw.items()}
looks = pd.DataFrame(
    {
        name: {
            "alerts a day": len(a) / LATER_DAYS,
            "critical or high": a["severity"].isin(["critical", "high"]).mean(),
            "services": a["service"].nunique(),
            "alert rules": (a["service"] + "/" + a["alert_name"]).nunique(),
        }
        for name, a in later.items()
    }
)
looks

# %% [markdown]
# ## 3. The audits
#
# `run_audit(model_uri, data_dir, out_dir, settings, since=...)` loads the model from the registry,
# builds the features of the audited alerts with the model's own feature configuration and
# baselines, scores them, compares everything with the reference profile, and writes `audit.html`
# (self-contained, with plots), `audit.json` (every figure) and an MLflow run in the `audits`
# experiment. The CLI is the same call: `journeyrank audit --model URI --data DIR --out DIR
# --since T [--fail-on investigate|retrain]` (exit code 3 when the verdict reaches `--fail-on`).
#
# When the service has logged the alerts it ranked (the inference log in `JOURNEYRANK_HOME`),
# the audit reads what was actually served; here the log is empty, so it scores the period of the
# data directory.

# %%
audits = {
    name: run_audit(MODEL_URI, folder, WORK / "audits" / name, settings, since=since)
    for name, folder in weeks.items()
}
pd.DataFrame(
    {
        name: {
            "verdict": result.audit.verdict.level,
            "reasons": len(result.audit.verdict.reasons),
            "alerts audited": result.audit.alerts,
            "source": result.audit.source,
            "report": result.html.name,
        }
        for name, result in audits.items()
    }
)

# %% [markdown]
# ### Figure 1 — the verdict and its reasons
#
# Read this first, then the figures that back each reason. A reason starts with the level it
# raised the verdict to. Drift in a feature the model barely uses is reported but does not move
# the verdict; drift in an important one asks for a look; several at once, a score distribution
# that moved, pages a day far from the promise, unmapped services or a drop in performance on
# matured labels can ask for retraining.

# %%
for name, result in audits.items():
    verdict = result.audit.verdict
    print(f"{name}: {verdict.level.upper()}")
    for reason in verdict.reasons or ["no finding crossed a threshold"]:
        print(f"   · {reason}")
    print()

# %% [markdown]
# Each shift should leave its own fingerprint in the reasons: the traffic mix in the features that
# describe who is in the funnel, the new service in coverage, the re-tuned rules in which alert
# names fire. Which reasons name which shift:

# %%
fingerprints = {
    "traffic_mix": ("new_user_share", "segment_weight"),
    "new_service": (NEW_SERVICE,),
    "retuned_rules": ("alert_name",),
}
for shift, words in fingerprints.items():
    named = [r for r in audits["shifted"].audit.verdict.reasons if any(w in r for w in words)]
    print(f"{shift}: " + ("; ".join(named) if named else "NOT NAMED by any reason"))

# %% [markdown]
# ### Figure 2 — feature drift
#
# For every feature: the **population stability index** (PSI) of the audited week against the
# reference, on the reference's fixed bins (0.10 is a moderate shift, 0.25 a major one), backed by
# a test (Kolmogorov–Smirnov for numbers, chi-square for categories) so that a large PSI on a
# handful of alerts is not called drift. Bars: the shifted week; dots: the unshifted one. The
# number after each name is the feature's importance rank in the model (1 = most gain).

# %%
drift = {name: result.audit.features.set_index("feature") for name, result in audits.items()}
shown = drift["shifted"].sort_values("psi", ascending=False).head(20).iloc[::-1]
level_color = {"stable": "tab:gray", "moderate": "tab:orange", "major": "tab:red"}
fig, ax = plt.subplots(figsize=(10, 7))
ax.barh(
    [f"{f}  #{int(r)}" for f, r in zip(shown.index, shown["importance_rank"], strict=True)],
    shown["psi"],
    color=[level_color.get(level, "tab:gray") for level in shown["level"]],
)
ax.plot(
    drift["unshifted"].loc[shown.index, "psi"],
    range(len(shown)),
    "ko",
    ms=4,
    label="unshifted week",
)
for limit in (0.10, 0.25):
    ax.axvline(limit, color="black", lw=0.6, ls=":")
ax.set_xscale("symlog", linthresh=0.1)
ax.set_xlabel("PSI against the reference (symlog scale)")
ax.set_title("the 20 most drifted features of the shifted week (red: major, orange: moderate)")
ax.legend(loc="lower right")
plt.show()
drift["shifted"].loc[
    shown.index[::-1], ["kind", "importance_rank", "psi", "test", "p_value", "level"]
].head(10)

# %% [markdown]
# ### Figure 3 — one drifted feature up close
#
# The most drifted of the features the verdict weighs (those carrying `min_gain_share` of the
# gain or more, and any the model uses when the drift is major: `weighed`; `Thresholds` in `models/drift.py`), bin by bin: the share of alerts in each of the
# reference's bins in training, in the unshifted week and in the shifted one (for a category, the
# share of each value; values never seen in training pool as "(other)"). This is where a reviewer
# tells a broken pipeline (everything in one bin, or missing) from a changed world (mass moving
# between bins).

# %%
shifted = drift["shifted"]
weighed = shifted[weighed_by_the_verdict(shifted.reset_index(), Thresholds()).to_numpy()]
feature = weighed["psi"].idxmax()
reference = profile["features"][feature]

tables = {
    name: build_feature_table(raw[name], ranker.spec.config, ranker.baselines).frame
    for name in weeks
}
current = {name: table[table["fired_at"] >= since] for name, table in tables.items()}

if reference["kind"] == "numeric":
    edges = np.asarray(reference["edges"])
    names = (
        [f"< {edges[0]:.3g}"]
        + [f"{lo:.3g}–{hi:.3g}" for lo, hi in itertools.pairwise(edges)]
        + [f"≥ {edges[-1]:.3g}", "missing"]
        if len(edges)
        else ["all", "missing"]
    )
    shares = {"training": np.asarray(reference["shares"])} | {
        name: numeric_shares(frame[feature].to_numpy(dtype=float), edges)
        for name, frame in current.items()
    }
else:
    common = sorted(reference["shares"], key=reference["shares"].get, reverse=True)[:12]
    names = [*common, "(other)"]

    def category_shares(counts: dict) -> np.ndarray:
        total = max(sum(counts.values()), 1)
        kept = [counts.get(n, 0) for n in names[:-1]]
        return np.array([*kept, total - sum(kept)]) / total

    shares = {"training": category_shares(reference["shares"])} | {
        name: category_shares(categorical_counts(frame[feature])) for name, frame in current.items()
    }

x = np.arange(len(names))
fig, ax = plt.subplots(figsize=(12, 4))
for offset, (name, values) in zip((-0.27, 0, 0.27), shares.items(), strict=True):
    ax.bar(x + offset, values, 0.27, label=name)
ax.set_xticks(x, names, rotation=35, ha="right", fontsize=8)
ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
row = drift["shifted"].loc[feature]
ax.set_title(
    f"{feature}: share of alerts per reference bin (shifted week: PSI {row['psi']:.2f}, {row['level']})"
)
ax.legend()
plt.show()

# %% [markdown]
# ### Figure 4 — the score
#
# Features can drift in ways that cancel out; what reaches people is the score. The calibrated
# impact probability of the audited alerts against the reference sample the model carries. A
# shifted score distribution means the tiers, whose thresholds were fitted on the training score,
# will page a different number of alerts than promised (next figure).

# %%
scores = {"training (reference sample)": np.asarray(profile["score"]["sample"], dtype=float)} | {
    name: ranker.score(frame)["impact_probability"].to_numpy() for name, frame in current.items()
}
fig, ax = plt.subplots(figsize=(9, 4))
for name, values in scores.items():
    ordered = np.sort(values)
    ax.step(ordered, np.arange(1, len(ordered) + 1) / len(ordered), where="post", label=name)
ax.set_xscale("symlog", linthresh=0.01)
ax.set_xlabel("impact probability (symlog scale)")
ax.set_ylabel("share of alerts at or below")
psi = {name: result.audit.score["psi"] for name, result in audits.items()}
ax.set_title(
    "score distribution — PSI " + ", ".join(f"{name} {value:.2f}" for name, value in psi.items())
)
ax.legend()
plt.show()

# %% [markdown]
# ### Figure 5 — tiers and pages a day
#
# Training fitted the tier thresholds so that pages (P1 + P2) stay within the budget, and promised
# a number of pages a day. If the week pages far more, responders will start ignoring pages; far
# fewer, and impactful alerts are probably sitting in tickets. Outside the grey band the audit asks
# for a look.

# %%
tier_names = ["P1", "P2", "P3", "P4"]
mixes = {"training": audits["shifted"].audit.tiers["mix_trained"]} | {
    name: result.audit.tiers["mix"] for name, result in audits.items()
}
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [2, 1]})
x = np.arange(len(tier_names))
for offset, (name, mix) in zip((-0.27, 0, 0.27), mixes.items(), strict=True):
    left.bar(x + offset, [mix.get(t, 0.0) for t in tier_names], 0.27, label=name)
left.set_xticks(x, tier_names)
left.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
left.set_title("tier mix (share of alerts)")
left.legend()
pages = {"promised": audits["shifted"].audit.tiers["promised_pages_per_day"]} | {
    name: result.audit.tiers["pages_per_day"] for name, result in audits.items()
}
right.bar(list(pages), list(pages.values()), color=["tab:blue", "tab:orange", "tab:green"])
tolerance = Thresholds().pages_ratio
right.axhspan(
    pages["promised"] / tolerance, pages["promised"] * tolerance, color="gray", alpha=0.2, zorder=0
)
right.set_title(f"pages (P1 + P2) a day; band: promised ÷/× {tolerance:g}")
fig.tight_layout()
plt.show()

# %% [markdown]
# ### Figure 6 — coverage of the journey map
#
# A model can only tie an alert to a journey stage through the map. The audit counts alerts from
# services the map does not reach (they are ranked, but flagged and without a stage), services and
# alert rules that never appeared in training, and whether the map served is the map trained on.
# A new service that nobody added to the map is the classic silent failure: its alerts look
# harmless to the model, whatever they do to checkout. Read the new-services line, not only the
# unmapped share: a share can fall (more alerts from mapped services) while a new blind spot opens.

# %%
coverage = pd.DataFrame({name: result.audit.coverage for name, result in audits.items()})
display(
    coverage.loc[
        [
            "unmapped_share",
            "unmapped_share_trained",
            "new_services",
            "new_service_share",
            "new_rule_share",
            "map_version_trained",
            "map_version_served",
        ]
    ]
)
new_alerts = audits["shifted"].audit.coverage.get("new_service_alerts", {})
if new_alerts:
    pd.Series(new_alerts).sort_values().plot.barh(
        figsize=(7, 0.4 * len(new_alerts) + 1.2),
        color="tab:red",
        title="alerts from services never seen in training (shifted week)",
    )
    plt.show()

# %% [markdown]
# ### Figure 7 — performance on matured labels
#
# Drift says the inputs changed; it does not say the ranking got worse. Once the journey outcomes
# of the 30 minutes after each alert have arrived, the audit derives the labels (feedback
# applied) and measures what the model was judged on at training: PR-AUC, impact-weighted recall
# at the page budget and calibration error.
#
# Some weeks are simply harder than others — fewer or smaller incidents make every ordering look
# worse. So the audit judges the model's **margin over today's best ordering** (severity, the
# criticality rule or the journey weight, whichever does best that week) against the margin it had
# on its held-out days, allowing for chance. Below: the model (solid) and today's best ordering
# (hatched) on the held-out days and in each audited week.

# %%
performance = {name: result.audit.performance for name, result in audits.items()}
periods = {"held-out days": profile["held_out"]} | {
    name: found["now"] for name, found in performance.items() if found is not None
}
fig, axes = plt.subplots(1, 2, figsize=(12, 4))
for ax, (metric, title) in zip(
    axes,
    {"iw_recall_at_budget": "impact-weighted recall at the budget", "pr_auc": "PR-AUC"}.items(),
    strict=True,
):
    x = np.arange(len(periods))
    model = [figures[metric] for figures in periods.values()]
    best = [figures.get(f"reference_{metric}", np.nan) for figures in periods.values()]
    ax.bar(x - 0.2, model, 0.4, label="model", color="tab:blue")
    ax.bar(
        x + 0.2,
        best,
        0.4,
        label="today's best ordering",
        color="white",
        edgecolor="tab:blue",
        hatch="//",
    )
    for i, (m, b) in enumerate(zip(model, best, strict=True)):
        ax.text(i, max(m, b), f"{m - b:+.2f}", ha="center", va="bottom", fontsize=9)
    ax.set_xticks(x, list(periods))
    ax.set_title(f"{title} (margin above the bars)")
axes[0].legend(loc="upper center", fontsize=8)
fig.tight_layout()
plt.show()
pd.DataFrame(periods).T[["alerts", "positives", "pr_auc", "iw_recall_at_budget", "ece"]]

# %% [markdown]
# Per stage, the audit also lists PR-AUC against the held-out figure; with a week of data most
# stages have only a handful of impactful alerts, so read these as pointers, not verdicts.

# %%
if performance["shifted"] is not None:
    display(pd.DataFrame(performance["shifted"]["by_stage"]).T)

# %% [markdown]
# ## 4. The report, the JSON and the MLflow run
#
# Everything above is in the files the audit wrote. `audit.html` opens offline (plots embedded) and
# is what to attach to a review; `audit.json` holds every figure for a dashboard or a scheduler;
# the MLflow run in the `audits` experiment is tagged with the model version and the verdict, so
# audits of one model can be compared over time.

# %%
for name, result in audits.items():
    print(
        f"{name}: {result.html} ({result.html.stat().st_size / 1024:.0f} KiB), {result.json.name}"
    )
print("audit.json sections:", ", ".join(json.loads(audits["shifted"].json.read_text())))
runs = mlflow.search_runs(experiment_names=["audits"])
runs[
    [
        c
        for c in (
            "run_id",
            "tags.model_version",
            "tags.verdict",
            "metrics.score_psi",
            "metrics.pages_per_day",
        )
        if c in runs
    ]
]

# %% [markdown]
# ## What the reviewer does next
#
# * **ok** — nothing; schedule the next audit (`--fail-on investigate` in a scheduler turns a
#   finding into a failed job).
# * **investigate** — read the reasons against the figures: is it the world (a campaign, a new
#   service) or the pipeline (a feature that went missing)? Fix the map first when coverage is the
#   cause: `journey_map.yaml` is data, and a model trained on the new map is the cure.
# * **retrain** — retrain on data that includes the new period (`journeyrank train --data DIR`); the
#   champion gate still decides whether the new version replaces the old one on the same held-out
#   days. Notebook **02** shows that gate.
