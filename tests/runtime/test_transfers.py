"""Direct transfers for large files: the local flow over HTTP, and the AWS flow against moto's S3 server."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtime.transfers import S3Staging, UploadTokens
from tests.runtime.conftest import model_env
from tests.support.s3 import client as s3_client
from tests.support.s3 import runtime_env, s3_server
from tests.support.server import SESSION_SECRET, BluClient, BluServer

THRESHOLD = 4096
BUCKET = "blu-files-test"


def payload(size: int) -> bytes:
    return bytes((i * 7 + i // 251) % 256 for i in range(size))


def start(api: BluClient, path: str, size: int) -> dict[str, Any]:
    response = api.http.post("/api/files/uploads", json={"path": path, "size": size})
    assert response.status_code == 201, response.text
    return dict(response.json())


def send(target: dict[str, Any], data: bytes, http: httpx.Client) -> httpx.Response:
    """What the browser does with a target: a form POST (fields, then the file) or a raw PUT."""
    if target["method"] == "POST":
        return httpx.post(target["url"], data=target["fields"], files={"file": ("blob", data)})
    return http.put(target["url"], content=data, headers=target["headers"])


def complete(api: BluClient, upload_id: str) -> httpx.Response:
    return api.http.post(f"/api/files/uploads/{upload_id}/complete")


@pytest.fixture(scope="module")
def local(model: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    env = {**model_env(model), "BLU_DIRECT_TRANSFER_BYTES": str(THRESHOLD), "BLU_MAX_UPLOAD_BYTES": "20000"}
    server = BluServer(tmp_path_factory.mktemp("transfers") / "data", env=env).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def local_api(local: BluServer) -> BluClient:
    return local.client()


def staged_files(server: BluServer) -> list[str]:
    """Bytes still staged (the markers of completed ids are not bytes)."""
    return sorted(p.name for p in (server.data_dir / "transfers").iterdir() if not p.name.endswith(".done"))


# -- the local flow ---------------------------------------------------------------------------------
def test_config_states_the_limit_and_the_threshold(local_api: BluClient) -> None:
    config = local_api.http.get("/api/config").json()
    assert config["max_upload_bytes"] == 20000
    assert config["direct_transfer_bytes"] == THRESHOLD
    assert config["file_transfers"] == "local"


def test_local_upload_lands_in_the_workspace_byte_for_byte(local_api: BluClient, local: BluServer) -> None:
    data = payload(15000)
    target = start(local_api, "big/blob.bin", len(data))
    assert target["method"] == "PUT" and target["url"].startswith("/api/files/uploads/")
    assert send(target, data, local_api.http).status_code == 204
    assert not (local.data_dir / "workspace" / "big" / "blob.bin").exists()  # nothing before completion
    done = complete(local_api, target["id"])
    assert done.status_code == 201 and done.json() == {"path": "big/blob.bin", "size": len(data)}
    assert (local.data_dir / "workspace" / "big" / "blob.bin").read_bytes() == data
    assert staged_files(local) == []
    # Replayed: the id is spent, for the completion and for the bytes.
    assert complete(local_api, target["id"]).status_code == 409
    assert send(target, data, local_api.http).status_code == 409


def test_an_oversized_declared_size_is_refused_before_any_byte(local_api: BluClient) -> None:
    response = local_api.http.post("/api/files/uploads", json={"path": "huge.bin", "size": 20001})
    assert response.status_code == 413 and "20000" in response.json()["detail"]


def test_a_size_lie_is_refused_and_leaves_nothing(local_api: BluClient, local: BluServer) -> None:
    target = start(local_api, "liar.bin", 5000)
    more = local_api.http.put(target["url"], content=payload(6000), headers=target["headers"])
    assert more.status_code == 413

    def streamed() -> Iterator[bytes]:  # no Content-Length: only the running count can catch it
        for _ in range(6):
            yield b"x" * 1000

    assert local_api.http.put(target["url"], content=streamed()).status_code == 413
    fewer = local_api.http.put(target["url"], content=payload(4000), headers=target["headers"])
    assert fewer.status_code == 413
    assert staged_files(local) == []
    assert complete(local_api, target["id"]).status_code == 409  # nothing arrived: nothing to complete
    assert not (local.data_dir / "workspace" / "liar.bin").exists()


@pytest.mark.parametrize("path", ["../escape.bin", "/etc/x", "a/../../b", "dir/", ".upload-x", " x"])
def test_paths_outside_the_workspace_are_refused_up_front(local_api: BluClient, path: str) -> None:
    response = local_api.http.post("/api/files/uploads", json={"path": path, "size": 10})
    assert response.status_code == 400, response.text


def test_a_folder_or_a_file_on_the_way_is_refused_before_any_byte(local_api: BluClient, local: BluServer) -> None:
    workspace = local.data_dir / "workspace"
    (workspace / "a-folder").mkdir(exist_ok=True)
    (workspace / "a-file.txt").write_text("x")
    for path, reason in (("a-folder", "folder"), ("a-file.txt/x.bin", "is a file")):
        response = local_api.http.post("/api/files/uploads", json={"path": path, "size": 10})
        assert response.status_code == 400 and reason in response.json()["detail"], (path, response.text)
    assert start(local_api, "new-folder/deeper/x.bin", 10)["path"] == "new-folder/deeper/x.bin"  # created later
    assert not (workspace / "new-folder").exists()


def test_a_completed_id_stays_spent_after_a_restart(local_api: BluClient, local: BluServer) -> None:
    target = start(local_api, "spent.bin", 3)
    assert send(target, b"abc", local_api.http).status_code == 204
    assert complete(local_api, target["id"]).status_code == 201
    local.restart()
    (local.data_dir / "workspace" / "spent.bin").unlink()
    assert send(target, b"XYZ", local_api.http).status_code == 409
    assert complete(local_api, target["id"]).status_code == 409
    assert not (local.data_dir / "workspace" / "spent.bin").exists()
    assert staged_files(local) == []


def test_a_path_that_turned_into_a_folder_fails_cleanly(local_api: BluClient, local: BluServer) -> None:
    target = start(local_api, "later-a-folder", 10)
    assert send(target, payload(10), local_api.http).status_code == 204
    (local.data_dir / "workspace" / "later-a-folder").mkdir()
    response = complete(local_api, target["id"])
    assert response.status_code == 400 and "folder" in response.json()["detail"]
    assert staged_files(local) == []
    assert list((local.data_dir / "workspace").glob("**/.upload-*")) == []


def test_wrong_tampered_and_expired_ids_are_refused(local_api: BluClient, local: BluServer) -> None:
    target = start(local_api, "mine.bin", 10)
    assert complete(local_api, "not-an-upload").status_code == 404
    # Retargeted: another path under the same signature.
    other = UploadTokens("another-secret-0123456789").issue("../../etc/passwd", 10, now=time.time())[0]
    assert complete(local_api, other).status_code == 404
    assert local_api.http.put(f"/api/files/uploads/{other}/data", content=b"x" * 10).status_code == 404
    tampered = target["id"][:-2] + ("AA" if not target["id"].endswith("AA") else "BB")
    assert complete(local_api, tampered).status_code == 404
    expired = UploadTokens(SESSION_SECRET).issue("old.bin", 10, now=time.time() - 2 * 3600)[0]
    response = local_api.http.put(f"/api/files/uploads/{expired}/data", content=b"x" * 10)
    assert response.status_code == 410 and "expired" in response.json()["detail"]
    assert complete(local_api, expired).status_code == 410
    assert not (local.data_dir / "workspace" / "old.bin").exists()


def test_every_transfer_route_needs_the_login(local: BluServer, local_api: BluClient) -> None:
    target = start(local_api, "anon.bin", 10)
    anonymous = local.client(login=False)
    for method, url, kwargs in (
        ("POST", "/api/files/uploads", {"json": {"path": "anon.bin", "size": 10}}),
        ("PUT", target["url"], {"content": b"x" * 10}),
        ("POST", f"/api/files/uploads/{target['id']}/complete", {}),
        ("POST", "/api/files/downloads", {"json": {"path": "anon.bin"}}),
    ):
        assert anonymous.http.request(method, url, **kwargs).status_code == 401, url
    assert staged_files(local) == []


def test_local_download_links_are_the_content_url(local_api: BluClient, local: BluServer) -> None:
    (local.data_dir / "workspace" / "big file.bin").write_bytes(payload(THRESHOLD + 1))
    link = local_api.http.post("/api/files/downloads", json={"path": "big file.bin"}).json()
    assert link == {"url": "/api/files/content?path=big%20file.bin&download=1", "size": THRESHOLD + 1, "direct": False}
    assert local_api.http.get(link["url"]).content == payload(THRESHOLD + 1)
    assert local_api.http.post("/api/files/downloads", json={"path": "../x"}).status_code == 400
    assert local_api.http.post("/api/files/downloads", json={"path": "nope"}).status_code == 404


# -- the AWS flow against moto's S3 (a real server speaking S3's wire protocol) -----------------------
@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with s3_server(BUCKET) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> Any:
    return s3_client(s3_endpoint, "eu-west-1")


@pytest.fixture(scope="module")
def aws(model: Any, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BluServer]:
    env = {
        **model_env(model),
        "BLU_DIRECT_TRANSFER_BYTES": str(THRESHOLD),
        "BLU_MAX_UPLOAD_BYTES": "20000",
        **runtime_env(s3_endpoint, BUCKET),
    }
    server = BluServer(tmp_path_factory.mktemp("transfers-aws") / "data", env=env).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def aws_api(aws: BluServer) -> BluClient:
    return aws.client()


def objects(s3: Any, prefix: str) -> list[dict[str, Any]]:
    """Every version and delete marker under `prefix`, but the (empty) markers of completed upload ids."""
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=prefix)
    found = list(versions.get("Versions", [])) + list(versions.get("DeleteMarkers", []))
    return [o for o in found if not o["Key"].endswith(".done")]


def test_s3_upload_posts_the_form_and_lands_byte_for_byte(aws_api: BluClient, aws: BluServer, s3: Any) -> None:
    assert aws_api.http.get("/api/config").json()["file_transfers"] == "s3"
    data = payload(12345)
    target = start(aws_api, "inbox/report.pdf", len(data))
    assert target["method"] == "POST" and BUCKET in target["url"]
    key = target["fields"]["key"]
    assert key.startswith("uploads/") and len(key) == len("uploads/") + 32
    policy = json.loads(base64.b64decode(target["fields"]["policy"]))
    assert ["content-length-range", len(data), len(data)] in policy["conditions"]
    assert {"key": key} in policy["conditions"] and {"bucket": BUCKET} in policy["conditions"]
    assert send(target, data, aws_api.http).status_code in (200, 201, 204)
    done = complete(aws_api, target["id"])
    assert done.status_code == 201, done.text
    assert (aws.data_dir / "workspace" / "inbox" / "report.pdf").read_bytes() == data
    assert objects(s3, "uploads/") == []  # the version itself is gone, not hidden behind a delete marker
    assert complete(aws_api, target["id"]).status_code == 409
    # Replayed: the form still works for its 15 minutes, but the id completes only once.
    assert send(target, data[::-1], aws_api.http).status_code in (200, 201, 204)
    assert complete(aws_api, target["id"]).status_code == 409
    assert (aws.data_dir / "workspace" / "inbox" / "report.pdf").read_bytes() == data
    assert objects(s3, "uploads/") == []  # and what was sent again is gone


def test_s3_completed_id_stays_spent_after_a_restart(aws_api: BluClient, aws: BluServer, s3: Any) -> None:
    target = start(aws_api, "spent.bin", 3)
    assert send(target, b"abc", aws_api.http).status_code in (200, 201, 204)
    assert complete(aws_api, target["id"]).status_code == 201
    aws.restart()
    assert send(target, b"XYZ", aws_api.http).status_code in (200, 201, 204)  # the form lives 15 minutes
    assert complete(aws_api, target["id"]).status_code == 409
    assert (aws.data_dir / "workspace" / "spent.bin").read_bytes() == b"abc"
    assert objects(s3, "uploads/") == []  # what was sent again is gone


def test_s3_size_lie_is_refused_at_completion(aws_api: BluClient, aws: BluServer, s3: Any) -> None:
    # moto does not enforce the policy's content-length-range (S3 does): the runtime checks again.
    target = start(aws_api, "lie.bin", 100)
    assert send(target, payload(5000), aws_api.http).status_code in (200, 201, 204)
    response = complete(aws_api, target["id"])
    assert response.status_code == 413 and "100" in response.json()["detail"]
    assert not (aws.data_dir / "workspace" / "lie.bin").exists()
    assert objects(s3, "uploads/") == []
    assert complete(aws_api, target["id"]).status_code == 409


def test_s3_completion_before_the_bytes_can_be_retried(aws_api: BluClient, aws: BluServer) -> None:
    target = start(aws_api, "early.bin", 10)
    early = complete(aws_api, target["id"])
    assert early.status_code == 409 and "Nothing" in early.json()["detail"]
    assert send(target, payload(10), aws_api.http).status_code in (200, 201, 204)
    assert complete(aws_api, target["id"]).status_code == 201
    assert (aws.data_dir / "workspace" / "early.bin").read_bytes() == payload(10)


def test_s3_download_is_a_presigned_link_to_a_copy(aws_api: BluClient, aws: BluServer) -> None:
    data = payload(THRESHOLD * 3)
    (aws.data_dir / "workspace" / "Große Datei.bin").write_bytes(data)
    link = aws_api.http.post("/api/files/downloads", json={"path": "Große Datei.bin"}).json()
    assert link["direct"] is True and link["size"] == len(data)
    assert "/downloads/" in link["url"] and "X-Amz-Expires=900" in link["url"]
    got = httpx.get(link["url"])
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-disposition"] == "attachment; filename*=utf-8''Gro%C3%9Fe%20Datei.bin"
    # Through the API the same file is refused with a reason (API Gateway would cut it).
    direct = aws_api.http.get("/api/files/content", params={"path": "Große Datei.bin"})
    assert direct.status_code == 413 and "Download" in direct.json()["detail"]
    # Small files keep going through the API.
    (aws.data_dir / "workspace" / "small.txt").write_bytes(b"small")
    small = aws_api.http.post("/api/files/downloads", json={"path": "small.txt"}).json()
    assert small["direct"] is False and aws_api.http.get(small["url"]).content == b"small"


def test_presigned_urls_name_the_regional_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """The global endpoint answers a POST for a bucket elsewhere with a redirect a browser will not follow."""
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    staging = S3Staging("bucket-x", region="eu-central-1")
    token, upload = UploadTokens(SESSION_SECRET).issue("a.bin", 5, now=time.time())
    target = staging.upload_target(upload, token)
    assert target.url.startswith("https://bucket-x.s3.eu-central-1.amazonaws.com"), target.url
    assert target.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256"
