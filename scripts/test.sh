#!/usr/bin/env bash
# Set up the locked environment, then run three jobs side by side and fail if any fails:
#   1. lint and type-check (ruff check, ruff format --check, mypy);
#   2. the smoke suite against the built wheel in a fresh venv (scripts/smoke.sh);
#   3. the test suite on pytest-xdist workers (ARP_TEST_WORKERS, default one per CPU); pytest
#      arguments given to this script go to it.
# Jobs 1 and 2 run at a lower priority: the test suite is the longest.
#
#   bash scripts/test.sh [pytest args]            everything (what CI runs: .ci/run)
#   bash scripts/test.sh --no-lint [pytest args]  pytest alone, in one process, e.g. one file
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh

if [[ "${1:-}" == "--no-lint" ]]; then
  shift
  exec .venv/bin/python -m pytest "$@"
fi

PATHS=(airflow_registry_provider tests dags bench scripts)
LOGS="$(mktemp -d "${TMPDIR:-/tmp}/arp-test-logs-XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$LOGS"
}
trap cleanup EXIT

(
  .venv/bin/ruff check "${PATHS[@]}" && .venv/bin/ruff format --check "${PATHS[@]}" && nice -n 10 .venv/bin/mypy
) >"$LOGS/lint.log" 2>&1 &
pids+=($!)
lint_pid=$!
nice -n 10 bash scripts/smoke.sh -q >"$LOGS/smoke.log" 2>&1 &
pids+=($!)
smoke_pid=$!

# In a fresh .venv, compile the heavy imports once before the workers start, rather than in each of them.
if [[ ! -d .venv/pycache ]]; then
  .venv/bin/python -c "import airflow.models, airflow.sdk, mlflow, sklearn, pandas, pyarrow.parquet, snowflake.ml.registry"
fi

set +e
.venv/bin/python -m pytest -n "${ARP_TEST_WORKERS:-$(nproc)}" --dist loadgroup "$@" 2>&1 | tee "$LOGS/pytest.log"
tests_rc=${PIPESTATUS[0]}
wait "$lint_pid"
lint_rc=$?
wait "$smoke_pid"
smoke_rc=$?
set -e
pids=()

echo
echo "== lint and type-check (exit $lint_rc)"
cat "$LOGS/lint.log"
echo "== smoke suite on the built wheel in a fresh venv (exit $smoke_rc)"
cat "$LOGS/smoke.log"
echo "== test suite (exit $tests_rc)"
# Its closing line again, last: the one a reader (or CI) looks for.
grep -E '^(=+ )?[0-9]+ (passed|failed|errors?|skipped)|no tests ran' "$LOGS/pytest.log" | tail -n 1
if ((lint_rc || smoke_rc || tests_rc)); then
  exit 1
fi
