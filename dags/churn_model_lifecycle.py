"""Customer churn model lifecycle: train -> register -> gate -> promote -> grant ->
partitioned batch inference -> manifest, and a model card for every registered version.

Runs when ``drift_monitoring`` reports drift for the model, or by hand. Runs on a laptop
with no server: by default the ``mlflow_default`` connection points at a sqlite MLflow
registry (see the README). Each run draws a fresh synthetic training sample (seeded from
the run), so every run trains a slightly different model; a new version becomes
``champion`` only when it passes the thresholds, beats the current champion on the same
holdout rows and passes the inference test there. Param ``feature_set="full"`` trains a
stronger candidate than the default ``behaviour`` one: a run with it is promoted over a
``behaviour`` champion.

After the gate, GrantModel gives the ``grants`` param's grantees access to the model (on a
registry without access control, such as the local sqlite store, it is skipped with the
reason logged). Then the champion is resolved once and every partition of the scoring
batch (``scoring/part-*.parquet``, or the ``scoring_root`` param's folder) is scored by a
mapped BatchInference task pinned to that version, on whichever workers are free; the
last task writes ``predictions/_manifest.json`` (partitions, rows, the model version,
sha256 of every input and output). A failed partition fails alone: clear its map index
and the manifest to re-run just that partition.

Heavy libraries (sklearn, pandas, mlflow) are imported inside tasks: this file parses
in milliseconds.
"""

from __future__ import annotations

import os
import tempfile

import pendulum
from airflow.sdk import Param, dag, task

from airflow_registry_provider.assets import drift_asset
from airflow_registry_provider.operators import (
    BatchInferenceOperator,
    GrantModelOperator,
    LogModelOperator,
    ModelCardOperator,
    PromoteVersionOperator,
    ValidateMetricsOperator,
)
from churn_example_data import FEATURE_SETS, LABEL, run_seed, train_churn_model, write_churn_dataset

DEFAULT_DATA_DIR = os.path.join(os.environ.get("AIRFLOW_HOME", tempfile.gettempdir()), "churn_data")


