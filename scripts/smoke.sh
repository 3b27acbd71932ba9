#!/usr/bin/env bash
# The smoke suite against the package as a user gets it: build the sdist and the wheel,
# install the wheel with all extras into a fresh venv (no lock: the newest dependencies its
# metadata allows) and run tests/smoke there, from outside the checkout. Part of
# scripts/test.sh; runnable alone. Writes nothing into the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
source scripts/env.sh
WORK="$(mktemp -d "${TMPDIR:-/tmp}/arp-smoke-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
export PYTHONPYCACHEPREFIX="$WORK/pycache"

uv build --quiet --out-dir "$WORK/dist" "$REPO"
uv venv --quiet --python 3.11 "$WORK/venv"
wheel="$(echo "$WORK"/dist/*.whl)"
uv pip install --quiet --python "$WORK/venv/bin/python" "${wheel}[all]" pytest
"$WORK/venv/bin/python" -c "import airflow, mlflow, sys; print(f'smoke venv: Python {sys.version.split()[0]}, apache-airflow {airflow.__version__}, mlflow {mlflow.__version__}')"

cp tests/smoke/test_*.py "$WORK/"
printf '[pytest]\naddopts = -ra -p no:cacheprovider\n' >"$WORK/pytest.ini"
cd "$WORK"
ARP_SMOKE_REPO="$REPO" ARP_SMOKE_DIST="$WORK/dist" "$WORK/venv/bin/python" -m pytest "$@" "$WORK"
