"""S3 artifact store and bucket setup (AWS S3, MinIO or any S3-compatible server).

Objects live at ``s3://<bucket>/<prefix>/runs/<run_id>/<name>``.  The boto3 client is made on
first use (no session at import time): endpoint from ``$COINBT_S3_ENDPOINT_URL`` (MinIO, moto),
credentials and region the usual boto3 way (environment, ``~/.aws``, instance role).

* Every upload carries the SHA-256 of its content (``ChecksumSHA256``), which the server checks
  before storing the object; objects larger than ``multipart_threshold`` go up as a multipart
  upload with a SHA-256 per part.
* Every download is checked against the SHA-256 recorded in the registry; a missing or
  corrupted object raises :class:`~coinbt.errors.StorageError` naming the run and the object.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from typing import TYPE_CHECKING, Any

from coinbt.errors import StorageError
from coinbt.storage.artifacts import ArtifactInfo, ArtifactStore
from coinbt.storage.common import sha256_bytes

if TYPE_CHECKING:
    from botocore.client import BaseClient

ENDPOINT_ENV = "COINBT_S3_ENDPOINT_URL"
MULTIPART_THRESHOLD = 8 * 1024 * 1024
PART_SIZE = 8 * 1024 * 1024
MIN_PART_SIZE = 5 * 1024 * 1024  # S3 refuses smaller parts (except the last one)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/a/b/`` → ``("bucket", "a/b")``; the prefix has no leading/trailing ``/``."""
    if not uri.startswith("s3://"):
        raise StorageError(f"{uri!r} is not an s3:// URI")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise StorageError(f"S3 URI {uri!r} names no bucket; use s3://bucket/prefix")
    return bucket, prefix.strip("/")


