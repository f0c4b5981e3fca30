"""Champion vs challenger on rows neither model has seen.

The evaluate stage hands :func:`judge_challenger` its holdout and the identity
of its training rows (see :mod:`mlops_nb.prep.keys`). The model at the champion
alias recorded the identities of *its* training rows when it was registered;
every holdout row one of the two models trained on is left out, and both are
scored on the rest. The gate (:func:`~mlops_nb.registry.gate.decide_promotion`)
then decides on those scores only. Too few rows left, or a champion whose
training rows are unknown, is said, not decided: the challenger is registered
without taking the alias, and a person can promote it by hand.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops_nb.errors import ModelNotFoundError, RegistryError
from mlops_nb.modeling import Predictions, check_predictions, compare_models, primary_metric
from mlops_nb.prep.keys import KEY_COLUMN, SplitRule
from mlops_nb.registry.gate import PromotionDecision, PromotionRecord, decide_promotion
from mlops_nb.registry.package import read_metadata
from mlops_nb.registry.registry import Registry
from mlops_nb.registry.versions import ModelVersion

__all__ = [
    "MIN_COMPARED_ROWS",
    "TRAINING_KEYS_FILE",
    "ChampionComparison",
    "find_version",
    "judge_challenger",
    "training_keys",
]

TRAINING_KEYS_FILE = "training_keys.parquet"
"""The registry attachment holding the identities of a version's training rows."""
MIN_COMPARED_ROWS = 50
CHALLENGER = "challenger"


@dataclass(frozen=True)
class ChampionComparison:
    """The outcome of :func:`judge_challenger`.

    Attributes:
        decision: The gate's verdict on the compared rows.
        decided: False when the comparison could not be made honestly (too
            few unseen rows, a champion with unknown training rows); the
            decision then keeps the champion and says why.
        metric: The primary metric compared.
        table: One row per model (``challenger``, ``champion vN``) with its
            metrics on the compared rows.
        rows: The compared holdout rows, with their identity in ``row_key``.
        holdout_rows: Rows in the holdout.
        excluded: Why rows were left out → how many.
        champion: The version at the alias when the comparison was made.
        alias: The champion alias.
        required_margin: The improvement the gate required over the champion.
        min_quality: The minimum a first version needed on ``metric``, or None.
        min_rows: The fewest compared rows a decision could rest on.
    """

    decision: PromotionDecision
    decided: bool
    metric: str
    table: pd.DataFrame
    rows: pd.DataFrame
    holdout_rows: int
    excluded: dict[str, int] = field(default_factory=dict)
    champion: ModelVersion | None = None
    alias: str = "production"
    required_margin: float = 0.0
    min_quality: float | None = None
    min_rows: int = MIN_COMPARED_ROWS

    @property
    def compared_rows(self) -> int:
        return len(self.rows)

    @property
    def summary(self) -> str:
        """How many rows were compared, and why the others were left out."""
        left_out = "; ".join(f"{count:,} {why}" for why, count in self.excluded.items() if count)
        against = f"against v{self.champion.version}" if self.champion else "with no champion"
        text = (
            f"Compared {against} on {self.compared_rows:,} of the {self.holdout_rows:,} holdout "
            f"rows"
        )
        return text + (f"; left out: {left_out}." if left_out else ": none was left out.")

    def record(self, model_name: str) -> PromotionRecord:
        """The decision as the register stage consumes it (``record.to_dict()`` → decision.json)."""
        return PromotionRecord(
            promote=self.decision.promote,
            reason=self.decision.reason,
            margin=self.decision.margin,
            champion=self.decision.champion,
            challenger=self.decision.challenger,
            decided=self.decided,
            model_name=model_name,
            metric=self.metric,
            alias=self.alias,
            champion_version=self.champion.version if self.champion else None,
            holdout_rows=self.holdout_rows,
            compared_rows=self.compared_rows,
            excluded=dict(self.excluded),
            summary=self.summary,
            required_margin=self.required_margin,
            min_quality=self.min_quality,
            min_compared_rows=self.min_rows,
        )


def find_version(registry: Registry, name: str, ref: str | int) -> ModelVersion | None:
    """The version ``ref`` designates, or None when the model or alias does not exist."""
    try:
        return registry.get(name, ref)
    except ModelNotFoundError:
        return None


def training_keys(registry: Registry, version: ModelVersion) -> tuple[np.ndarray, SplitRule] | None:
    """The identities of ``version``'s training rows and its split rule, if it recorded them."""
    metadata = read_metadata(registry.materialize(version).path)
    recorded = (metadata.get("attachments") or {}).get(TRAINING_KEYS_FILE)
    if not recorded or not metadata.get("split"):
        return None
    path = registry.attachment(version.name, TRAINING_KEYS_FILE, version.version)
    keys = pd.read_parquet(path, columns=[KEY_COLUMN])[KEY_COLUMN].to_numpy(dtype="uint64")
    return keys, SplitRule.from_dict(metadata["split"])


