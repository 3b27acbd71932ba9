#!/usr/bin/env bash
# Set up, then run the churn model lifecycle DAG once on the embedded default: a sqlite
# Airflow metadata DB and a sqlite MLflow registry under ./.airflow, no server. Ends with
# what this run did. Arguments go to scripts/quickstart.py, e.g. -c '{"feature_set": "full"}'.
# ARP_QUICKSTART_HOME chooses another folder than ./.airflow (bench/lifecycle_e2e.py does).
set -euo pipefail
cd "$(dirname "$0")/.."
ARP_QUICKSTART_T0=$(date +%s.%N)
export ARP_QUICKSTART_T0
bash scripts/setup.sh
source scripts/env.sh

HOME_DIR="${ARP_QUICKSTART_HOME:-$(pwd)/.airflow}"
mkdir -p "$HOME_DIR"
# What any Airflow deployment sets for the provider: the dags folder and the registry
# connection (plus, here, a home and a metadata DB of its own).
export AIRFLOW_HOME="$HOME_DIR"
export AIRFLOW__CORE__DAGS_FOLDER="$(pwd)/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$HOME_DIR/airflow.db"
export AIRFLOW_CONN_MLFLOW_DEFAULT="{\"conn_type\": \"mlflow_registry\", \"extra\": {\"tracking_uri\": \"sqlite:///$HOME_DIR/mlflow.db\"}}"
export MLFLOW_ENABLE_ASYNC_LOGGING=false GIT_PYTHON_REFRESH=quiet

exec .venv/bin/python scripts/quickstart.py "$@"
