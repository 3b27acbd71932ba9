from __future__ import annotations

import os

import pytest

from airflow_registry_provider.exceptions import InvalidInputError
from airflow_registry_provider.governance.lineage import asset_uri, file_dataset, is_location, split_asset_uri


def test_file_datasets_follow_openlineage_naming() -> None:
    assert file_dataset("/data/train.parquet") == ("file", "/data/train.parquet")
    assert file_dataset("file:///data/train.parquet") == ("file", "/data/train.parquet")
    assert file_dataset("s3://bucket/churn/train.parquet") == ("s3://bucket", "churn/train.parquet")
    assert file_dataset("train.parquet") == ("file", os.path.abspath("train.parquet"))


def test_locations_and_asset_uris() -> None:
    assert is_location("/tmp/x.parquet") and is_location("gs://b/k")
    assert not is_location("ML.REGISTRY.SCORING") and not is_location(None)
    for namespace, name in [("mlflow://localhost", "churn/3"), ("snowflake-ml://acme", "ML.REG.CHURN/V1_2_0")]:
        assert split_asset_uri(asset_uri(namespace, name)) == (namespace, name)
    with pytest.raises(InvalidInputError):
        split_asset_uri("churn/3")


def test_provider_registers_the_model_version_converter() -> None:
    from airflow.providers_manager import ProvidersManager
    from airflow.sdk import Asset

    from airflow_registry_provider.assets import model_version_asset, model_version_to_openlineage

    converters = ProvidersManager().asset_to_openlineage_converters
    assert converters["mlflow"] is model_version_to_openlineage
    assert converters["snowflake-ml"] is model_version_to_openlineage
    asset = model_version_asset("mlflow://mlflow.example.com:5000", "churn/3")
    assert isinstance(asset, Asset) and asset.uri == "mlflow://mlflow.example.com:5000/churn/3"
    dataset = model_version_to_openlineage(asset)
    assert (dataset.namespace, dataset.name) == ("mlflow://mlflow.example.com:5000", "churn/3")
