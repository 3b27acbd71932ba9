#!/usr/bin/env bash
# Install uv if needed and sync the locked environment (all extras + dev tools) into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
uv sync --frozen --all-extras --python 3.11 --quiet
