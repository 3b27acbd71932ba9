#!/usr/bin/env bash
# Install uv if needed and sync the locked environment (all extras + dev tools) into .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.local/bin:$PATH"
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv
fi
uv sync --frozen --all-extras --python 3.11 --quiet
