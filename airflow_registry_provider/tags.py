"""Keys of the tags this provider writes on model versions and models, and the paths of
the files it stores with a version.

One place for them so that every operator, backend and report reads the same keys.
"""

from __future__ import annotations

PREFIX = "airflow_registry."

VERSION_NAME = PREFIX + "version_name"
ARTIFACT_SHA256 = PREFIX + "artifact_sha256"  # sha256 of the input (model file or source), for retries
MODEL_MANIFEST = PREFIX + "model_manifest"  # JSON {path: sha256} of the files the registry stores
MODEL_SHA256 = PREFIX + "model_sha256"  # integrity.manifest_digest of MODEL_MANIFEST
FLAVOR = PREFIX + "flavor"

# Lineage
DAG_ID = PREFIX + "dag_id"
RUN_ID = PREFIX + "run_id"
TASK_ID = PREFIX + "task_id"
TRY_NUMBER = PREFIX + "try_number"
BUNDLE_NAME = PREFIX + "bundle_name"
BUNDLE_VERSION = PREFIX + "bundle_version"
TRAINING_DATA_SHA256 = PREFIX + "training_data_sha256"  # JSON {path: sha256}

# Validation gate
VALIDATION_STATUS = PREFIX + "validation_status"  # "passed" | "rejected"
VALIDATION_RESULT = PREFIX + "validation_result"  # JSON, one entry per metric
VALIDATION_AT = PREFIX + "validation_at"

# Promotion
PROMOTED_BY = PREFIX + "promoted_by"
PROMOTED_AT = PREFIX + "promoted_at"
PROMOTION_REASON = PREFIX + "promotion_reason"
PROMOTION_RUN = PREFIX + "promotion_run"
ALIAS_HISTORY = PREFIX + "alias_history"  # model tag, JSON list, capped

# Environment promotion
APPROVAL_STATUS = PREFIX + "approval_status"  # "approved" | "rejected"
APPROVED_BY = PREFIX + "approved_by"  # who answered the approval (also on a rejection)
APPROVED_AT = PREFIX + "approved_at"
ROLLED_BACK = PREFIX + "rolled_back"  # JSON {at, reason, run, environment}: never promote this version again

# Drift and governance
REFERENCE_PROFILE = PREFIX + "reference_profile"  # artifact path of the drift reference profile
DRIFT_SUMMARY = PREFIX + "drift_summary"
ARCHIVED = PREFIX + "archived"  # ISO time the version was archived by RetentionOperator
MODEL_CARD = PREFIX + "model_card"  # artifact path of the version's model card (Markdown; .html beside it)
AUDIT_LOG = PREFIX + "audit"

VALIDATION_PASSED = "passed"
VALIDATION_REJECTED = "rejected"

# Files stored with a version (RegistryHook.upload_artifact paths)
PROFILE_ARTIFACT = "drift/reference_profile.json"
