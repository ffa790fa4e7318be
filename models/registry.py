"""The MLflow registry: where rankers are registered, which one is champion, and how that changes."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from models.ranker_files import load_ranker
from models.ranking import Ranker

CHAMPION, CHALLENGER = "champion", "challenger"
EXPERIMENT = "journeyrank"


def use_tracking(uri: str, experiment: str = EXPERIMENT) -> MlflowClient:
    """Point MLflow (tracking and registry) at `uri` and make sure the experiment exists."""
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if client.get_experiment_by_name(experiment) is None:
        with contextlib.suppress(MlflowException):  # another process may have created it first
            client.create_experiment(experiment, artifact_location=artifact_root(uri))
    mlflow.set_experiment(experiment)
    return client


def artifact_root(uri: str) -> str | None:
    """Artifacts beside a SQLite store (MLflow's default is ./mlruns of whatever the working
    directory is); a tracking server keeps its own default."""
    prefix = "sqlite:///"
    if not uri.startswith(prefix):
        return None
    return (Path(uri[len(prefix) :]).resolve().parent / "mlartifacts").as_uri()


def version_of(client: MlflowClient, name: str, alias: str):
    """The model version behind an alias, or None when nothing holds it yet."""
    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def resolve(client: MlflowClient, uri: str) -> tuple[str, str | None]:
    """`models:/name@alias` or `models:/name/3` to (name, version); other URIs (runs:/…) have no version."""
    if not uri.startswith("models:/"):
        return uri, None
    ref = uri[len("models:/") :]
    if "@" in ref:
        name, alias = ref.split("@", 1)
        found = version_of(client, name, alias)
        if found is None:
            raise LookupError(
                f"no model version of {name!r} holds the alias @{alias}: train one first"
            )
        return name, str(found.version)
    name, _, version = ref.partition("/")
    return name, version or None


def load_ranker_from(uri: str) -> Ranker:
    """The Ranker inside a logged pyfunc (its plain-file artifacts), from any MLflow model URI."""
    local = mlflow.artifacts.download_artifacts(artifact_uri=f"{uri.rstrip('/')}/artifacts/ranker")
    return load_ranker(Path(local))


@dataclass(frozen=True)
class GateDecision:
    alias: str  # champion or challenger
    new_figure: float
    champion_figure: float | None
    champion_version: str | None
    metric: str
    rules_beaten: dict[str, tuple[float, float]] | None = None  # rule -> (model, rule) PR-AUC
    lost_to: tuple[str, ...] = ()  # the rules the model did not beat
    pr_auc: tuple[float, float] | None = None  # (new model, champion) PR-AUC, the gate's guard

    @property
    def promoted(self) -> bool:
        return self.alias == CHAMPION

    def sentence(self) -> str:
        if self.lost_to:
            figures = ", ".join(f"{rule} {self.rules_beaten[rule][1]:.3f}" for rule in self.lost_to)
            model = self.rules_beaten[self.lost_to[0]][0]
            return (
                f"new model does not beat the rules on the held-out days (PR-AUC {model:.3f} vs "
                f"{figures}): it stays @{CHALLENGER}, never shipped worse than the rule"
            )
        if self.champion_figure is None:
            return f"no champion yet: version becomes @{CHAMPION} ({self.metric} {self.new_figure:.3f})"
        verb = "beats" if self.promoted else "does not beat"
        guard = (
            "" if self.pr_auc is None else f", PR-AUC {self.pr_auc[0]:.3f} vs {self.pr_auc[1]:.3f}"
        )
        return (
            f"new model {verb} champion v{self.champion_version} on the same held-out days: "
            f"{self.metric} {self.new_figure:.3f} vs {self.champion_figure:.3f}{guard} → "
            f"@{self.alias}"
        )


def gate(
    new_figure: float,
    champion_figure: float | None,
    champion_version: str | None,
    metric: str,
    rule_pr_auc: dict[str, tuple[float, float]] | None = None,
    pr_auc: tuple[float, float] | None = None,
) -> GateDecision:
    """Champion only when the model beats every rule (`rule_pr_auc`: rule -> (model, rule) PR-AUC
    on the held-out days, strictly) and is strictly better than the champion on the primary
    metric (a tie keeps the proven model) without being worse on PR-AUC (`pr_auc`: new model,
    champion). The primary metric reads the top of the ranking at the page budget only, where a
    crude model can match a fine one; a model that gives up the rest of the ordering for it is
    left for a person to promote."""
    lost = tuple(
        rule for rule, (model, figure) in (rule_pr_auc or {}).items() if not model > figure
    )
    guarded = pr_auc is None or pr_auc[0] >= pr_auc[1]
    better = champion_figure is None or (new_figure > champion_figure and guarded)
    return GateDecision(
        CHAMPION if better and not lost else CHALLENGER,
        new_figure,
        champion_figure,
        champion_version,
        metric,
        rule_pr_auc,
        lost,
        pr_auc if champion_figure is not None else None,
    )


def set_alias(client: MlflowClient, name: str, alias: str, version: str, reason: str) -> None:
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, f"{alias}_reason", reason)
