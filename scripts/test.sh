#!/usr/bin/env bash
# Set up the locked environment, then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check airflow_registry_provider tests dags bench scripts
.venv/bin/ruff format --check airflow_registry_provider tests dags bench scripts
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
