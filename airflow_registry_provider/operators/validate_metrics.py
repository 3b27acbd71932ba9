"""The quality gate between registration and promotion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.gates import Direction, GateResult, evaluate, parse_thresholds
from airflow_registry_provider.operators.base import (
    BaseRegistryOperator,
    as_bool,
    is_template,
    parse_mapping,
    parse_metrics,
    to_json,
)

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_registry_provider.model_version import ModelVersion, ModelVersionRef


class ValidateMetricsOperator(BaseRegistryOperator):
    """Gate a registered version on metric thresholds, the champion, and an inference test.

    :param model_version: The version to judge: the reference LogModelOperator returns
        (``log_model.output``) or its JSON.
    :param thresholds: e.g. ``{"accuracy": ">= 0.85", "log_loss": "<= 0.40"}`` or
        ``{"rmse": {"max": 3.0}}``.
    :param compare_to: An alias (e.g. ``champion``) the candidate must beat. A model with
        no version under it yet is judged on thresholds alone.
    :param min_improvement: Required gain over the champion, per metric or for all.
    :param relative_improvement: Read ``min_improvement`` as a fraction of the champion's value.
    :param directions: ``higher``/``lower`` is better, per metric; defaults follow the
        threshold's comparison (``>=`` higher, ``<=`` lower).
    :param validation_data: Parquet/CSV file to score with the registered version (loaded
        from the registry): the metrics computed on it replace the logged ones.
    :param label_column: The label column of ``validation_data``.
    :param on_failure: ``fail`` (default) fails the task; ``skip`` skips it and, with the
        default trigger rules, everything downstream.
    :return: (XCom) the version's reference keys and ``model_version`` (see the README's
        XCom shape), plus ``passed``, ``champion_version``, ``notes`` and ``metrics``
        (per metric: value, passed, checks, champion_value).

    A threshold or direction on a metric the version does not have fails the task naming
    ``thresholds`` (or ``directions``) and leaves the validation status unset.
    """

    template_fields: Sequence[str] = (
        "registry_conn_id",
        "audit_conn_id",
        "model_version",
        "thresholds",
        "compare_to",
        "min_improvement",
        "directions",
        "validation_data",
        "label_column",
        "on_failure",
    )
    template_fields_renderers = {"thresholds": "json", "model_version": "json", "directions": "json"}
    ui_color = "#fdf0d5"

    def __init__(
        self,
        *,
        model_version: ModelVersionRef | str,
        thresholds: Mapping[str, Any] | None = None,
        compare_to: str | None = None,
        min_improvement: float | Mapping[str, float] = 0.0,
        relative_improvement: bool = False,
        directions: Mapping[str, Direction] | None = None,
        validation_data: str | None = None,
        label_column: str | None = None,
        on_failure: Literal["fail", "skip"] = "fail",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_version = model_version
        self.thresholds = thresholds
        self.compare_to = compare_to
        self.min_improvement = min_improvement
        self.relative_improvement = relative_improvement
        self.directions = directions
        self.validation_data = validation_data
        self.label_column = label_column
        self.on_failure = on_failure
        if not is_template(thresholds):
            parse_thresholds(parse_mapping(thresholds, "thresholds"))  # fail at parse time, named

    def check_inputs(self) -> None:
        super().check_inputs()
        if self.on_failure not in ("fail", "skip"):
            raise InvalidInputError("on_failure", f"must be 'fail' or 'skip', not {self.on_failure!r}")
        self.thresholds = parse_mapping(self.thresholds, "thresholds")
        parse_thresholds(self.thresholds)
        self.directions = parse_mapping(self.directions, "directions")
        for metric, direction in (self.directions or {}).items():
            if direction not in ("higher", "lower"):
                raise InvalidInputError(f"directions.{metric}", f"must be 'higher' or 'lower', not {direction!r}")
        self.min_improvement = self._margins()
        self.relative_improvement = as_bool(self.relative_improvement, "relative_improvement")
        if not self.thresholds and not self.compare_to and not self.directions:
            raise InvalidInputError("thresholds", "give thresholds, compare_to or directions: nothing to judge")
        if self.validation_data and not self.label_column:
            raise InvalidInputError("label_column", "is required with validation_data")

    def _margins(self) -> float | dict[str, float]:
        value = self.min_improvement
        if isinstance(value, str) and value.strip().startswith("{"):
            value = parse_mapping(value, "min_improvement")
        if isinstance(value, Mapping):
            return parse_metrics(value, "min_improvement")
        return parse_metrics({"value": value}, "min_improvement")["value"]

    def execute(self, context: Context) -> dict[str, Any]:
        result, candidate = self._judge()
        outcome = tag_keys.VALIDATION_PASSED if result.passed else tag_keys.VALIDATION_REJECTED
        failed = [o.metric for o in result.outcomes if not o.passed]
        self.audit_trail(context).record(
            "tag",
            model=candidate.model_name,
            version=candidate.version,
            before={tag_keys.VALIDATION_STATUS: candidate.tags.get(tag_keys.VALIDATION_STATUS)},
            after={tag_keys.VALIDATION_STATUS: outcome},
            reason=f"failed on {failed}" if failed else "passed every check",
            version_tags=candidate.tags,
            also_set={
                tag_keys.VALIDATION_STATUS: outcome,
                tag_keys.VALIDATION_RESULT: to_json(result.to_dict()),
                tag_keys.VALIDATION_AT: datetime.now(UTC).isoformat(),
            },
        )
        for note in result.notes:
            self.log.info("%s", note)
        for item in result.outcomes:
            self.log.info("%s %s: %s", "PASS" if item.passed else "FAIL", item.metric, "; ".join(item.checks))
        summary = self.version_result(candidate, **result.to_dict())
        if not result.passed:
            message = f"Version {candidate.version} of {candidate.model_name} rejected on {failed}"
            if self.on_failure == "skip":
                raise AirflowSkipException(message)
            raise AirflowFailException(message)
        self.log.info("Version %s of %s passed the gate.", candidate.version, candidate.model_name)
        return summary

    def _judge(self) -> tuple[GateResult, ModelVersion]:
        rules = parse_thresholds(self.thresholds)
        candidate = self.resolve_version(model_version=self.model_version)
        metrics = dict(candidate.metrics)
        if self.validation_data:
            metrics.update(self._inference_metrics(candidate, [r.metric for r in rules]))
        # A typo in a metric name is a configuration error, not a verdict on the version:
        # it must not tag the version rejected (that would block its promotion for good).
        unknown = sorted({r.metric for r in rules} - set(metrics))
        if unknown:
            raise InvalidInputError(
                "thresholds",
                f"no metric {', '.join(map(repr, unknown))} on version {candidate.version} of "
                f"{candidate.model_name!r} (it has {', '.join(sorted(metrics)) or 'no metrics'}); "
                "nothing was recorded",
            )
        unknown = sorted(set(self.directions or {}) - set(metrics))
        if unknown:
            raise InvalidInputError(
                "directions", f"no metric {', '.join(map(repr, unknown))} on version {candidate.version}"
            )
        champion = None
        if self.compare_to:
            alias = self.hook.validate_alias(self.compare_to, "compare_to")
            champion = self.hook.get_alias_version(candidate.model_name, alias)
            if champion is not None and champion.version == candidate.version:
                self.log.info("The candidate already holds %r: comparing with itself is skipped.", alias)
                champion = None
        result = evaluate(
            metrics,
            rules,
            champion=dict(champion.metrics) if champion else None,
            champion_version=champion.version if champion else None,
            min_improvement=cast("float | dict[str, float]", self.min_improvement),
            relative=bool(self.relative_improvement),
            directions=self.directions,
        )
        return result, candidate

    def _inference_metrics(self, candidate: ModelVersion, wanted: list[str]) -> dict[str, float]:
        """Score the validation data with the version as registered: the test before production."""
        from airflow_registry_provider.artifacts import read_table_file
        from airflow_registry_provider.gates import score_predictions

        frame = read_table_file(self.validation_data or "", "validation_data")
        if self.label_column not in frame.columns:
            raise InvalidInputError("label_column", f"{self.label_column!r} is not a column of validation_data")
        features = frame.drop(columns=[self.label_column])
        schema = self.hook.input_schema(candidate.model_name, candidate.version)
        if schema:
            missing = [name for name, _ in schema if name not in features.columns]
            if missing:
                raise InvalidInputError("validation_data", f"missing columns the model needs: {missing}")
            features = features[[name for name, _ in schema]]
        predictions = self.hook.predict(candidate.model_name, candidate.version, features)
        scored = score_predictions(frame[self.label_column], predictions, wanted)
        self.log.info(
            "Inference test on %d rows of %s with the registered version: %s",
            len(frame),
            self.validation_data,
            scored,
        )
        return scored
