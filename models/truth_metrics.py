"""Figures against a simulator's truth (evaluation only): label agreement and orderings, per alert and per incident."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.metrics import impact_weighted_recall, paged_at_budget, ranking_metrics, ranking_order

TRUTH_BUDGET = 0.10  # the page budget the cross-world figures are read at


def truth_agreement(frame: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """Derived labels against the truth: precision, recall, and impact-weighted recall (the
    share of the true lost value that falls on alerts the labels call impactful)."""
    labelled = frame[frame["label"].notna()]
    known = truth.set_index("alert_id").reindex(labelled["alert_id"])
    true = known["true_impact"].fillna(0).to_numpy().astype(int)
    value = known["true_lost_value"].fillna(0).to_numpy(np.float64)
    derived = labelled["label"].astype(int).to_numpy()
    hits = (derived == 1) & (true == 1)
    total_value = float(value[true == 1].sum())
    return {
        "precision": float(hits.sum()) / max(int(derived.sum()), 1),
        "recall": float(hits.sum()) / max(int(true.sum()), 1),
        "iw_recall": float(value[hits].sum()) / total_value if total_value > 0 else float("nan"),
        "derived_rate": float(derived.mean()) if len(derived) else float("nan"),
        "true_rate": float(true.mean()) if len(true) else float("nan"),
    }


def orderings_against_truth(
    alert_ids: pd.Series,
    scores: dict[str, np.ndarray],
    truth: pd.DataFrame,
    budget: float = TRUTH_BUDGET,
) -> pd.DataFrame:
    """One row per ordering: PR-AUC, ROC-AUC and impact-weighted recall at `budget` against the
    true impact, per alert and with each true incident counted once (`incident_*`).

    Counting an incident once: its alerts collapse to one item scored by its best-ranked alert
    (what a responder reading the queue meets first), weighed by its true lost value; an alert of
    no incident (noise) is an item of its own.
    """
    known = truth.set_index("alert_id").reindex(pd.Index(alert_ids))
    label = known["true_impact"].fillna(0).to_numpy().astype(int)
    value = known["true_lost_value"].fillna(0).to_numpy(np.float64)
    group = known["incident_id"].astype(object).where(known["incident_id"].notna(), None)
    group = np.where(pd.isna(group), "alert:" + pd.Index(alert_ids).astype(str), group)
    codes = pd.factorize(group)[0]
    rows = {}
    for name, score in scores.items():
        score = np.asarray(score, dtype=np.float64)
        per_alert = ranking_metrics(score, label, value)
        items = (
            pd.DataFrame({"item": codes, "score": score, "label": label, "value": value})
            .groupby("item")
            .agg(score=("score", "max"), label=("label", "max"), value=("value", "max"))
        )
        per_incident = ranking_metrics(items["score"], items["label"], items["value"])
        rows[name] = {
            "pr_auc": per_alert["pr_auc"],
            "roc_auc": per_alert["roc_auc"],
            "iw_recall": impact_weighted_recall(score, label, value, budget),
            "incident_pr_auc": per_incident["pr_auc"],
            "incident_iw_recall": impact_weighted_recall(
                items["score"].to_numpy(),
                items["label"].to_numpy(),
                items["value"].to_numpy(),
                budget,
            ),
        }
    return pd.DataFrame(rows).T


def grouping_against_truth(
    alert_ids: pd.Series,
    incident_ids: pd.Series,
    truth: pd.DataFrame,
    true_incidents: pd.DataFrame | None = None,
) -> dict[str, float]:
    """Predicted incidents against the true ones: pairwise precision, recall and F1 over the
    pairs of alerts put together (an alert of no true incident is a singleton of its own),
    compression (1 − incidents / alerts) and the truth's own compression (its ceiling at F1 = 1).

    With `true_incidents` (the simulator's truth_incidents), also `truth_f1_concurrent_as_one`:
    the F1 of the true incidents themselves once concurrent failures of one service are taken
    as one (concurrent_failures_as_one): what a grouping that puts those together, and is right
    otherwise, gets."""
    known = truth.set_index("alert_id").reindex(pd.Index(alert_ids.astype(str)))
    true = _singletons(known["incident_id"], alert_ids)
    predicted = pd.Series(np.asarray(incident_ids, dtype=object))
    both = _pairs(true, predicted)
    n = len(predicted)
    found = {
        "alerts": float(n),
        "pairwise_precision": both["joint"] / both["predicted"] if both["predicted"] else 1.0,
        "pairwise_recall": both["joint"] / both["true"] if both["true"] else 1.0,
        "pairwise_f1": _f1(both),
        "compression": 1.0 - predicted.nunique() / n if n else float("nan"),
        "truth_compression": 1.0 - true.nunique() / n if n else float("nan"),
    }
    if true_incidents is not None:
        as_one = concurrent_failures_as_one(true_incidents)
        found["truth_f1_concurrent_as_one"] = _f1(
            _pairs(true, true.map(lambda i: as_one.get(i, i)))
        )
    return found


def concurrent_failures_as_one(true_incidents: pd.DataFrame) -> dict[str, str]:
    """Each true incident (incident_id, service, start, end, region) -> the earliest of the
    failures of the same service it overlaps in time, in its region (a failure of no region
    overlaps every region), directly or through others that do.

    Concurrent failures of one service show on the same services, through the same rules, at
    the same time, and no alert says which of them it belongs to: a grouping by what alerts
    carry cannot be expected to tell them apart."""
    ordered = true_incidents.sort_values(["start", "incident_id"], kind="stable")
    first = {i: i for i in ordered["incident_id"]}
    place = {i: n for n, i in enumerate(first)}  # earliest first

    def root(incident_id: str) -> str:
        while first[incident_id] != incident_id:
            incident_id = first[incident_id]
        return incident_id

    for _, failures in ordered.groupby("service", sort=False):
        rows = list(failures.itertuples(index=False))
        for at, early in enumerate(rows):
            for late in rows[at + 1 :]:
                if late.start > early.end:
                    break  # ordered by start: no later one overlaps `early` either
                if pd.isna(early.region) or pd.isna(late.region) or early.region == late.region:
                    a, b = sorted((root(early.incident_id), root(late.incident_id)), key=place.get)
                    first[b] = a
    return {incident_id: root(incident_id) for incident_id in first}


def grouping_errors(
    alert_ids: pd.Series, incident_ids: pd.Series, truth: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where pairwise precision and recall are lost, worst first. Merges: per predicted incident,
    its alerts, the true incidents among them (a noise alert is one of its own; `parts`: their
    ids, most alerts first) and its share of all false pairs. Splits: per true incident, its
    alerts, the predicted incidents they fell in (`parts`) and its share of all missed pairs."""
    known = truth.set_index("alert_id").reindex(pd.Index(alert_ids.astype(str)))
    true = _singletons(known["incident_id"], alert_ids)
    joint = _joint(true, pd.Series(np.asarray(incident_ids, dtype=object)))
    joint["pairs"] = joint["n"] * (joint["n"] - 1) / 2
    merges = _wrong_pairs(joint, "predicted", "true", ("true_incidents", "false_pairs_share"))
    truly = joint[joint["true"].isin(set(known["incident_id"].dropna()))]  # noise is never split
    splits = _wrong_pairs(truly, "true", "predicted", ("pieces", "missed_pairs_share"))
    return merges, splits


def _wrong_pairs(joint: pd.DataFrame, by: str, other: str, names: tuple[str, str]) -> pd.DataFrame:
    """Per `by` group: alerts, distinct `other` groups among them (and their ids, most alerts
    first), and its share of the pairs it puts together that `other` does not."""
    joint = joint.sort_values("n", ascending=False, kind="stable")
    found = joint.groupby(by, sort=False).agg(
        alerts=("n", "sum"), parts=(other, tuple), joint=("pairs", "sum")
    )  # a (by, other) pair is one row of `joint`: its parts are distinct
    wrong = found["alerts"] * (found["alerts"] - 1) / 2 - found["joint"]
    total = wrong.sum()
    found = found.assign(count=found["parts"].map(len), share=wrong / total if total > 0 else 0.0)
    found = found[wrong > 0].drop(columns="joint")
    found = found[["alerts", "count", "parts", "share"]]
    found = found.rename(columns={"count": names[0], "share": names[1]})
    return found.sort_values(names[1], ascending=False, kind="stable").rename_axis("incident_id")


def missed_at_budget(
    alert_ids: pd.Series,
    score: np.ndarray,
    truth: pd.DataFrame,
    services: pd.Series | None = None,
    budget: float = TRUTH_BUDGET,
) -> pd.DataFrame:
    """Where an ordering's impact-weighted recall at `budget` is lost: per true incident with
    impact, its alerts, how many fall within the budget, the best rank among them (1 is the top),
    and the share of all the true lost value its alerts outside the budget hold (as
    impact_weighted_recall weighs it: each alert by its value, so a chatty incident counts once per
    alert). Most missed first; `services`: the alerts' services, to name each incident's."""
    ids = pd.Index(np.asarray(alert_ids, dtype=object))
    known = truth.set_index("alert_id").reindex(ids)
    hurt = known["true_impact"].fillna(0).to_numpy().astype(int) == 1
    value = np.where(hurt, known["true_lost_value"].fillna(0).to_numpy(np.float64), 0.0)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[ranking_order(score)] = np.arange(1, len(ids) + 1)
    paged = paged_at_budget(score, budget)
    total = value.sum()
    frame = pd.DataFrame(
        {
            "incident_id": known["incident_id"].to_numpy(dtype=object),
            "service": "" if services is None else np.asarray(services, dtype=object),
            "paged": paged,
            "rank": rank,
            "missed": np.where(paged, 0.0, value) / total if total > 0 else 0.0,
        }
    )[hurt]
    columns = ["incident_id", "services", "alerts", "paged", "best_rank", "missed_share"]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    found = frame.groupby("incident_id", sort=False).agg(
        services=("service", lambda s: ",".join(sorted(set(map(str, s))))),
        alerts=("paged", "size"),
        paged=("paged", "sum"),
        best_rank=("rank", "min"),
        missed_share=("missed", "sum"),
    )
    return found.reset_index().sort_values("missed_share", ascending=False, kind="stable")[columns]


def _singletons(incident_id: pd.Series, alert_ids: pd.Series) -> pd.Series:
    own = "alert:" + pd.Series(np.asarray(alert_ids, dtype=str))
    values = incident_id.astype(object).to_numpy()
    return pd.Series(np.where(pd.isna(values), own.to_numpy(), values), dtype=object)


def _pairs(true: pd.Series, predicted: pd.Series) -> dict[str, float]:
    """Pairs of alerts in one true incident, in one predicted incident, and in both."""

    def pairs(sizes: pd.Series) -> float:
        sizes = sizes.to_numpy(np.float64)
        return float((sizes * (sizes - 1) / 2).sum())

    joint = _joint(true, predicted)
    return {
        "true": pairs(joint.groupby("true")["n"].sum()),
        "predicted": pairs(joint.groupby("predicted")["n"].sum()),
        "joint": pairs(joint["n"]),
    }


def _joint(true: pd.Series, predicted: pd.Series) -> pd.DataFrame:
    """Alerts per (true, predicted) incident that share any: columns true, predicted, n."""
    frame = pd.DataFrame({"true": true.to_numpy(), "predicted": predicted.to_numpy()})
    return frame.groupby(["true", "predicted"]).size().rename("n").reset_index()


def _f1(pairs: dict[str, float]) -> float:
    precision = pairs["joint"] / pairs["predicted"] if pairs["predicted"] else 1.0
    recall = pairs["joint"] / pairs["true"] if pairs["true"] else 1.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def pages_per_true_incident(
    alert_ids: pd.Series, incident_ids: pd.Series, pages: np.ndarray, truth: pd.DataFrame
) -> float:
    """Pages a true incident cost, over the true incidents that got any: the pages of every
    predicted incident that holds one of its alerts (`pages`: which alerts sent a page)."""
    known = truth.set_index("alert_id").reindex(pd.Index(alert_ids.astype(str)))
    frame = pd.DataFrame(
        {
            "true": known["incident_id"].to_numpy(),
            "predicted": np.asarray(incident_ids, dtype=object),
            "pages": np.asarray(pages, dtype=np.int64),
        }
    )
    per_predicted = frame.groupby("predicted")["pages"].sum()
    overlaps = frame.dropna(subset=["true"]).drop_duplicates(["true", "predicted"])
    per_true = overlaps["predicted"].map(per_predicted).groupby(overlaps["true"]).sum()
    paged = per_true[per_true > 0]
    return float(paged.mean()) if len(paged) else float("nan")