@dag(
    dag_id="churn_model_lifecycle",
    # Retrain when drift_monitoring finds drift in the champion's inputs (or trigger by hand).
    schedule=[drift_asset("mlflow_default", "customer_churn_predictor")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["model-registry", "example"],
    params={
        "model_name": Param("customer_churn_predictor", type="string", description="Registered model name"),
        "thresholds": Param(
            {"accuracy": ">= 0.75", "roc_auc": ">= 0.85", "log_loss": "<= 0.45"},
            type="object",
            description="Quality gate: metric -> rule",
        ),
        "feature_set": Param(
            "behaviour",
            enum=list(FEATURE_SETS),
            description="What the candidate trains on; 'full' (adds spending features) beats 'behaviour'",
        ),
        "data_dir": Param(DEFAULT_DATA_DIR, type="string", description="Where data, models and predictions go"),
        "scoring_root": Param(
            "",
            type="string",
            description="Folder of Parquet partitions to score; empty: this run's synthetic scoring batch",
        ),
        "grants": Param(
            {},
            type="object",
            description='Who may use the model: grantee -> READ, USAGE or EDIT, e.g. {"user:analyst": "READ"} '
            "(the user or role must exist on the MLflow server)",
        ),
        "registry_conn_id": Param("mlflow_default", type="string"),
    },
    doc_md=__doc__,
)
def churn_model_lifecycle() -> None:
    @task
    def prepare_data(data_dir: str, run_key: str) -> dict[str, str]:
        """A seeded synthetic customer-churn dataset: train, validation, sample and a scoring batch."""
        seed, folder = run_seed(run_key)
        return write_churn_dataset(os.path.join(data_dir, "runs", folder), seed)

    @task
    def train(data: dict[str, str], feature_set: str) -> dict:
        """Fit a scaled logistic regression on ``feature_set`` and measure it on the holdout."""
        return train_churn_model(data, FEATURE_SETS[feature_set])

    @task
    def next_version(model_name: str, registry_conn_id: str) -> str:
        """The next patch version after the highest one registered."""
        from airflow_registry_provider.hooks import get_registry_hook

        return get_registry_hook(registry_conn_id).next_version_name(model_name)

    @task(trigger_rule="none_failed")
    def pin_champion(model_name: str, registry_conn_id: str) -> dict:
        """The champion after this run's gate: every partition of the run scores with this version."""
        from airflow_registry_provider.hooks import get_registry_hook

        hook = get_registry_hook(registry_conn_id)
        return dict(hook.get_version(model_name, alias="champion").ref(registry_conn_id))

    @task
    def scoring_partitions(data: dict[str, str], scoring_root: str) -> list[dict[str, str]]:
        """One ``{input_path, output_path}`` per Parquet file to score, for ``expand_kwargs``."""
        from airflow_registry_provider.partitions import list_partitions

        return list_partitions(scoring_root or data["scoring"], os.path.join(data["dir"], "predictions"))

    @task
    def write_manifest(results: list[dict], parts: list[dict[str, str]], data: dict[str, str], dag_run_id: str) -> dict:
        """Partitions, rows, the one model version and checksums of this run's predictions."""
        from airflow_registry_provider.partitions import write_run_manifest

        return write_run_manifest(results, parts, os.path.join(data["dir"], "predictions"), dag_run_id)

    data = prepare_data(data_dir="{{ params.data_dir }}", run_key="{{ run_id }}")
    trained = train(data, feature_set="{{ params.feature_set }}")
    version = next_version("{{ params.model_name }}", "{{ params.registry_conn_id }}")

    log_model = LogModelOperator(
        task_id="log_model",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_name="{{ params.model_name }}",
        model=trained["model_path"],
        version_name=version,
        sample_input=data["sample"],
        metrics=trained["metrics"],
        training_data=[data["train"]],
        reference_data=data["reference"],
        description="Logistic-regression churn classifier trained by churn_model_lifecycle",
        tags={"team": "growth", "framework": "scikit-learn"},
    )
    validate = ValidateMetricsOperator(
        task_id="validate_metrics",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_version=log_model.output,
        thresholds="{{ params.thresholds }}",
        compare_to="champion",
        validation_data=data["validation"],
        label_column=LABEL,
        on_failure="skip",
    )
    promote = PromoteVersionOperator(
        task_id="promote_version",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_version=log_model.output,
        alias="champion",
        reason="passed thresholds, beat the champion and the inference test",
    )
    grant = GrantModelOperator(
        task_id="grant_model",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_name="{{ params.model_name }}",
        grants="{{ params.grants }}",
        reason="consumers score with the champion",
        # Also when this run's candidate was not promoted: the grant is on the model.
        trigger_rule="none_failed",
    )
    # Score with whichever version is champion, also when this run's candidate was rejected,
    # and with that one version in every partition even if the alias moves mid-run.
    champion = pin_champion("{{ params.model_name }}", "{{ params.registry_conn_id }}")
    parts = scoring_partitions(data, "{{ params.scoring_root }}")
    score = BatchInferenceOperator.partial(
        task_id="batch_inference",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_version=champion,
    ).expand_kwargs(parts)
    write_manifest(score.output, parts, data, "{{ run_id }}")
    model_card = ModelCardOperator(
        task_id="model_card",
        registry_conn_id="{{ params.registry_conn_id }}",
        model_version=log_model.output,
        limitations=[
            "Trained on a synthetic customer sample: not for real retention decisions.",
            "Six behavioural features only; no seasonality or pricing changes.",
        ],
        # One card per registered version, after the gate and promotion (which it reports),
        # also when the gate rejected the candidate.
        trigger_rule="none_failed",
    )
    validate >> promote >> [grant, champion, model_card]


churn_model_lifecycle()
