#!/usr/bin/env bash
# Set up and run the churn model lifecycle DAG end to end on the embedded default:
# a sqlite Airflow metadata DB and a sqlite MLflow registry under ./.airflow. No server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$HOME/.local/bin:$PATH"

HOME_DIR="$(pwd)/.airflow"
mkdir -p "$HOME_DIR"
export AIRFLOW_HOME="$HOME_DIR"
export AIRFLOW__CORE__DAGS_FOLDER="$(pwd)/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$HOME_DIR/airflow.db"
export AIRFLOW_CONN_MLFLOW_DEFAULT="{\"conn_type\": \"mlflow_registry\", \"extra\": {\"tracking_uri\": \"sqlite:///$HOME_DIR/mlflow.db\"}}"
export MLFLOW_ENABLE_ASYNC_LOGGING=false GIT_PYTHON_REFRESH=quiet

.venv/bin/airflow db migrate >/dev/null
.venv/bin/airflow dags reserialize >/dev/null
.venv/bin/airflow dags test churn_model_lifecycle "$@"
.venv/bin/python scripts/lifecycle_summary.py
