"""Apache Airflow provider for governing ML models in MLflow and Snowflake model registries."""

from __future__ import annotations

__version__ = "0.1.0"
