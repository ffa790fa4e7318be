"""What an impact label and a feature mean, as typed settings: every threshold is data, logged per run."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaselineConfig(_Config):
    """Robust per stage × segment × hour-of-week baselines that incidents do not distort."""

    trim_z: float = Field(
        4.0,
        gt=0,
        description="Windows whose rate sits this many robust SDs off the median are left out (incidents).",
    )
    shrink_sessions: float = Field(
        500.0,
        ge=0,
        description="Pseudo-sessions pulling a sparse hour-of-week toward its hour-of-day rate.",
    )


class LabelConfig(_Config):
    """An alert had user impact when its stages lost completions that are significant *and* material."""

    impact_window_min: int = Field(
        30, gt=0, description="Minutes after fired_at in which the loss is measured."
    )
    min_z: float = Field(
        2.5,
        ge=0,
        description="Statistical significance: one-sided z of lost completions (2.5: p ≈ 0.006).",
    )
    min_lost_completions: float = Field(
        10.0, ge=0, description="Materiality: completions lost at a stage."
    )
    min_relative_drop: float = Field(
        0.05, ge=0, le=1, description="Materiality: share of the stage's expected completions lost."
    )


class EpisodeConfig(_Config):
    """When a stage counts as degraded, and when restored (hysteresis): thresholds as logged data.

    Each window gets a one-sided z of its lost completions (expected from the baselines, variance
    widened by their dispersion). Degraded windows less than `exit_windows` normal windows apart
    form one candidate; it becomes an episode when its windows together are significant over at
    least `enter_windows` degraded windows (a single noisy window never is), or when one window
    alone is extreme, and is kept when material. See `episode_spans`.
    """

    window_z: float = Field(
        1.5, ge=0, description="Per-window z at which a window counts as degraded (and stays so)."
    )
    edge_z: float = Field(
        1.0,
        description="A window below `window_z` still counts inside a significant stretch from this z.",
    )
    smooth_windows: int = Field(
        3, ge=1, description="Windows (centred) whose pooled z keeps a slow burn degraded."
    )
    enter_z: float = Field(
        4.0, ge=0, description="Pooled z of an episode's windows needed to open it."
    )
    enter_windows: int = Field(
        2, ge=1, description="Degraded windows needed to open an episode ..."
    )
    single_window_z: float = Field(
        8.0, ge=0, description="... unless one window alone is this extreme (no noise gets there)."
    )
    exit_windows: int = Field(
        2, ge=1, description="Consecutive normal windows that close an episode (restored)."
    )
    min_lost_completions: float = Field(
        10.0, ge=0, description="Materiality: completions the episode lost in all."
    )
    min_relative_drop: float = Field(
        0.05, ge=0, le=1, description="Materiality: share of the expected completions lost."
    )
    slice_z: float = Field(
        2.0, ge=0, description="A segment or region is hurt when its own loss reaches this z ..."
    )
    slice_min_relative_drop: float = Field(
        0.05, ge=0, le=1, description="... and this share of its expected completions."
    )
    alert_lead_min: float = Field(
        15.0, ge=0, description="Alerts fired this long before an episode starts count as its own."
    )
    baselines: BaselineConfig = Field(
        BaselineConfig(), description="How baselines are fitted when none are given."
    )

    @field_validator("smooth_windows")
    @classmethod
    def _centred(cls, windows: int) -> int:
        if windows % 2 == 0:
            raise ValueError("an odd number of windows (the smoothing is centred on each window)")
        return windows


class AttributionConfig(_Config):
    """Which alerts a degradation is credited to (features/attribution.py): the training target."""

    method: Literal["attributed", "window"] = Field(
        "attributed",
        description="attributed: credit the alerts that explain each degradation episode; "
        "window: every alert whose stages lost completions in the impact window after it.",
    )
    episodes: EpisodeConfig = Field(
        EpisodeConfig(), description="When a stage counts as degraded, for attribution."
    )
    by_region: bool = Field(
        True, description="Look for degradations in each region too (a failure in one region)."
    )
    time_scales: tuple[int, ...] = Field(
        (1,), description="Look for degradations in windows summed by these many, too (slow burns)."
    )
    lead_min: float = Field(
        15.0, ge=0, description="A cause may fire this long before its episode starts."
    )
    chain_gap_min: float = Field(
        15.0, ge=0, description="Firings of one rule on one service this close form one chain."
    )
    open_hold_min: float = Field(
        30.0, gt=0, description="How long a firing without resolved_at counts as active."
    )
    onset_min: float = Field(
        15.0,
        ge=0,
        description="A chain that began this soon after its episode started began at the onset.",
    )
    end_slack_min: float = Field(
        5.0, ge=0, description="A chain still active this close to its episode's end outlived it."
    )
    companion_min: float = Field(
        10.0, ge=0, description="Related alerts that began this close count as firing together."
    )
    null_shift_days: tuple[int, ...] = Field(
        (1, 2, 3, 7),
        description="Chance is what a rule meets of the episodes moved this many days both ways.",
    )
    prior_chains: float = Field(
        2.0, ge=0, description="Pseudo-chains pulling a sparse rule-on-service to its rule's share."
    )
    score_evidence: bool = Field(
        True,
        description="Weigh an alert's anomaly_score as evidence too: the share of candidates "
        "beyond chance in its quarter of [0, 1] (alerts without one form their own group).",
    )
    min_posterior: float = Field(
        0.5, ge=0, le=1, description="Probability of being a cause needed for credit."
    )
    share_credit: Literal["none", "service", "callers", "neighbours", "failure"] = Field(
        "failure",
        description="Credit also the other alerts of a cause's failure: those fired while it "
        "lasted on the cause's service and its callers whose rule fires in failures beyond chance "
        "(failure: see `failure_members`); or those that began with its onset on the cause's "
        "service (service), on it and the services that call it, directly or not (callers), or "
        "on it and its direct callers and callees (neighbours).",
    )
    min_failure_chains: int = Field(
        2,
        ge=1,
        description="failure: distinct chains among an episode's causes before it shares credit.",
    )
    member_hops: int = Field(
        0,
        ge=0,
        description="failure: callers this many calls away share the failure's credit too (0: "
        "the cause's service only; 2 lifts recall on the worlds but the sample's model meets its "
        "labels at 0.86 of their own ordering, under the 0.9 the training test asks).",
    )
    late_grace_min: float = Field(
        10.0,
        ge=0,
        description="failure: alerts fired this long after the episode ended still count.",
    )
    min_member_share: float = Field(
        0.8,
        ge=0,
        le=1,
        description="failure: share of a rule-on-service's chains in failures beyond chance needed.",
    )
    incident_evidence: bool = Field(
        True,
        description="Weigh the size of an alert's incident (features/incidents.py, over the whole "
        "history) as evidence too: the share of candidates beyond chance among alerts whose "
        "incident holds 1, 2, 3-5 or 6+ alert series (a coincidence most often fires alone).",
    )
    incident_members: bool = Field(
        True,
        description="Credit also the alerts the incident grouper put in a credited alert's "
        "incident, fired from `lead_min` before its episode to `late_grace_min` after it: "
        "symptoms on services that call a credited service within `incident_hops` calls, and "
        "synthetic checks, where their rule fires in failures beyond chance (`min_incident_share`).",
    )
    incident_hops: int = Field(
        2, ge=0, description="incident_members: callers this many calls away at most."
    )
    root_hops: int = Field(
        1,
        ge=0,
        description="incident_members: credit also, in an incident, the alerts fired by the "
        "episode's end on a service that `min_root_callers` credited services of the incident "
        "call within this many calls (their common root), where their rule fires in failures "
        "beyond chance, and then the symptoms on the root's other callers (0: none).",
    )
    min_root_callers: int = Field(
        3,
        ge=1,
        description="root_hops: credited services of an incident that must call a service for it "
        "to be their root (2 lifts shop2's recall as much but credits bystanders in media1).",
    )
    check_members: bool = Field(
        True,
        description="Credit also the synthetic checks, in whatever incident, fired from `lead_min` "
        "before a credited episode to `late_grace_min` after it that probe a stage the episode "
        "was measured on (in its region, for a regional one), where their rule fires in failures "
        "beyond chance (`min_incident_share`): the grouper joins a check only to a young incident.",
    )
    series_members: bool = Field(
        True,
        description="Credit also the earlier firings, in the same incident, of the series (rule "
        "on service) of an alert that shares a cause's credit: a slow failure's first signs, "
        "fired before its drop was significant (a cause's own earlier firings were judged as "
        "candidates; the incident keeps a rule's unrelated firings out).",
    )
    min_incident_share: float = Field(
        0.5,
        ge=0,
        le=1,
        description="incident_members: share of a rule-on-service's chains in failures beyond "
        "chance needed (lower than `min_member_share`: the grouper's incident is evidence too).",
    )
    min_shared_posterior: float = Field(
        0.0,
        ge=0,
        le=1,
        description="service, callers, neighbours: an alert shares a cause's credit only when it "
        "is this plausible a cause itself (failure judges its members by `min_member_share`).",
    )
    persisting_min: float = Field(
        120.0,
        ge=0,
        description="A condition (chain) active this long is a slow burn's own evidence: it is "
        "credited when its service's stages lost completions over its life, outside that "
        "service's episodes (`persisting_z`, `persisting_drop`) — a slow burn on a quiet stage "
        "never opens an episode (0: off).",
    )
    persisting_z: float = Field(
        3.0, ge=0, description="... significance of that loss: z of all regions together ..."
    )
    persisting_drop: float = Field(
        0.03,
        ge=0,
        le=1,
        description="... and its share of the expected completions (a mean over a ramp, so lower "
        "than the episodes' peak bar).",
    )
    credit_unmapped: bool = Field(
        True, description="Judge services the map links to no stage against every stage's episodes."
    )
    unmapped_by_evidence: bool = Field(
        True,
        description="Judge an unmapped service only against the stages whose degradations its "
        "alerts precede beyond chance (the map check's evidence), and read a migration's new "
        "service as the old one the map still names.",
    )
    min_unmapped_posterior: float = Field(
        0.5,
        ge=0,
        le=1,
        description="The probability an unmapped service's alert needs (raise it when "
        "`unmapped_by_evidence` is off: every stage is then its suspect).",
    )


class FeatureConfig(_Config):
    """Windows and priors of the point-in-time features."""

    live_data_delay_min: float = Field(
        0.0,
        ge=0,
        description="Minutes after a window ends before its outcomes are counted live (the feed's lag).",
    )
    flap_resolve_min: int = Field(
        10, gt=0, description="A firing resolved this fast counts as a flap."
    )
    change_lookback_min: int = Field(10080, gt=0, description="How far back a change still counts.")
    impact_prior_strength: float = Field(
        10.0, ge=0, description="Pseudo-labels pulling a rule's impact rate to the overall rate."
    )
    new_user_segments: tuple[str, ...] = Field(
        ("new",), description="Segments counted as new users."
    )


class IncidentConfig(_Config):
    """When a new alert joins an open incident (features/incidents.py): point in time, logged per run."""

    quiet_min: float = Field(
        60.0, gt=0, description="An incident with no new alert for this long is closed (quiet)."
    )
    resolved_grace_min: float = Field(
        0.0,
        ge=0,
        description="An incident whose alerts have all resolved closes after this long (a re-fire "
        "within it still joins; 0: when the last resolves).",
    )
    open_hold_min: float = Field(
        240.0, gt=0, description="A firing with no resolution yet counts as firing this long."
    )
    max_hops: int = Field(
        2,
        ge=0,
        description="A caller and its callee this many calls apart (in the map's dependencies) "
        "may share a cause.",
    )
    join_min: float = Field(
        240.0,
        ge=0,
        description="Through the call graph, an alert joins an incident only this young (minutes "
        "since its first alert); later, only re-fires of its rules join.",
    )
    join_gap_min: float = Field(
        20.0,
        ge=0,
        description="... and only this soon after its latest new symptom (a burst, not a trickle).",
    )
    confirm_symptoms: int = Field(
        2,
        ge=1,
        description="Symptoms (alert series) fired in one burst that confirm an incident: only a "
        "confirmed incident takes new symptoms after the burst, and re-fires.",
    )
    confirmed_gap_min: float = Field(
        15.0,
        ge=0,
        description="A confirmed incident takes new symptoms this soon after its latest alert "
        "(a failure's symptoms come close together; what fires after a lull is more often noise "
        "or a failure of its own).",
    )
    series_labels: tuple[str, ...] = Field(
        ("instance",),
        description="With service and alert_name, the labels that make one alert series: its "
        "re-fires join the incident while it is open.",
    )
    related_min: float = Field(
        0.0,
        ge=0,
        description="Through a shared callee (a sibling), an alert joins an incident only this "
        "young (0: never; bystanders of a degraded stage alert by coincidence, and a failing "
        "callee's own alerts link its callers anyway).",
    )
    probe_join_min: float = Field(
        60.0,
        ge=0,
        description="A synthetic check (see stage_labels) joins an incident only this young "
        "(minutes since its first alert): it names a stage, not a cause, and a stage that fails "
        "an hour into an incident is more often a new failure of its own.",
    )
    symptom_signals: tuple[str, ...] = Field(
        ("errors", "latency", "availability", "anomaly"),
        description="Signals by which a failure shows on its callers and beside it; other signals "
        "join only on or below the incident's root.",
    )
    min_anomaly_score: float = Field(
        0.3,
        ge=0,
        le=1,
        description="A detector's alert less confident than this joins only as a re-fire or by key.",
    )
    noisy_rule_per_day: float = Field(
        4.0,
        ge=0,
        description="A rule (service and alert_name) that has fired more often than this per day "
        "so far (counted over at least a day) is noisy: its alert joins an incident only by an "
        "upstream group key or when its service is already in a confirmed one, and an incident "
        "with no symptom from a rule that is not noisy draws others only by key (0: off).",
    )
    same_region: bool = Field(
        True, description="Alerts from different regions never join one incident."
    )
    same_labels: tuple[str, ...] = Field(
        ("cluster", "namespace"),
        description="Labels that, when both sides carry them and they differ, keep alerts apart.",
    )
    key_labels: tuple[str, ...] = Field(
        ("groupKey", "group_key", "dedup_key", "incident_key", "fingerprint"),
        description="Labels naming a group upstream (Alertmanager, PagerDuty): the same value joins.",
    )
    stage_labels: tuple[str, ...] = Field(
        ("check",),
        description="Labels by which a synthetic check names the stage it probes (journey/stage): "
        "it joins an incident that puts that stage at risk.",
    )
    change_window_min: float = Field(
        60.0, ge=0, description="A change this recent on a service makes it the root candidate."
    )
    keep_closed: int = Field(
        2000, ge=0, description="Closed incidents kept in the persisted state (the latest)."
    )


class FeatureJobConfig(_Config):
    """Everything that defines the feature table: baselines, labels, features and incidents."""

    baselines: BaselineConfig = BaselineConfig()
    labels: LabelConfig = LabelConfig()
    attribution: AttributionConfig = AttributionConfig()
    features: FeatureConfig = FeatureConfig()
    incidents: IncidentConfig = IncidentConfig()