def make_client() -> BaseClient:
    """A boto3 S3 client: endpoint from ``$COINBT_S3_ENDPOINT_URL``, credentials the boto3 way."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # pragma: no cover - boto3 is in the storage extra
        raise StorageError("S3 artifacts need boto3: pip install 'coinbt[storage]'") from exc
    options: dict[str, Any] = {
        "retries": {"max_attempts": 3, "mode": "standard"},
        "connect_timeout": 5,
        "read_timeout": 60,
    }
    try:  # botocore >= 1.36: no extra CRC32 of its own; every upload carries our SHA-256
        config = Config(
            **options,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
    except TypeError:  # older botocore sends only the checksums it is given anyway
        config = Config(**options)
    endpoint = os.environ.get(ENDPOINT_ENV) or None
    return boto3.client("s3", endpoint_url=endpoint, config=config)


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


#: the error codes S3 (and MinIO, moto) answer for a bucket that does not exist
_NO_BUCKET = ("404", "NoSuchBucket", "NotFound")


def _rule_prefix(rule: dict[str, Any]) -> Any:
    """The prefix a lifecycle rule covers (``Filter.Prefix``, or the older top-level form)."""
    return rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))


def _client_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


class S3Store(ArtifactStore):
    """Artifacts of runs under ``s3://bucket/prefix``.

    Parameters
    ----------
    uri : str
        ``s3://bucket`` or ``s3://bucket/prefix``.
    multipart_threshold : int, optional
        Objects larger than this many bytes use a multipart upload (default 8 MiB).
    part_size : int, optional
        Size of each part of a multipart upload (default 8 MiB; S3 needs at least 5 MiB).
    client : botocore client, optional
        An S3 client to use instead of making one on first use.
    """

    def __init__(
        self,
        uri: str,
        *,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        part_size: int = PART_SIZE,
        client: BaseClient | None = None,
    ) -> None:
        self.bucket, self.prefix = parse_s3_uri(os.fspath(uri))
        self.multipart_threshold = int(multipart_threshold)
        self.part_size = max(int(part_size), 1)
        self._client = client

    def __repr__(self) -> str:
        return f"S3Store({self.uri!r})"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @property
    def client(self) -> BaseClient:
        if self._client is None:
            self._client = make_client()
        return self._client

    def key(self, run_id: str, name: str = "") -> str:
        base = f"{self.prefix}/runs/{run_id}/" if self.prefix else f"runs/{run_id}/"
        return base + name

    def run_uri(self, run_id: str) -> str:
        return f"s3://{self.bucket}/{self.key(run_id)}"

    # -- writing ------------------------------------------------------------------------------

    def put(self, run_id: str, name: str, data: bytes, rows: int | None = None) -> ArtifactInfo:
        """Upload one object with its SHA-256 for the server to verify, and describe it."""
        key = self.key(run_id, name)
        where = f"s3://{self.bucket}/{key}"
        try:
            if len(data) > self.multipart_threshold:
                self._put_multipart(key, data)
            else:
                self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=data,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=_b64(hashlib.sha256(data).digest()),
                )
        except StorageError:
            raise
        except _client_errors() as exc:
            raise StorageError(
                f"run {run_id}: could not upload artifact {name} to {where}: {exc}"
            ) from exc
        return ArtifactInfo(name, where, len(data), rows, sha256_bytes(data))

    def _put_multipart(self, key: str, data: bytes) -> None:
        client = self.client
        upload = client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256"
        )
        upload_id = upload["UploadId"]
        try:
            parts = []
            for number, start in enumerate(range(0, len(data), self.part_size), start=1):
                chunk = data[start : start + self.part_size]
                checksum = _b64(hashlib.sha256(chunk).digest())
                reply = client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=chunk,
                    ChecksumAlgorithm="SHA256",
                    ChecksumSHA256=checksum,
                )
                parts.append(
                    {"PartNumber": number, "ETag": reply["ETag"], "ChecksumSHA256": checksum}
                )
            client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with contextlib.suppress(Exception):  # the original error matters more
                client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    # -- reading ------------------------------------------------------------------------------

    def get(self, run_id: str, name: str, sha256: str | None = None) -> bytes:
        """Download one object; with ``sha256``, raise :class:`StorageError` unless it matches."""
        key = self.key(run_id, name)
        where = f"s3://{self.bucket}/{key}"
        try:
            reply = self.client.get_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
            data = reply["Body"].read()
        except _client_errors() as exc:
            if _error_code(exc) in ("NoSuchKey", "404", "NotFound"):
                raise StorageError(
                    f"run {run_id}: artifact {name} is missing (expected {where})"
                ) from None
            raise StorageError(
                f"run {run_id}: could not download artifact {name} from {where}: {exc}"
            ) from exc
        return self._check(run_id, name, data, sha256, where)

    def delete_run(self, run_id: str) -> None:
        """Remove every object of a run (no error when there is none)."""
        prefix = self.key(run_id)
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix
            )
            keys = [{"Key": o["Key"]} for page in pages for o in page.get("Contents", [])]
            for start in range(0, len(keys), 1000):
                self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": keys[start : start + 1000]}
                )
        except _client_errors() as exc:
            raise StorageError(
                f"run {run_id}: could not delete artifacts under s3://{self.bucket}/{prefix}: {exc}"
            ) from exc


# -- objects by URI and version (backup and restore) --------------------------------------------


def bucket_versioning(client: BaseClient, bucket: str) -> str | None:
    """The versioning status of ``bucket``: ``"Enabled"``, ``"Suspended"`` or None (never on)."""
    try:
        return client.get_bucket_versioning(Bucket=bucket).get("Status") or None
    except _client_errors() as exc:
        raise StorageError(f"s3://{bucket}: could not read its versioning status: {exc}") from exc


def read_object(
    client: BaseClient,
    bucket: str,
    key: str,
    *,
    version_id: str | None = None,
    sha256: str | None = None,
) -> tuple[bytes, str | None]:
    """Download one object (a given version of it, or the current one).

    Parameters
    ----------
    client : botocore client
    bucket, key : str
        Where the object is.
    version_id : str, optional
        Read this version instead of the current one.
    sha256 : str, optional
        Raise :class:`StorageError` unless the bytes have this SHA-256 (hex).

    Returns
    -------
    tuple of (bytes, str or None)
        The content and the version id the server returned (None on an unversioned bucket).
    """
    where = f"s3://{bucket}/{key}" + (f" (version {version_id})" if version_id else "")
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        reply = client.get_object(**kwargs)
        data = reply["Body"].read()
    except _client_errors() as exc:
        if _error_code(exc) in ("NoSuchKey", "NoSuchVersion", "404", "NotFound"):
            raise StorageError(f"{where} is missing") from None
        raise StorageError(f"could not download {where}: {exc}") from exc
    if sha256 is not None and sha256_bytes(data) != sha256:
        raise StorageError(
            f"{where} is corrupt: SHA-256 {sha256_bytes(data)} does not match the recorded {sha256}"
        )
    version = reply.get("VersionId")
    return data, (None if version in (None, "null") else str(version))


# -- bucket policy ------------------------------------------------------------------------------


def init_bucket(
    uri: str,
    *,
    expire_days: int,
    noncurrent_days: int,
    client: BaseClient | None = None,
) -> dict[str, Any]:
    """Prepare a bucket for artifacts: create it, turn on versioning, set a lifecycle rule.

    Backs ``coinbt storage init-bucket``.  Safe to run again: an existing bucket is kept, and
    the lifecycle rule for this prefix (id ``coinbt-<prefix>``) replaces the previous one while
    rules of other prefixes are left alone.  Both settings are read back afterwards.

    Parameters
    ----------
    uri : str
        ``s3://bucket`` or ``s3://bucket/prefix``; the rule covers objects under the prefix.
    expire_days : int
        Current objects under the prefix expire this many days after they were written.
        (With versioning on, an expired object becomes a non-current version.)
    noncurrent_days : int
        Non-current versions are removed this many days after they stopped being current.
    client : botocore client, optional
        Default: one made from ``$COINBT_S3_ENDPOINT_URL`` and the usual AWS credentials.

    Returns
    -------
    dict
        ``bucket``, ``prefix``, ``created`` (bool), ``versioning`` ("Enabled") and ``rule``
        (the lifecycle rule as read back).

    Raises
    ------
    StorageError
        When the bucket cannot be created or configured, or the settings read back differ from
        what was set.
    """
    for label, value in (("expire_days", expire_days), ("noncurrent_days", noncurrent_days)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise StorageError(f"init-bucket: {label} must be a whole number of days >= 1")
    bucket, prefix = parse_s3_uri(uri)
    client = client or make_client()
    rule_id = f"coinbt-{prefix or 'all'}"
    rule_prefix = f"{prefix}/" if prefix else ""
    wanted = {
        "ID": rule_id,
        "Filter": {"Prefix": rule_prefix},
        "Status": "Enabled",
        "Expiration": {"Days": expire_days},
        "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days},
    }
    step = "create the bucket"
    try:
        created = _create_bucket(client, bucket)
        step = "enable versioning"
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        step = "read the lifecycle configuration"
        rules = [r for r in _lifecycle_rules(client, bucket) if r.get("ID") != rule_id]
        step = "set the lifecycle rule"
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [*rules, wanted]}
        )
        step = "read the settings back"
        versioning = client.get_bucket_versioning(Bucket=bucket).get("Status")
        found = [r for r in _lifecycle_rules(client, bucket) if r.get("ID") == rule_id]
    except _client_errors() as exc:
        raise StorageError(f"init-bucket s3://{bucket}: could not {step}: {exc}") from exc
    if versioning != "Enabled":
        raise StorageError(
            f"init-bucket s3://{bucket}: versioning reads back as {versioning!r}, not 'Enabled'"
        )
    problems = []
    if len(found) != 1:
        problems.append(f"{len(found)} rules with id {rule_id!r}")
    else:
        rule = found[0]
        checks = {
            "prefix": (_rule_prefix(rule), rule_prefix),
            "status": (rule.get("Status"), "Enabled"),
            "expiration days": (rule.get("Expiration", {}).get("Days"), expire_days),
            "non-current days": (
                rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays"),
                noncurrent_days,
            ),
        }
        problems += [f"{k} is {g!r}, expected {w!r}" for k, (g, w) in checks.items() if g != w]
    if problems:
        raise StorageError(
            f"init-bucket s3://{bucket}: lifecycle rule read back differs: " + "; ".join(problems)
        )
    return {
        "bucket": bucket,
        "prefix": prefix,
        "created": created,
        "versioning": versioning,
        "rule": found[0],
    }


def _create_bucket(client: BaseClient, bucket: str) -> bool:
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except _client_errors() as exc:
        if _error_code(exc) not in _NO_BUCKET:
            raise
    region = client.meta.region_name
    kwargs: dict[str, Any] = {"Bucket": bucket}
    if region and region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(**kwargs)
    except _client_errors() as exc:
        if _error_code(exc) in ("BucketAlreadyOwnedByYou",):
            return False
        raise
    return True


def bucket_state(uri: str, client: BaseClient | None = None) -> dict[str, Any]:
    """What ``coinbt doctor`` needs to know of the artifact bucket behind ``uri``.

    Returns ``exists`` (bool), ``versioning`` (``"Enabled"``, ``"Suspended"`` or None) and
    ``rules``: the enabled lifecycle rules that cover the prefix (a rule covers it when its own
    prefix is empty or a leading part of it).

    Raises
    ------
    StorageError
        The endpoint does not answer, or answers with an error other than "no such bucket"
        (access denied, bad credentials …), naming the bucket and the error.
    """
    bucket, prefix = parse_s3_uri(uri)
    client = client or make_client()
    try:
        client.head_bucket(Bucket=bucket)
    except _client_errors() as exc:
        if _error_code(exc) in _NO_BUCKET:
            return {"exists": False, "versioning": None, "rules": []}
        raise StorageError(f"s3://{bucket}: {exc}") from exc
    versioning = bucket_versioning(client, bucket)
    try:
        rules = _lifecycle_rules(client, bucket)
    except _client_errors() as exc:
        raise StorageError(f"s3://{bucket}: could not read its lifecycle rules: {exc}") from exc
    ours = f"{prefix}/" if prefix else ""
    covering = [
        r for r in rules if r.get("Status") == "Enabled" and ours.startswith(_rule_prefix(r) or "")
    ]
    return {"exists": True, "versioning": versioning, "rules": covering}


def _lifecycle_rules(client: BaseClient, bucket: str) -> list[dict[str, Any]]:
    try:
        return list(client.get_bucket_lifecycle_configuration(Bucket=bucket).get("Rules", []))
    except _client_errors() as exc:
        if _error_code(exc) == "NoSuchLifecycleConfiguration":
            return []
        raise
