"""S3 artifacts against a moto server over real HTTP: round trip, corruption, missing objects,
multipart uploads, bucket versioning + lifecycle, and the server dying in the middle of a save."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import boto3
import pandas as pd
import pytest

import coinbt
from coinbt.errors import StorageError
from coinbt.storage import Registry
from coinbt.storage.artifacts import ArtifactStore, LocalStore, open_store
from coinbt.storage.s3 import S3Store, init_bucket

TABLES = ("trades", "positions", "equity", "signals")
NAMES = {f"{t}.parquet" for t in TABLES} | {"spec.json", "stats.json"}


def _client() -> boto3.client:
    return boto3.client("s3", endpoint_url=os.environ["COINBT_S3_ENDPOINT_URL"])


def _registry(tmp_path: Path, uri: str) -> Registry:
    return Registry(f"sqlite:///{tmp_path / 'registry.db'}", uri)


def _assert_same(loaded: coinbt.BacktestResult, result: coinbt.BacktestResult) -> None:
    assert loaded.spec == result.spec
    assert loaded.stats == result.stats
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(loaded, name), getattr(result, name))
    assert loaded.to_dict() == result.to_dict()


def test_store_is_chosen_by_uri(tmp_path: Path, s3_env: str) -> None:
    assert isinstance(open_store(tmp_path), LocalStore)
    assert isinstance(ArtifactStore(str(tmp_path)), LocalStore)
    store = ArtifactStore("s3://bucket/some/prefix/")
    assert isinstance(store, S3Store) and isinstance(open_store("s3://bucket"), S3Store)
    assert store._client is None  # no client until the first request
    assert store.key("abc", "spec.json") == "some/prefix/runs/abc/spec.json"
    assert store.run_uri("abc") == "s3://bucket/some/prefix/runs/abc/"
    assert open_store("s3://bucket").key("abc", "x") == "runs/abc/x"
    with pytest.raises(StorageError, match="no bucket"):
        open_store("s3:///prefix")
    with pytest.raises(StorageError, match="unsupported scheme"):
        open_store("gs://bucket/prefix")


def test_record_then_load_round_trip(
    tmp_path: Path, s3_bucket: str, results: list[coinbt.BacktestResult]
) -> None:
    result = results[0]
    uri = f"s3://{s3_bucket}/team/prod"
    run_id = _registry(tmp_path, uri).record(result)

    reg = _registry(tmp_path, uri)  # as another process would
    _assert_same(reg.load(run_id), result)
    row = reg.runs().iloc[0]
    assert row["artifact_uri"] == f"s3://{s3_bucket}/team/prod/runs/{run_id}/"

    artifacts = reg.artifacts(run_id)
    assert set(artifacts) == NAMES
    client = _client()
    for name, info in artifacts.items():
        key = f"team/prod/runs/{run_id}/{name}"
        assert info["uri"] == f"s3://{s3_bucket}/{key}"
        body = client.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        assert len(body) == info["bytes"]
        assert hashlib.sha256(body).hexdigest() == info["sha256"]
        # the upload carried its SHA-256 and the server stored it with the object
        head = client.head_object(Bucket=s3_bucket, Key=key, ChecksumMode="ENABLED")
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()


def test_corrupted_object_raises_naming_run_and_object(
    tmp_path: Path, s3_bucket: str, results: list[coinbt.BacktestResult]
) -> None:
    uri = f"s3://{s3_bucket}/p"
    reg = _registry(tmp_path, uri)
    run_id = reg.record(results[1])
    _client().put_object(
        Bucket=s3_bucket, Key=f"p/runs/{run_id}/trades.parquet", Body=b"not the trades"
    )
    with pytest.raises(StorageError, match="corrupt") as info:
        reg.load(run_id)
    assert run_id in str(info.value) and "trades.parquet" in str(info.value)


def test_missing_object_raises_naming_run_and_object(
    tmp_path: Path, s3_bucket: str, results: list[coinbt.BacktestResult]
) -> None:
    reg = _registry(tmp_path, f"s3://{s3_bucket}")
    run_id = reg.record(results[2])
    _client().delete_object(Bucket=s3_bucket, Key=f"runs/{run_id}/stats.json")
    with pytest.raises(StorageError, match="missing") as info:
        reg.load(run_id)
    assert run_id in str(info.value) and "stats.json" in str(info.value)


def test_multipart_upload_round_trip(
    tmp_path: Path, s3_bucket: str, results: list[coinbt.BacktestResult]
) -> None:
    # a whole run with every object forced through a multipart upload (one part each)
    store = S3Store(f"s3://{s3_bucket}/mp", multipart_threshold=1)
    reg = _registry(tmp_path, store)
    run_id = reg.record(results[3])
    _assert_same(_registry(tmp_path, f"s3://{s3_bucket}/mp").load(run_id), results[3])
    head = _client().head_object(
        Bucket=s3_bucket, Key=f"mp/runs/{run_id}/equity.parquet", ChecksumMode="ENABLED"
    )
    assert head["ETag"].endswith('-1"')  # a multipart upload of one part
    assert "ChecksumSHA256" in head

    # a large object in three parts of 5 MiB, 5 MiB and the rest
    data = os.urandom(11 * 1024 * 1024 + 123)
    big = S3Store(
        f"s3://{s3_bucket}/mp", multipart_threshold=8 * 1024 * 1024, part_size=5 * 1024 * 1024
    )
    info = big.put("big-run", "blob.bin", data)
    assert info.sha256 == hashlib.sha256(data).hexdigest() and info.bytes == len(data)
    head = _client().head_object(
        Bucket=s3_bucket, Key="mp/runs/big-run/blob.bin", ChecksumMode="ENABLED"
    )
    assert head["ETag"].endswith('-3"') and "ChecksumSHA256" in head
    assert big.get("big-run", "blob.bin", info.sha256) == data
    big.delete_run("big-run")
    with pytest.raises(StorageError, match="missing"):
        big.get("big-run", "blob.bin")


def test_init_bucket_versioning_and_lifecycle_round_trip(s3_env: str) -> None:
    bucket = "coinbt-init-bucket-test"
    out = init_bucket(f"s3://{bucket}/artifacts", expire_days=30, noncurrent_days=7)
    assert out["created"] is True and out["versioning"] == "Enabled"
    client = _client()
    assert client.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rule["ID"] == "coinbt-artifacts" and rule["Status"] == "Enabled"
    assert rule["Filter"]["Prefix"] == "artifacts/"
    assert rule["Expiration"]["Days"] == 30
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7

    # again, with new numbers and a second prefix: bucket kept, our rule replaced, other kept
    out = init_bucket(f"s3://{bucket}/artifacts", expire_days=60, noncurrent_days=14)
    assert out["created"] is False
    init_bucket(f"s3://{bucket}/other", expire_days=5, noncurrent_days=1)
    rules = {r["ID"]: r for r in client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert set(rules) == {"coinbt-artifacts", "coinbt-other"}
    assert rules["coinbt-artifacts"]["Expiration"]["Days"] == 60
    assert rules["coinbt-artifacts"]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 14

    with pytest.raises(StorageError, match="expire_days"):
        init_bucket(f"s3://{bucket}", expire_days=0, noncurrent_days=1)


def test_init_bucket_raises_when_read_back_differs(s3_env: str, monkeypatch) -> None:
    from coinbt.storage import s3

    client = s3.make_client()
    real = client.get_bucket_lifecycle_configuration

    def tampered(**kwargs):
        reply = real(**kwargs)
        for rule in reply["Rules"]:
            rule["Expiration"] = {"Days": 999}
        return reply

    monkeypatch.setattr(client, "get_bucket_lifecycle_configuration", tampered)
    with pytest.raises(StorageError, match="expiration days is 999, expected 30"):
        init_bucket("s3://coinbt-tampered/x", expire_days=30, noncurrent_days=7, client=client)


def test_server_stopped_mid_save_leaves_no_row(
    tmp_path: Path, s3_env: str, results: list[coinbt.BacktestResult], monkeypatch
) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    monkeypatch.setenv("COINBT_S3_ENDPOINT_URL", f"http://{host}:{port}")
    stopped = False
    try:
        _client().create_bucket(Bucket="coinbt-dying")
        store = S3Store("s3://coinbt-dying/p")
        real_put = store.put
        calls = []

        def put_then_die(run_id, name, data, rows=None):
            nonlocal stopped
            calls.append(name)
            if len(calls) == 3:  # two objects are up; the server goes away
                server.stop()
                stopped = True
            return real_put(run_id, name, data, rows)

        monkeypatch.setattr(store, "put", put_then_die)
        reg = _registry(tmp_path, store)
        result = results[4]
        with pytest.raises(StorageError) as info:
            reg.record(result)
        message = str(info.value)
        assert result.run_id in message and calls[2] in message
        assert "could not upload" in message
        assert not reg.exists(result.run_id)
        assert reg.runs().empty and reg.artifacts(result.run_id) == {}
    finally:
        if not stopped:
            server.stop()


def test_every_upload_sends_its_sha256(
    tmp_path: Path, s3_bucket: str, results: list[coinbt.BacktestResult], monkeypatch
) -> None:
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", f"s3://{s3_bucket}/env")
    reg = Registry(f"sqlite:///{tmp_path / 'registry.db'}")  # artifacts from the environment
    assert isinstance(reg.store, S3Store) and reg.store.prefix == "env"
    reg.store.multipart_threshold = 4096  # the larger tables go up in parts
    sent: list[tuple[str, bytes, str]] = []

    def capture(request, **_kwargs) -> None:
        body = request.body
        body = body.getvalue() if hasattr(body, "getvalue") else body
        if request.method == "PUT" and isinstance(body, bytes) and body:
            sent.append((request.url, body, request.headers.get("x-amz-checksum-sha256", "")))

    reg.store.client.meta.events.register("before-send.s3.*", capture)
    run_id = reg.record(results[5])
    assert any("uploadId=" in url for url, _, _ in sent)  # some went multipart
    assert any("uploadId=" not in url for url, _, _ in sent)  # some in one PUT
    for url, body, header in sent:
        header = header if isinstance(header, bytes) else header.encode()
        assert header == base64.b64encode(hashlib.sha256(body).digest()), url
    _assert_same(reg.load(run_id), results[5])


def test_cli_init_bucket_prints_the_verified_configuration(s3_env, capsys) -> None:
    import json

    from coinbt.cli.main import main

    code = main(
        [
            "storage",
            "init-bucket",
            "s3://cli-bucket/runs",
            "--expire-days",
            "90",
            "--noncurrent-days",
            "7",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["bucket"] == "cli-bucket" and out["prefix"] == "runs"
    assert out["versioning"] == "Enabled"


def test_cli_and_notebook_work_on_shared_registry_and_s3_with_only_urls_changed(
    registry_url: str,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The embedded-defaults workflow, pointed at PostgreSQL (or SQLite) + S3 by two URLs."""
    from coinbt.cli.main import main

    monkeypatch.setenv("COINBT_REGISTRY_URL", registry_url)
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", f"s3://{s3_bucket}/team")
    args = [
        "backtest", "--strategy", "sma_cross", "--symbol", "BTC-USDT", "--timeframe", "1h",
        "--exchange", "binance", "--end", "2021-06-30", "--param", "window=9", "--save",
    ]  # fmt: skip
    assert main(args) == 0
    run_id = capsys.readouterr().out.strip().splitlines()[-1].split()[2]
    keys = {
        o["Key"] for o in _client().list_objects_v2(Bucket=s3_bucket, Prefix="team/")["Contents"]
    }
    assert keys == {f"team/runs/{run_id}/{n}" for n in NAMES}

    assert main(["runs", "list"]) == 0
    assert run_id[:12] in capsys.readouterr().out
    assert main(["runs", "show", run_id[:8]]) == 0
    assert f"run {run_id}" in capsys.readouterr().out
    assert main(["runs", "show", run_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["run"]["artifact_uri"] == f"s3://{s3_bucket}/team/runs/{run_id}/"
    assert {a["uri"] for a in shown["artifacts"]} == {
        f"s3://{s3_bucket}/team/runs/{run_id}/{n}" for n in NAMES
    }

    # a notebook: Registry() from the same environment, load, plot with the candles
    reg = Registry()
    try:
        loaded = reg.load(run_id)
    finally:
        reg.close()
    fresh = coinbt.backtest(
        "sma_cross", "BTC-USDT", "1h", exchange="binance", end="2021-06-30", params={"window": 9}
    )
    _assert_same(loaded, fresh)
    loaded.plot()
    pd.testing.assert_frame_equal(loaded.bars, fresh.bars, check_freq=False)
