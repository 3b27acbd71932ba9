"""Model files, their flavor, fingerprint and pinned requirements; sample data files.

Pure module (no Airflow imports).
"""

from __future__ import annotations

import hashlib
import os
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.integrity import file_manifest
from airflow_registry_provider.integrity import sha256_file as sha256_file  # LogModel hashes input files with it

if TYPE_CHECKING:
    import pandas as pd

#: Flavors a model file may hold, keyed by the top-level module of the estimator class.
FILE_FLAVORS = {"sklearn": "sklearn", "xgboost": "xgboost", "lightgbm": "lightgbm"}
MLFLOW_URI_SCHEMES = ("runs:/", "models:/")

# Distributions a served model of each flavor imports. Pinning them from the installed
# versions replaces MLflow's requirement inference, which spends seconds per model
# loading the model in a subprocess to watch its imports.
_FLAVOR_DISTRIBUTIONS = {
    "sklearn": ["scikit-learn", "numpy", "scipy", "pandas", "cloudpickle"],
    "xgboost": ["xgboost", "scikit-learn", "numpy", "scipy", "pandas"],
    "lightgbm": ["lightgbm", "scikit-learn", "numpy", "scipy", "pandas"],
}


def sha256_tree(root: str | os.PathLike[str]) -> str:
    """A digest of a directory: relative paths and contents, in sorted order."""
    digest = hashlib.sha256()
    for path, sha256 in file_manifest(root).items():
        digest.update(path.encode() + b"\0")
        digest.update(sha256.encode())
    return digest.hexdigest()


def is_mlflow_source(model: str) -> bool:
    """True for ``runs:/``/``models:/`` URIs and MLflow model directories (with an MLmodel file)."""
    return model.startswith(MLFLOW_URI_SCHEMES) or (Path(model) / "MLmodel").is_file()


def load_model_file(path: str, field: str = "model") -> tuple[Any, str]:
    """Load a joblib/pickle estimator file; return ``(estimator, flavor)``.

    Loading a pickle runs code from the file: only load files your own pipeline wrote.
    """
    import joblib

    if not os.path.isfile(path):
        raise InvalidInputError(field, f"model file {path!r} does not exist")
    try:
        estimator = joblib.load(path)
    except Exception as err:  # any unpickling failure means a corrupt or foreign file
        raise InvalidInputError(field, f"model file {path!r} cannot be loaded ({type(err).__name__}: {err})") from err
    return estimator, detect_flavor(estimator, field)


def detect_flavor(estimator: Any, field: str = "model") -> str:
    top = type(estimator).__module__.split(".")[0]
    flavor = FILE_FLAVORS.get(top)
    if flavor is None or not hasattr(estimator, "predict"):
        raise InvalidInputError(
            field,
            f"holds a {type(estimator).__module__}.{type(estimator).__name__}; expected a fitted "
            "scikit-learn, XGBoost or LightGBM estimator with predict()",
        )
    return flavor


def pinned_requirements(flavor: str) -> list[str]:
    """``name==version`` for mlflow and the flavor's libraries, from what is installed."""
    names = ["mlflow", *_FLAVOR_DISTRIBUTIONS.get(flavor, [])]
    pins = []
    for name in names:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def read_table_file(path: str, field: str) -> pd.DataFrame:
    """Read a small Parquet or CSV file (sample input, validation data) into pandas."""
    import pandas as pd

    if not os.path.isfile(path):
        raise InvalidInputError(field, f"file {path!r} does not exist")
    try:
        frame = pd.read_csv(path) if path.endswith(".csv") else pd.read_parquet(path)
    except Exception as err:
        raise InvalidInputError(field, f"cannot read {path!r} as Parquet or CSV ({err})") from err
    if frame.empty:
        raise InvalidInputError(field, f"{path!r} has no rows")
    return frame


def check_columns(estimator: Any, frame: pd.DataFrame, field: str) -> None:
    """Fail naming the columns when ``frame`` does not fit the estimator's training features."""
    expected = getattr(estimator, "feature_names_in_", None)
    if expected is None:
        booster = getattr(estimator, "get_booster", None)
        expected = booster().feature_names if booster is not None else None
    if expected is None:
        expected = getattr(estimator, "feature_name_", None)
    if expected is None:
        return
    expected = [str(c) for c in expected]
    missing = [c for c in expected if c not in frame.columns]
    extra = [c for c in frame.columns if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing columns {missing}")
        if extra:
            parts.append(f"unexpected columns {extra}")
        raise InvalidInputError(field, f"does not fit the model: {'; '.join(parts)}")
