# Sourced by the scripts (not run): settings every Python process they start shares.
#
# Cache compiled bytecode in .venv/pycache, also where the environment sets
# PYTHONDONTWRITEBYTECODE: otherwise every process (each test worker, mlflow server, CLI
# call) compiles Airflow and MLflow from source again, about twice their import time.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="$PWD/.venv/pycache"
export PATH="$HOME/.local/bin:$PATH"
