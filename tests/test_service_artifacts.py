"""The S3-compatible artifact store against a real S3 endpoint on loopback (moto's server mode).

Through boto3 itself (no mocked calls): files kept under the prefix and gone from the local folder,
ranges, deletion, a failed upload keeping the files for its retry, a bucket that is not there named at start. End to end: two `kadr serve` replicas on
one PostgreSQL, each with its own (empty) data folder and ``--artifacts s3://…``: a video made through
one is downloaded through the other with the official openai client and decoded back, Range requests
work, and deleting it through either removes its objects.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import av
import boto3
import httpx
import pytest
from conftest import kadr_env, wait_until
from replicas_scenario import TINY, add_users, client, start_replicas

from kadr.service.artifacts import ArtifactStoreError, LocalArtifacts, RemoteObject, S3Artifacts, S3Location, open_store

BUCKET = "kadr-test"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API over HTTP on 127.0.0.1 (moto's ThreadedMotoServer), with the bucket made."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as env:
        for name, value in AWS_ENV.items():
            env.setenv(name, value)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=BUCKET)
        try:
            yield endpoint
        finally:
            server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    return boto3.client("s3", endpoint_url=s3_endpoint)


def keys(bucket, prefix: str) -> list[str]:
    return sorted(item["Key"] for item in bucket.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_locations_are_checked_naming_the_field() -> None:
    assert S3Location.parse("s3://kadr-test/studio/") == S3Location("kadr-test", "studio/")
    assert S3Location.parse("s3://kadr-test") == S3Location("kadr-test", "")
    for bad in ("kadr-test/studio", "s3://", "s3://Bad_Bucket/x", "http://kadr-test"):
        with pytest.raises(ValueError, match=r"^artifacts: got"):
            S3Location.parse(bad)
    assert isinstance(open_store(None, Path("/tmp/v")), LocalArtifacts)
    with pytest.raises(ValueError, match="artifacts_endpoint_url"):
        open_store(None, Path("/tmp/v"), "http://127.0.0.1:9000")


def test_s3_store_keeps_serves_ranges_and_deletes(s3_endpoint: str, bucket, tmp_path: Path) -> None:
    store = open_store("s3://kadr-test/unit", tmp_path / "videos", s3_endpoint)
    assert isinstance(store, S3Artifacts)
    store.check()
    folder = tmp_path / "videos" / "video_1"
    folder.mkdir(parents=True)
    payload = bytes(range(256)) * 1000
    (folder / "video.mp4").write_bytes(payload)
    (folder / "video.png").write_bytes(b"\x89PNG poster")
    kept = store.keep("video_1", {"video": str(folder / "video.mp4"), "poster": str(folder / "video.png"),
                                  "sprites": None})
    assert kept == {"video": "s3://kadr-test/unit/video_1/video.mp4", "poster": "s3://kadr-test/unit/video_1/video.png",
                    "sprites": None}
    assert keys(bucket, "unit/") == ["unit/video_1/video.mp4", "unit/video_1/video.png"]
    assert not (folder / "video.mp4").exists() and not (folder / "video.png").exists()  # the store has them now
    head = bucket.head_object(Bucket=BUCKET, Key="unit/video_1/video.mp4")
    assert head["ContentType"] == "video/mp4"
    assert store.keep("video_1", kept) == kept  # a retried record uploads nothing again

    found = store.locate(kept["video"])
    assert isinstance(found, RemoteObject) and found.size == len(payload)
    whole = found.open(None)
    assert whole.status == 200 and b"".join(whole.body) == payload
    part = found.open("bytes=1000-1999")
    assert part.status == 206 and part.headers["content-range"] == f"bytes 1000-1999/{len(payload)}"
    assert b"".join(part.body) == payload[1000:2000]

    store.delete(kept["poster"])
    assert store.locate(kept["poster"]) is None
    store.delete_job("video_1")
    assert keys(bucket, "unit/") == [] and not folder.exists()
    with pytest.raises(ArtifactStoreError, match="cannot reach the bucket 'no-such-bucket'"):
        S3Artifacts(S3Location("no-such-bucket", ""), tmp_path, s3_endpoint).check()



def test_a_failed_upload_keeps_the_files_and_a_retry_uploads_them(s3_endpoint: str, bucket, tmp_path: Path) -> None:
    """The store goes away under a finished job (its bucket deleted): keeping fails with the store's error, which
    the scheduler waits on and retries, and the job's files stay on disk; once the bucket is back, the retry keeps
    them. (The scheduler's wait-and-retry on such an error is tested in test_service_faults.py.)"""
    name = "kadr-retry"
    bucket.create_bucket(Bucket=name)
    store = open_store(f"s3://{name}/r", tmp_path / "videos", s3_endpoint)
    store.check()
    folder = tmp_path / "videos" / "video_2"
    folder.mkdir(parents=True)
    (folder / "video.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(5000))
    (folder / "video.png").write_bytes(b"\x89PNG poster")
    files = {"video": str(folder / "video.mp4"), "poster": str(folder / "video.png")}
    bucket.delete_bucket(Bucket=name)
    with pytest.raises(ArtifactStoreError, match=r"cannot upload video\.mp4 of video_2 to s3://kadr-retry/r/video_2/video\.mp4"):
        store.keep("video_2", files)
    assert (folder / "video.mp4").stat().st_size == 5012 and (folder / "video.png").exists()  # nothing lost
    bucket.create_bucket(Bucket=name)
    kept = store.keep("video_2", files)
    assert kept == {"video": f"s3://{name}/r/video_2/video.mp4", "poster": f"s3://{name}/r/video_2/video.png"}
    assert sorted(item["Key"] for item in bucket.list_objects_v2(Bucket=name)["Contents"]) == [
        "r/video_2/video.mp4", "r/video_2/video.png"]
    assert not (folder / "video.mp4").exists()  # uploaded, so the local copy is gone
    found = store.locate(kept["video"])
    assert isinstance(found, RemoteObject) and found.size == 5012

def test_a_bucket_that_is_not_there_stops_the_start_naming_it(s3_endpoint: str, tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "kadr", "serve", "--port", "0", "--workers", "0", "--data",
                           str(tmp_path), "--artifacts", "s3://no-such-bucket/x", "--artifacts-endpoint-url",
                           s3_endpoint], capture_output=True, text=True, env=kadr_env(**AWS_ENV), timeout=120)
    assert proc.returncode == 2
    assert f"cannot reach the bucket 'no-such-bucket' at {s3_endpoint}" in proc.stderr, proc.stderr


@pytest.mark.slow
def test_two_replicas_with_their_own_disks_serve_one_video_from_the_store(postgres, s3_endpoint: str, bucket,
                                                                         tmp_path: Path) -> None:
    db_url = postgres.new_database()
    # The second replica only serves (no worker): what it sends back can only have come from the store.
    servers = start_replicas(tmp_path, db_url, workers=(1, 0), extra_env=AWS_ENV,
                             extra_args=["--artifacts", "s3://kadr-test/studio", "--artifacts-endpoint-url", s3_endpoint])
    try:
        (_, key, _), = add_users(db_url, 1).values()
        made = client(servers[0], key).videos.create(**TINY)
        video = wait_until(lambda: (v := client(servers[1], key).videos.retrieve(made.id)).status in
                           ("completed", "failed") and v, 180, "the video to complete")
        assert video.status == "completed", video
        assert keys(bucket, f"studio/{made.id}/") == [f"studio/{made.id}/{name}"
                                                        for name in ("sprites.jpg", "video.mp4", "video.png")]
        for server in servers:  # neither replica's disk keeps the finished files
            assert not [p for p in (server.data / "videos").rglob("*") if p.is_file()], server.data
        stored = bucket.get_object(Bucket=BUCKET, Key=f"studio/{made.id}/video.mp4")["Body"].read()
        for server in servers:
            got = client(server, key).videos.download_content(made.id).read()
            assert got == stored
        with av.open(io.BytesIO(stored)) as container:  # a real video, decoded back
            frames = sum(1 for _ in container.decode(video=0))
        assert frames >= 8
        auth = {"authorization": f"Bearer {key}"}
        part = httpx.get(f"{servers[1].url}/v1/videos/{made.id}/content", headers={**auth, "range": "bytes=0-99"},
                         timeout=30)
        assert part.status_code == 206 and part.content == stored[:100]
        assert part.headers["content-range"] == f"bytes 0-99/{len(stored)}"
        poster = httpx.get(f"{servers[0].url}/v1/videos/{made.id}/content", params={"variant": "thumbnail"},
                           headers=auth, timeout=30)
        assert poster.status_code == 200 and poster.headers["content-type"] == "image/png"
        assert poster.content[:8] == b"\x89PNG\r\n\x1a\n"

        client(servers[1], key).videos.delete(made.id)
        assert keys(bucket, f"studio/{made.id}/") == []
    finally:
        for server in servers:
            server.stop()