def judge_challenger(
    registry: Registry,
    name: str,
    challenger: Any,
    holdout: pd.DataFrame,
    *,
    target: str,
    task: str,
    holdout_keys: pd.Series | np.ndarray,
    train_keys: pd.Series | np.ndarray,
    rule: SplitRule,
    alias: str = "production",
    margin: float = 0.0,
    min_quality: Mapping[str, float] | float | None = None,
    min_rows: int = MIN_COMPARED_ROWS,
    challenger_predictions: Predictions | None = None,
) -> ChampionComparison:
    """Compare ``challenger`` with the version at ``alias`` on rows neither trained on.

    Args:
        registry: The project registry.
        name: The model name.
        challenger: The fitted challenger (a pipeline taking the raw columns).
        holdout: The challenger's holdout rows, target included.
        target: The target column.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        holdout_keys: The identity of each holdout row, in ``holdout``'s order.
        train_keys: The identities of the challenger's training rows.
        rule: The challenger's split rule (its identity columns must match the
            champion's for the champion's keys to mean anything).
        alias: The champion alias.
        margin: The improvement the gate requires over a champion.
        min_quality: The minimum a first version needs: a number, or per
            metric name (``{"roc_auc": 0.7}``).
        min_rows: The fewest compared rows a decision may rest on.
        challenger_predictions: The challenger's
            :func:`~mlops_nb.modeling.predict` of the whole ``holdout``, made
            already (the evaluate stage's); the compared rows reuse them
            instead of predicting again. None predicts here.

    Raises:
        RegistryError: keys that do not match the holdout, or a bad ``min_rows``.
        ModelingError: ``challenger_predictions`` of other rows.
    """
    holdout_ids = _keys(holdout_keys, "holdout_keys")
    if len(holdout_ids) != len(holdout):
        raise RegistryError(
            f"holdout_keys has {len(holdout_ids)} value(s) for {len(holdout)} holdout row(s); "
            f"pass the prepare stage's test_keys for this holdout.",
            parameter="holdout_keys",
        )
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise RegistryError(f"min_rows must be a whole number >= 1, got {min_rows!r}.")
    metric = primary_metric(task)
    seen_by_challenger = np.isin(holdout_ids, _keys(train_keys, "train_keys"))
    excluded = {"also in the challenger's training rows": int(seen_by_challenger.sum())}
    keep = ~seen_by_challenger
    champion = find_version(registry, name, alias)
    champion_model, unknown = None, None
    if champion is not None:
        recorded = training_keys(registry, champion)
        if recorded is None:
            unknown = f"v{champion.version} recorded no training rows (registered before rows were"
            unknown += " recorded)"
        elif not recorded[1].same_identity(rule):
            unknown = f"v{champion.version}'s training rows were identified by other columns"
        else:
            seen_by_champion = np.isin(holdout_ids, recorded[0]) & keep
            excluded[f"in v{champion.version}'s training rows"] = int(seen_by_champion.sum())
            keep &= ~seen_by_champion
        champion_model = registry.load(name, champion.version).model
    rows = holdout.loc[keep].assign(**{KEY_COLUMN: holdout_ids[keep]})
    models = {CHALLENGER: challenger}
    if champion is not None:
        models[f"champion v{champion.version}"] = champion_model
    X, y = rows.drop(columns=[target, KEY_COLUMN]), rows[target]
    made = None
    if challenger_predictions is not None:
        whole = check_predictions(
            challenger_predictions, holdout[target], task, where="judge_challenger"
        )
        made = {CHALLENGER: whole.subset(keep)}
    table = compare_models(models, X, y, task, predictions=made) if len(rows) else pd.DataFrame()
    minimum = _minimum(min_quality, metric)
    decision, decided = _decide(
        table, metric, champion, unknown, len(rows), min_rows, margin, minimum
    )
    return ChampionComparison(
        decision,
        decided,
        metric.name,
        table,
        rows,
        len(holdout),
        excluded,
        champion,
        alias,
        required_margin=margin,
        min_quality=minimum,
        min_rows=min_rows,
    )


def _decide(
    table: pd.DataFrame,
    metric: Any,
    champion: ModelVersion | None,
    unknown: str | None,
    compared: int,
    min_rows: int,
    margin: float,
    min_quality: float | None,
) -> tuple[PromotionDecision, bool]:
    challenger_score = _score(table, CHALLENGER, metric.name)
    if unknown is not None:
        return _undecided(
            f"not decided: {unknown}, so no holdout row can be shown unseen by it; compare by "
            f"hand and use `mlops-nb models promote` if the challenger is better",
            challenger_score,
        ), False
    if champion is not None and compared < min_rows:
        return _undecided(
            f"not decided: only {compared} holdout row(s) were seen by neither model, fewer "
            f"than the {min_rows} a decision needs; evaluate on more data (or lower "
            f"min_compared_rows), or promote by hand with `mlops-nb models promote`",
            challenger_score,
        ), False
    champion_score = None
    if champion is not None:
        champion_score = _score(table, f"champion v{champion.version}", metric.name)
    decision = decide_promotion(
        challenger_score,
        champion_score,
        higher_is_better=metric.higher_is_better,
        margin=margin,
        min_quality=min_quality,
    )
    return decision, True


def _undecided(reason: str, challenger: float) -> PromotionDecision:
    return PromotionDecision(False, reason, None, None, challenger)


def _score(table: pd.DataFrame, model: str, metric: str) -> float:
    if table.empty:
        return math.nan
    row = table.loc[table["model"] == model]
    return float(row[metric].iloc[0]) if len(row) else math.nan


def _minimum(min_quality: Mapping[str, float] | float | None, metric: Any) -> float | None:
    if min_quality is None or isinstance(min_quality, (int, float)):
        return None if min_quality is None else float(min_quality)
    value = dict(min_quality).get(metric.name)
    return None if value is None else float(value)


def _keys(values: pd.Series | np.ndarray, what: str) -> np.ndarray:
    try:
        return np.asarray(values, dtype="uint64")
    except (TypeError, ValueError) as exc:
        raise RegistryError(
            f"{what} must be row identities (uint64, from mlops_nb.prep.keys.row_keys); "
            f"got values that are not.",
            parameter=what,
        ) from exc
