"""Strict input and a truthful OpenAPI document, against real `kadr serve` processes on loopback (issue 12).

No body shape makes a 500 (deep nesting, huge integers, wrong encodings, garbled forms) on SQLite or
PostgreSQL; after each refusal the kept-alive connection goes on working; the document states every
request body, status, content type and constraint; schemathesis, with every check, finds nothing.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import stat
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from conftest import KadrServer, run_cli
from PIL import Image

import schema_fuzz
from web_fixtures import studio_browser, studio_server  # noqa: F401  (pytest fixtures)

VIDEO = {"prompt": "a red ball rolls on the grass", "seconds": "1", "size": "32x32", "fps": 8}
NO_SUCH_ID = "video_000000000000000000000000"


@pytest.fixture(scope="module")
def idle_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KadrServer, str]]:
    server, key = schema_fuzz.start_idle(tmp_path_factory.mktemp("idle") / "data")
    yield server, key
    server.stop()


@pytest.fixture(scope="module")
def idle_postgres(tmp_path_factory: pytest.TempPathFactory, postgres) -> Iterator[tuple[KadrServer, str]]:
    server, key = schema_fuzz.start_idle(tmp_path_factory.mktemp("idle-pg") / "data", db=postgres.new_database())
    yield server, key
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def idle(request: pytest.FixtureRequest) -> tuple[KadrServer, str]:
    return request.getfixturevalue("idle_sqlite" if request.param == "sqlite" else "idle_postgres")


def openai_error(response: httpx.Response | dict[str, Any]) -> dict[str, Any]:
    body = response.json() if isinstance(response, httpx.Response) else response
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def no_tracebacks(server: KadrServer) -> None:
    log = server.log_path.read_text() if server.log_path else ""
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]


class KeptAlive:
    """One HTTP/1.1 connection, checked to stay the same one across requests (a 500 would close it)."""

    def __init__(self, server: KadrServer, key: str) -> None:
        parsed = urllib.parse.urlsplit(server.url)
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        self.auth = {"authorization": f"Bearer {key}"}
        self.sock: Any = None

    def send(self, method: str, path: str, body: bytes | None = None, content_type: str | None = None
             ) -> tuple[int, dict[str, Any]]:
        headers = dict(self.auth)
        if content_type:
            headers["content-type"] = content_type
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        assert response.getheader("connection", "").lower() != "close", (path, response.status, data[:300])
        if self.sock is None:
            self.sock = self.conn.sock
        assert self.conn.sock is self.sock, f"the connection was not kept alive after {method} {path}"
        return response.status, json.loads(data) if data else {}

    def close(self) -> None:
        self.conn.close()


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# ---- no body shape makes a 500 --------------------------------------------------------------------------


def test_no_body_shape_makes_a_server_error_and_the_connection_stays_open(idle_sqlite) -> None:
    server, key = idle_sqlite
    client = KeptAlive(server, key)
    digits = b"1" * 5000
    json_type = "application/json"
    cases: list[tuple[str, str, bytes, str, str]] = [
        # (path, what, body, content type, the error code expected)
        ("/v1/videos", "nested 5000 deep", b'{"prompt": "x", "seed": ' + nested(5000) + b"}", json_type, "invalid_json"),
        ("/v1/prompt/check", "nested 5000 deep", b'{"prompt": ' + nested(5000) + b"}", json_type, "invalid_json"),
        ("/v1/videos", "nested, as the whole body", nested(5000), json_type, "invalid_json"),
        ("/v1/videos", "5000-digit seed", b'{"prompt": "x", "seed": ' + digits + b"}", json_type, "invalid_json"),
        ("/v1/videos", "5000-digit fps", b'{"prompt": "x", "fps": ' + digits + b"}", json_type, "invalid_json"),
        ("/v1/prompt/check", "5000-digit seconds", b'{"prompt": "x", "seconds": ' + digits + b"}", json_type,
         "invalid_json"),
        ("/v1/videos", "Latin-1 bytes", '{"prompt": "café"}'.encode("latin-1"), json_type, "invalid_encoding"),
        ("/v1/videos", "UTF-16", '{"prompt": "waves"}'.encode("utf-16"), json_type, "invalid_encoding"),
        ("/v1/prompt/check", "Latin-1 bytes", '{"prompt": "café"}'.encode("latin-1"), json_type, "invalid_encoding"),
        ("/v1/videos", "multipart with the wrong boundary",
         b'--other\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nwaves\r\n--other--\r\n',
         "multipart/form-data; boundary=expected", "invalid_form"),
        ("/v1/videos", "multipart without a boundary", b"prompt=waves", "multipart/form-data", "invalid_form"),
        ("/v1/videos", "multipart cut short",
         b'--b\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nwav', "multipart/form-data; boundary=b",
         "invalid_form"),
    ]
    try:
        for path, what, body, content_type, code in cases:
            status, answer = client.send("POST", path, body, content_type)
            assert status == 400, (what, status, answer)
            error = openai_error(answer)
            assert error["code"] == code, (what, error)
            assert "prompt" not in (error["param"] or ""), (what, error)  # not mistaken for a missing prompt
            assert len(error["message"]) < 300, (what, error)
            assert client.send("GET", "/v1/me")[0] == 200  # the same connection, still fine
        # Deep nesting inside a value the parser can read, and the longest integer it can: refused by field.
        for field in ("seed", "fps", "seconds"):
            status, answer = client.send("POST", "/v1/videos", json.dumps(
                {"prompt": "x", field: int("9" * 4000)}).encode(), json_type)
            assert status == 400 and openai_error(answer)["param"] == field, answer
            assert len(openai_error(answer)["message"]) < 300
        status, answer = client.send("POST", "/v1/videos", b'{"prompt": "x", "style": ' + nested(900) + b"}", json_type)
        assert status == 400 and openai_error(answer)["param"] == "style", answer
    finally:
        client.close()
    no_tracebacks(server)


def test_prompt_check_says_what_is_wrong_with_the_body(idle_sqlite) -> None:
    server, key = idle_sqlite
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {key}"}, timeout=60) as client:
        empty = openai_error(client.post("/v1/prompt/check"))
        assert empty["code"] == "missing_body" and "empty" in empty["message"] and "None" not in empty["message"]
        broken = openai_error(client.post("/v1/prompt/check", content=b'{"prompt": "waves",',
                                          headers={"content-type": "application/json"}))
        assert broken["code"] == "invalid_json" and "not valid JSON" in broken["message"]
        assert "line 1, column" in broken["message"] and "got {}" not in broken["message"]
        listed = openai_error(client.post("/v1/prompt/check", json=["waves"]))
        assert listed["message"] == "The request body must be a JSON object, not an array."
        camera = client.post("/v1/prompt/check", json={"prompt": "waves", "camera": "sideways"})
        assert camera.status_code == 400 and openai_error(camera)["param"] == "camera"
        assert "'zoom_in'" in openai_error(camera)["message"]


# ---- refused before the store, on SQLite and PostgreSQL ----------------------------------------------------


def test_nul_bytes_and_long_ids_are_refused_before_the_store(idle) -> None:
    server, key = idle
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {key}"}, timeout=60) as client:
        for field in ("prompt", "negative_prompt"):
            answer = client.post("/v1/videos", json={**VIDEO, field: "waves\x00 at dusk"})
            assert answer.status_code == 400, answer.text
            error = openai_error(answer)
            assert error["param"] == field and "U+0000" in error["message"] and "control character" in error["message"]
        check = client.post("/v1/prompt/check", json={"prompt": "waves\x00"})
        assert check.status_code == 400 and openai_error(check)["param"] == "prompt"
        for method, suffix in [("GET", ""), ("DELETE", ""), ("POST", "/cancel"), ("GET", "/content"), ("GET", "/events")]:
            nul = client.request(method, f"/v1/videos/video_%00{'0' * 23}{suffix}")
            assert nul.status_code == 404 and openai_error(nul)["code"] == "not_found", (method, suffix, nul.text)
            long_id = "video_" + "a" * 10_000
            long = client.request(method, f"/v1/videos/{long_id}{suffix}")
            assert long.status_code == 404, (method, suffix, long.text)
            assert "a" * 100 not in long.text and len(long.text) < 400
        after = client.get("/v1/videos", params={"after": "video_\x00"})
        assert after.status_code == 400 and openai_error(after)["param"] == "after"
        long_after = client.get("/v1/videos", params={"after": "x" * 5000})
        assert long_after.status_code == 400 and "x" * 100 not in long_after.text
        unknown = client.get("/v1/videos", params={"after": NO_SUCH_ID})
        assert unknown.status_code == 404 and openai_error(unknown)["param"] == "after"
        assert client.get("/v1/me").status_code == 200
    no_tracebacks(server)


# ---- what a field admits ----------------------------------------------------------------------------------


def test_seconds_is_a_whole_number_never_a_boolean(idle_sqlite) -> None:
    server, key = idle_sqlite
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {key}"}, timeout=60) as client:
        for bad in (4.5, "4.5", True, False, "true", "04", " 4", "4 ", 0, 31, "1e1", [4], {"s": 4}):
            answer = client.post("/v1/videos", json={**VIDEO, "seconds": bad})
            assert answer.status_code == 400, (bad, answer.text)
            error = openai_error(answer)
            assert error["param"] == "seconds" and "whole number of seconds" in error["message"], (bad, error)
        created = [client.post("/v1/videos", json={**VIDEO, "seconds": good}) for good in ("4", 4, 4.0, 30)]
        assert [c.status_code for c in created] == [200] * 4, [c.text for c in created]
        assert [c.json()["seconds"] for c in created] == ["4", "4", "4", "30"]
        form = client.post("/v1/videos", data={**VIDEO, "seconds": "4.5"})
        assert form.status_code == 400 and openai_error(form)["param"] == "seconds"
        # The other numbers: whole, in range, and a JSON number (a string is no integer in JSON).
        for field, bad in [("seed", "5"), ("seed", 1.5), ("seed", -1), ("fps", True), ("fps", 61), ("loop", "yes")]:
            answer = client.post("/v1/videos", json={**VIDEO, field: bad})
            assert answer.status_code == 400 and openai_error(answer)["param"] == field, (field, bad, answer.text)


def test_control_characters_are_refused_the_same_way_everywhere(idle_sqlite, tmp_path: Path) -> None:
    from kadr.errors import InvalidRequestError
    from kadr.request import VideoRequest

    server, key = idle_sqlite
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {key}"}, timeout=60) as client:
        for char in ("\x00", "\x1b", "\x7f", "\x85", "\x0b"):
            for path, body in [("/v1/videos", {**VIDEO, "prompt": f"waves{char}[31m"}),
                               ("/v1/prompt/check", {"prompt": f"waves{char}"})]:
                answer = client.post(path, json=body)
                assert answer.status_code == 400, (path, repr(char), answer.text)
                assert f"U+{ord(char):04X}" in openai_error(answer)["message"]
        # Newlines and tabs are text: kept as spaces.
        fine = client.post("/v1/videos", json={**VIDEO, "prompt": "waves\r\n\tat dusk", "negative_prompt": "blur\n"})
        assert fine.status_code == 200 and fine.json()["prompt"] == "waves at dusk", fine.text
        assert fine.json()["negative_prompt"] == "blur"
    # The library and the CLI: the same rule, the same words.
    with pytest.raises(InvalidRequestError, match="U\\+001B"):
        VideoRequest(prompt="waves\x1b[31m")
    with pytest.raises(InvalidRequestError, match="negative_prompt.*U\\+0007"):
        VideoRequest(prompt="waves", negative_prompt="\x07")
    cli = run_cli("generate", "waves\x01 at dusk", "--output", str(tmp_path / "out.mp4"))
    assert cli.returncode != 0 and "U+0001" in cli.stderr, (cli.returncode, cli.stderr)
    assert not (tmp_path / "out.mp4").exists()


def png(width: int = 16, height: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_one_input_reference_and_one_of_each_field(idle_sqlite) -> None:
    server, key = idle_sqlite
    data_url = "data:image/png;base64," + base64.b64encode(png()).decode()
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {key}"}, timeout=60) as client:
        two = client.post("/v1/videos", data=VIDEO, files=[("input_reference", ("a.png", png(), "image/png")),
                                                            ("input_reference", ("b.png", png(), "image/png"))])
        assert two.status_code == 400, two.text
        assert openai_error(two)["param"] == "input_reference" and "one image" in openai_error(two)["message"]
        mixed = client.post("/v1/videos", data={**VIDEO, "input_reference[image_url]": data_url},
                            files=[("input_reference", ("a.png", png(), "image/png"))])
        assert mixed.status_code == 400 and openai_error(mixed)["param"] == "input_reference"
        twice = client.post("/v1/videos", content=b"prompt=a&prompt=b",
                            headers={"content-type": "application/x-www-form-urlencoded"})
        assert twice.status_code == 400 and openai_error(twice)["param"] == "prompt"
        one = client.post("/v1/videos", data=VIDEO, files=[("input_reference", ("a.png", png(), "image/png"))])
        assert one.status_code == 200 and one.json()["image_to_video"] is True, one.text
        both = client.post("/v1/videos", json={**VIDEO, "aspect": "1:1"})
        assert both.status_code == 400 and openai_error(both)["param"] == "aspect"
        # The document admits an image in JSON's input_reference, not null (bench_fuzz found null accepted).
        null = client.post("/v1/videos", json={**VIDEO, "input_reference": None})
        assert null.status_code == 400 and openai_error(null)["param"] == "input_reference", null.text


# ---- files readable by their owner only ----------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_store_and_the_job_files_are_private(tmp_path: Path) -> None:
    from kadr.service.store import Database

    old = os.umask(0o022)  # a usual umask: without kadr's own care, files would be 0644
    try:
        db = Database(f"sqlite:///{tmp_path / 'fresh' / 'inner' / 'kadr.db'}")
        db.create_schema()
        assert db.ping()
        files = [tmp_path / "fresh" / "inner" / name for name in ("kadr.db", "kadr.db-wal", "kadr.db-shm")]
        assert [mode(f) for f in files] == [0o600] * 3
        assert mode(tmp_path / "fresh") == mode(tmp_path / "fresh" / "inner") == 0o700
        db.close()
        # A store made loose before this rule is tightened when opened.
        (tmp_path / "fresh" / "inner" / "kadr.db").chmod(0o644)
        Database(f"sqlite:///{tmp_path / 'fresh' / 'inner' / 'kadr.db'}").close()
        assert mode(files[0]) == 0o600
    finally:
        os.umask(old)


def test_a_servers_data_files_are_private(idle_sqlite) -> None:
    server, key = idle_sqlite
    for name in ("kadr.db", "kadr.db-wal", "kadr.db-shm"):
        assert mode(server.data / name) == 0o600, name
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {key}"}, timeout=60) as client:
        video = client.post("/v1/videos", data=VIDEO, files=[("input_reference", ("a.png", png(), "image/png"))]).json()
    folder = next(server.data.rglob(video["id"]))
    assert mode(folder) == 0o700 and mode(folder.parent) == 0o700
    assert [mode(f) for f in folder.iterdir()] and all(mode(f) == 0o600 for f in folder.iterdir())


# ---- the OpenAPI document ---------------------------------------------------------------------------------


def test_the_openapi_document_tells_the_truth(idle_sqlite) -> None:
    server, key = idle_sqlite
    doc = httpx.get(server.url + "/openapi.json", timeout=30).json()
    paths, schemas = doc["paths"], doc["components"]["schemas"]
    create = paths["/v1/videos"]["post"]
    assert set(create["requestBody"]["content"]) == {"application/json", "multipart/form-data"}
    as_json, as_form = schemas["CreateVideoJSON"], schemas["CreateVideoForm"]
    assert {"prompt", "seconds", "size", "model", "input_reference", "camera", "seed"} <= set(as_form["properties"])
    assert as_json["properties"]["prompt"]["minLength"] == 1 and as_json["properties"]["prompt"]["maxLength"] == 2000
    assert as_json["properties"]["camera"]["anyOf"][0]["enum"][0] == "static"
    assert "kadr-tiny" in as_json["properties"]["model"]["anyOf"][0]["enum"]
    assert schemas["PromptCheck"]["required"] == ["prompt"]
    assert "pan_left" in schemas["PromptCheck"]["properties"]["camera"]["anyOf"][0]["enum"]
    after = next(p for p in paths["/v1/videos"]["get"]["parameters"] if p["name"] == "after")
    assert after["schema"]["pattern"].startswith("^video_")
    for path, item in paths.items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            assert "422" not in statuses, (method, path)  # validation errors answer 400
            if path.startswith("/v1/"):
                assert {"401", "429"} <= statuses and operation["security"] == [{"HTTPBearer": []}], (method, path)
                for status in statuses - {"200"}:
                    ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), (method, path, status)
            if method == "post" and not path.endswith("/cancel"):  # cancel takes no body
                assert "requestBody" in operation and "400" in statuses, (method, path)
    content = paths["/v1/videos/{video_id}/content"]["get"]["responses"]
    assert set(content["200"]["content"]) == {"video/mp4", "image/png", "image/jpeg"} and "409" in content
    for stream in ("/v1/events", "/v1/videos/{video_id}/events"):
        assert set(paths[stream]["get"]["responses"]["200"]["content"]) == {"text/event-stream"}
    assert set(paths["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}
    # 405 says which methods the path takes.
    with httpx.Client(base_url=server.url, headers={"authorization": f"Bearer {key}"}, timeout=30) as client:
        for method, path, allow in [("OPTIONS", f"/v1/videos/{NO_SUCH_ID}/cancel", "POST"),
                                    ("GET", f"/v1/videos/{NO_SUCH_ID}/cancel", "POST"),
                                    ("PUT", "/v1/videos", "GET, POST"),
                                    ("PATCH", f"/v1/videos/{NO_SUCH_ID}", "DELETE, GET")]:
            answer = client.request(method, path)
            assert answer.status_code == 405 and answer.headers["allow"] == allow, (method, path, answer.headers)
            assert openai_error(answer)["code"] == "method_not_allowed"


@pytest.mark.slow
def test_schemathesis_finds_nothing(idle_sqlite) -> None:
    """Every check, every phase, positive and negative data: a few hundred cases against the live server
    (bench/bench_fuzz.py runs the same for 10,000 and more)."""
    server, key = idle_sqlite
    report = schema_fuzz.run(server.url, key, max_examples=2, seed=12, request_timeout_s=20)
    print(json.dumps(report.as_dict()))
    assert report.cases >= 200, report.as_dict()
    assert report.errors == [], report.errors
    assert report.server_errors == 0 and not report.failures_by_check, "\n\n".join(report.failure_samples)
    no_tracebacks(server)


@pytest.mark.slow
def test_the_page_shows_the_servers_message(studio_server, studio_browser) -> None:
    """The page posts to the API and shows what the server refused, in the server's words."""
    context = studio_browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(studio_server.base + "/")
        page.fill("#key-input", studio_server.key)
        page.click("#signin-button")
        page.wait_for_selector("#signin[hidden]", state="attached")
        page.fill("#prompt", "waves\x1b[31m at dusk")
        page.click("#submit")
        page.wait_for_function("document.querySelector('#form-error').textContent.includes('U+001B')")
        message = page.locator("#form-error").inner_text()
        assert message.startswith("prompt: ") and "control character" in message, message
        assert page.locator("#prompt").get_attribute("aria-invalid") == "true"
    finally:
        context.close()
