"""FsspecStore against a real S3 API: moto in server mode on 127.0.0.1, reached through s3fs."""

from __future__ import annotations

import io
import os
import socket
import tempfile
import time
import uuid
from pathlib import Path

import boto3
import objects_fixtures as fx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monoloop.errors import ConnectionFailed, CorruptObject
from monoloop.hashing import hash_bytes
from monoloop.store.fsio import SMALL_FILE
from monoloop.store.objects import open_store
from monoloop.store.remote import FsspecStore

S3Store = tuple[FsspecStore, fx.Tamper]
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
reuse_store = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def s3_options(endpoint: str, **config: object) -> dict[str, object]:
    return {
        "key": CREDENTIALS["aws_access_key_id"],
        "secret": CREDENTIALS["aws_secret_access_key"],
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
        **({"config_kwargs": config} if config else {}),
    }


@pytest.fixture
def s3_store(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Store:
    # Fake credentials come through the options; make sure nothing asks a metadata service.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bucket = f"monoloop-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1", **CREDENTIALS)
    client.create_bucket(Bucket=bucket)
    store = open_store(
        f"s3://{bucket}/objects", default_root=tmp_path, options=s3_options(s3_endpoint)
    )
    assert isinstance(store, FsspecStore)

    def tamper(content_id: str, data: bytes) -> None:
        hexdigits = content_id.removeprefix("b3:")
        key = f"objects/{hexdigits[:2]}/{hexdigits[2:]}"
        client.put_object(Bucket=bucket, Key=key, Body=data)

    return store, tamper


@reuse_store
@given(data=st.binary(max_size=3000))
def test_round_trip(s3_store: S3Store, data: bytes) -> None:
    fx.check_round_trip(s3_store[0], data)


@reuse_store
@given(files=fx.trees)
def test_tree_round_trip(s3_store: S3Store, files: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as where:
        fx.check_tree_round_trip(s3_store[0], files, Path(where))


def test_large_object_streams_in_and_out(s3_store: S3Store, tmp_path: Path) -> None:
    store, tamper = s3_store
    data = os.urandom(SMALL_FILE + 4321)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    content_id = store.put_file(source)
    assert content_id == hash_bytes(data)
    assert store.size(content_id) == len(data)
    assert store.put_stream(io.BytesIO(data)) == content_id
    store.get_file(content_id, tmp_path / "out" / "big.bin")
    assert (tmp_path / "out" / "big.bin").read_bytes() == data
    tamper(content_id, fx.flipped(data))
    with pytest.raises(CorruptObject):
        store.get_file(content_id, tmp_path / "out" / "big.bin")
    assert (tmp_path / "out" / "big.bin").read_bytes() == data


def test_corruption_is_detected(s3_store: S3Store, tmp_path: Path) -> None:
    store, tamper = s3_store
    fx.check_corruption(store, tamper, b"weights " * 500, tmp_path)


def test_missing_and_malformed_ids(s3_store: S3Store, tmp_path: Path) -> None:
    fx.check_missing_and_malformed(s3_store[0], tmp_path)


def test_exists_iter_and_progress(s3_store: S3Store, tmp_path: Path) -> None:
    store, _ = s3_store
    ids = {store.put_bytes(f"object {i}".encode()) for i in range(5)}
    assert set(store.iter()) == ids
    assert all(store.exists(content_id) for content_id in ids)
    fx.check_progress(store, tmp_path)
    report = store.fsck()
    assert report.ok and report.checked == len(ids) + 40
    assert report.bytes_checked > 0


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_unreachable_endpoint_fails_on_first_use(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    options = s3_options(endpoint, retries={"max_attempts": 1}, connect_timeout=2)
    options["skip_instance_cache"] = True
    store = open_store("s3://bucket/prefix", default_root=tmp_path, options=options)
    started = time.monotonic()
    for action in (
        lambda: store.put_bytes(b"x"),
        lambda: store.exists(hash_bytes(b"x")),
        lambda: store.get(hash_bytes(b"x")),
        lambda: list(store.iter()),
    ):
        with pytest.raises(ConnectionFailed) as caught:
            action()
        assert "s3://bucket/prefix" in caught.value.message
        assert caught.value.hint
        assert "Traceback" not in caught.value.message
    assert time.monotonic() - started < 30


def test_missing_bucket_is_explained(s3_endpoint: str, tmp_path: Path) -> None:
    store = open_store(
        f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/x",
        default_root=tmp_path,
        options=s3_options(s3_endpoint),
    )
    with pytest.raises(ConnectionFailed) as caught:
        store.put_bytes(b"x")
    assert caught.value.hint and "bucket" in caught.value.hint
