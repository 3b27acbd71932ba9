"""The manifest of a Snowflake version's stored files: recorded at registration, checked before any load."""

from __future__ import annotations

import hashlib
import json
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from airflow_registry_provider import tags as tag_keys
from airflow_registry_provider.exceptions import IntegrityError
from airflow_registry_provider.hooks.snowflake import METADATA_TAGS_KEY, SnowflakeRegistryHook
from airflow_registry_provider.integrity import manifest_digest
from tests.snowflake.fixtures import FEATURES, churn_frame
from tests.snowflake.session_double import SnowflakeDouble

PICKLE = "model/models/CHURN/model.pkl"
RAN: list[str] = []


class _Payload:
    """Unpickling this runs code: what a tampered model file would do."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (RAN.append, ("tampered code ran",))


def stored_tags(double: SnowflakeDouble, version: str) -> dict[str, str]:
    return json.loads(double.model("CHURN").versions[version].metadata)[METADATA_TAGS_KEY]


def edit_tags(double: SnowflakeDouble, version: str, **changes: str | None) -> None:
    state = double.model("CHURN").versions[version]
    document = json.loads(state.metadata)
    for key, value in changes.items():
        if value is None:
            document[METADATA_TAGS_KEY].pop(key, None)
        else:
            document[METADATA_TAGS_KEY][key] = value
    state.metadata = json.dumps(document)


def test_registration_records_every_stored_file(registered: SnowflakeDouble) -> None:
    files = registered.model("CHURN").versions["V1_1_0"].files
    tags = stored_tags(registered, "V1_1_0")

    manifest = json.loads(tags[tag_keys.MODEL_MANIFEST])
    assert manifest == {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}
    assert tags[tag_keys.MODEL_SHA256] == manifest_digest(manifest)
    assert PICKLE in manifest


def test_load_model_verifies_before_unpickling(registered: SnowflakeDouble, churn_model: Any) -> None:
    data = churn_frame(10, seed=9)[FEATURES]
    with SnowflakeRegistryHook() as hook:
        loaded = hook.load_model("churn", "V1_0_0")
        estimator, flavor = hook.load_native_model("churn", "V1_0_0")

    np.testing.assert_array_equal(loaded.predict(data), churn_model.predict(data))
    assert flavor == "sklearn"
    np.testing.assert_array_equal(estimator.predict(data), churn_model.predict(data))
    assert not [s for s in registered.statements() if "SELECT CURRENT_ROLE()" in s]  # not the library's owner check


@pytest.mark.parametrize("load", ["load_model", "load_native_model"])
def test_a_tampered_model_file_is_refused_and_never_runs(registered: SnowflakeDouble, load: str) -> None:
    RAN.clear()
    registered.model("CHURN").versions["V1_0_0"].files[PICKLE] = pickle.dumps(_Payload())

    with SnowflakeRegistryHook() as hook, pytest.raises(IntegrityError) as refused:
        getattr(hook, load)("churn", "V1_0_0")

    assert "version V1_0_0 of CHURN" in str(refused.value)
    assert f"{PICKLE} (sha256 differs)" in str(refused.value)
    assert RAN == []


def test_download_model_gives_the_verified_model_files(registered: SnowflakeDouble, tmp_path: Path) -> None:
    with SnowflakeRegistryHook() as hook:
        folder = hook.download_model("churn", "V1_1_0", str(tmp_path / "dl"))

    assert (Path(folder) / PICKLE).read_bytes() == registered.model("CHURN").versions["V1_1_0"].files[PICKLE]
    registered.model("CHURN").versions["V1_1_0"].files["model/extra.py"] = b"print('x')"
    with (
        SnowflakeRegistryHook() as hook,
        pytest.raises(IntegrityError, match=r"model/extra.py \(not in the manifest\)"),
    ):
        hook.download_model("churn", "V1_1_0", str(tmp_path / "again"))


def test_a_manifest_that_does_not_match_its_digest_is_refused(registered: SnowflakeDouble) -> None:
    manifest = json.loads(stored_tags(registered, "V1_0_0")[tag_keys.MODEL_MANIFEST])
    manifest[PICKLE] = "0" * 64
    edit_tags(registered, "V1_0_0", **{tag_keys.MODEL_MANIFEST: json.dumps(manifest)})

    with SnowflakeRegistryHook() as hook, pytest.raises(IntegrityError, match="does not match its recorded digest"):
        hook.load_model("churn", "V1_0_0")
    with SnowflakeRegistryHook() as hook, pytest.raises(IntegrityError, match="does not match its recorded digest"):
        hook.predict("churn", "V1_0_0", churn_frame(5)[FEATURES])


def test_a_version_without_manifest_is_refused_unless_allowed(registered: SnowflakeDouble, churn_model: Any) -> None:
    edit_tags(registered, "V1_0_0", **{tag_keys.MODEL_MANIFEST: None, tag_keys.MODEL_SHA256: None})
    data = churn_frame(8, seed=2)[FEATURES]

    with SnowflakeRegistryHook() as hook:
        for call in (lambda: hook.load_model("churn", "V1_0_0"), lambda: hook.predict("churn", "V1_0_0", data)):
            with pytest.raises(IntegrityError, match="allow_unverified=True"):
                call()
        version = hook.get_version("churn", "V1_0_0")
        with pytest.raises(IntegrityError):
            hook.batch_predict(version, "SCORING", "SCORES")
        np.testing.assert_array_equal(
            hook.load_model("churn", "V1_0_0", allow_unverified=True).predict(data), churn_model.predict(data)
        )
        np.testing.assert_array_equal(
            hook.predict("churn", "V1_0_0", data, allow_unverified=True), churn_model.predict(data)
        )
    assert [w for w in registered.writes() if " MODEL " in w] == []  # warehouse scoring writes only temp tables
