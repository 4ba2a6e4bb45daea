"""The rest of the HTTP API against the live `kadr serve` on loopback: privacy between users, bearer auth
on every /v1 route, `kadr users`, webhooks, event streams, health, metrics, usage, the prompt check,
and the limits on what a request may carry.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import httpx
import openai
import pytest
from conftest import KadrServer, run_cli, wait_until
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from kadr.service.cli import listen_socket
from kadr.service.plans import iso, period_bounds, period_of
from kadr.service.store import Database, JobStore
from kadr.service.webhooks import retry_delay

TINY = {"prompt": "a red ball rolls on the grass", "seconds": "1", "quality": "fast", "size": "32x32", "fps": 8}
# Long enough (high tier, 4 s) to be canceled or deleted before it can finish.
LONG = {"prompt": "sea waves at sunset", "seconds": "4", "quality": "high", "size": "128x72", "fps": 8}


def api(server: KadrServer, key: str | None) -> httpx.Client:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=60)


def finished(client: httpx.Client, video_id: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        video = client.get(f"/v1/videos/{video_id}").json()
        return video if video["status"] in ("completed", "failed") else None

    return wait_until(probe, 120, f"video {video_id} to finish")


def openai_error(response: httpx.Response) -> dict[str, Any]:
    """The body's error object, checked to be in OpenAI's shape."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


# ---- privacy -----------------------------------------------------------------------------------


def test_a_user_never_sees_lists_or_downloads_another_users_video(live_server, user_factory) -> None:
    ann_key, _ = user_factory()
    bob_key, _ = user_factory()
    with api(live_server, ann_key) as ann, api(live_server, bob_key) as bob:
        video = ann.post("/v1/videos", json=TINY).json()
        done = finished(ann, video["id"])
        assert done["status"] == "completed"
        assert ann.get(f"/v1/videos/{video['id']}/content").status_code == 200
        bob_own = bob.post("/v1/videos", json=TINY).json()

        for method, path in [("GET", f"/v1/videos/{video['id']}"), ("DELETE", f"/v1/videos/{video['id']}"),
                             ("POST", f"/v1/videos/{video['id']}/cancel"),
                             ("GET", f"/v1/videos/{video['id']}/events"),
                             *[("GET", f"/v1/videos/{video['id']}/content?variant={v}")
                               for v in ("video", "thumbnail", "spritesheet")]]:
            response = bob.request(method, path)
            assert response.status_code == 404, (method, path, response.text)
            error = openai_error(response)
            assert error["code"] == "not_found" and video["id"] in error["message"]
        assert [v["id"] for v in bob.get("/v1/videos", params={"limit": 100}).json()["data"]] == [bob_own["id"]]
        # Ann's id is no cursor for Bob: the same answer as an id that does not exist.
        foreign = bob.get("/v1/videos", params={"after": video["id"]})
        missing = bob.get("/v1/videos", params={"after": "video_000000000000000000000000"})
        assert foreign.status_code == missing.status_code == 404
        assert openai_error(foreign)["param"] == "after" and openai_error(foreign) == openai_error(missing) | {
            "message": openai_error(foreign)["message"]}
        # Nothing Bob tried changed Ann's video.
        assert ann.get(f"/v1/videos/{video['id']}").json()["status"] == "completed"
        assert ann.get(f"/v1/videos/{video['id']}/content").status_code == 200
        finished(bob, bob_own["id"])


# ---- auth --------------------------------------------------------------------------------------


def test_every_v1_route_needs_a_bearer_key(live_server, user_factory) -> None:
    spec = httpx.get(live_server.url + "/openapi.json", timeout=30).json()
    routes = [(method.upper(), path.replace("{video_id}", "video_000000000000000000000000"))
              for path, item in spec["paths"].items() if path.startswith("/v1/") for method in item]
    assert {("POST", "/v1/videos"), ("GET", "/v1/videos"), ("GET", "/v1/usage"), ("POST", "/v1/prompt/check"),
            ("GET", "/v1/models"), ("GET", "/v1/events")} <= set(routes)
    key, _ = user_factory()
    wrong = {
        "missing_api_key": {},
        "invalid_api_key": {"authorization": "Bearer kadr-this-is-not-a-key"},
    }
    with httpx.Client(base_url=live_server.url, timeout=30) as anonymous:
        for method, path in routes:
            for code, headers in [*wrong.items(), ("missing_api_key", {"authorization": f"Basic {key}"}),
                                  ("missing_api_key", {"authorization": "Bearer"}),
                                  ("invalid_api_key", {"authorization": f"Bearer {key}x"})]:
                response = anonymous.request(method, path, headers=headers, json={"prompt": "x"})
                assert response.status_code == 401, (method, path, headers, response.text)
                assert openai_error(response)["code"] == code
                assert key not in response.text
    # The same key, well formed, gets through (to a 404 for the made-up id, or the answer).
    assert httpx.get(live_server.url + "/v1/videos/video_000000000000000000000000", timeout=30,
                     headers={"authorization": f"Bearer {key}"}).status_code == 404
    # The openai client says the same.
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=live_server.url + "/v1", api_key="kadr-wrong", max_retries=0).models.list()
    # Health and metrics are for load balancers and scrapers: no key.
    assert httpx.get(live_server.url + "/healthz", timeout=30).status_code == 200
    assert httpx.get(live_server.url + "/metrics", timeout=30).status_code == 200


def test_users_add_prints_the_key_last_and_stores_only_its_hash(live_server) -> None:
    name = "cli-" + hashlib.sha256(str(time.time()).encode()).hexdigest()[:8]
    key, lines = live_server.add_user(name, plan="quota4")
    assert key.startswith("kadr-") and len(key) > 40
    assert all(key not in line for line in lines[:-1]) and any(name in line for line in lines[:-1])
    with api(live_server, key) as client:
        assert client.get("/v1/me").json() == {"object": "user", "user": name, "plan": "quota4", "webhook_url": None}
    # Hashed: the key is nowhere in the store's files, its SHA-256 is.
    store = b"".join(p.read_bytes() for p in live_server.data.glob("kadr.db*"))
    assert key.encode() not in store and hashlib.sha256(key.encode()).hexdigest().encode() in store

    listing = run_cli("users", "list", "--json", *live_server.store_args())
    assert listing.returncode == 0, listing.stderr
    (mine,) = [u for u in json.loads(listing.stdout) if u["name"] == name]
    assert mine["plan"] == "quota4" and key.startswith(mine["key_prefix"]) and key not in listing.stdout

    removed = run_cli("users", "remove", name, *live_server.store_args())
    assert removed.returncode == 0, removed.stderr
    # The server remembers a key for key_cache_s (2 s); then the removed key stops working.
    with api(live_server, key) as client:
        wait_until(lambda: client.get("/v1/me").status_code == 401, 30, "the removed key to stop working")


# ---- webhooks ----------------------------------------------------------------------------------


class Receiver:
    """A loopback HTTP server taking webhooks: answers 500 to the first ``fail_first`` posts to /flaky."""

    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.received: list[tuple[float, str, dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                with receiver.lock:
                    receiver.received.append((time.monotonic(), self.path, dict(self.headers), body))
                    flaky = sum(1 for r in receiver.received if r[1] == "/flaky")
                self.send_response(500 if self.path == "/flaky" and flaky <= receiver.fail_first else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def posts(self, path: str) -> list[tuple[float, str, dict[str, str], bytes]]:
        with self.lock:
            return [r for r in self.received if r[1] == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2)
    yield r
    r.close()


def test_webhooks_are_signed_and_retried_with_backoff(live_server, user_factory, receiver: Receiver) -> None:
    key, made = user_factory(webhook=receiver.url + "/flaky")
    secret = made.webhook_secret
    verifier = openai.OpenAI(api_key="unused", base_url=live_server.url + "/v1")
    with api(live_server, key) as client:
        video = client.post("/v1/videos", json=TINY).json()
        assert finished(client, video["id"])["status"] == "completed"
        posts = wait_until(lambda: receiver.posts("/flaky") if len(receiver.posts("/flaky")) >= 3 else None, 60,
                           "three webhook attempts (two answered 500)")
    assert len(posts) == 3
    ids = {headers["webhook-id"] for _, _, headers, _ in posts}
    assert len(ids) == 1 and next(iter(ids)).startswith("evt_")  # the same event on every retry
    for _, _, headers, body in posts:
        verifier.webhooks.verify_signature(body, headers, secret=secret)  # Standard Webhooks HMAC-SHA256
        event = json.loads(body)
        assert event["type"] == "video.completed" and event["data"]["id"] == video["id"]
        assert event["data"]["video"]["status"] == "completed"
    _, _, headers, body = posts[0]
    with pytest.raises(openai.InvalidWebhookSignatureError):
        verifier.webhooks.verify_signature(body.replace(b"completed", b"failed"), headers, secret=secret)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        verifier.webhooks.verify_signature(body, headers, secret="whsec_" + "A" * 44)
    # Backoff: each retry waits at least twice as long as the one before (base 0.2 s on the test server).
    gaps = [b[0] - a[0] for a, b in zip(posts, posts[1:])]
    assert gaps[0] >= retry_delay(1, 0.2) and gaps[1] >= retry_delay(2, 0.2) == 2 * retry_delay(1, 0.2)
    db = Database(f"sqlite:///{live_server.data / 'kadr.db'}")
    try:
        wait_until(lambda: JobStore(db).deliveries(video["id"]) == [("video.completed", "delivered", 3)], 30,
                   "the delivery to be recorded as delivered")
    finally:
        db.close()


def test_a_canceled_video_sends_video_failed(live_server, user_factory, receiver: Receiver) -> None:
    key, made = user_factory(webhook=receiver.url + "/ok")
    with api(live_server, key) as client:
        video = client.post("/v1/videos", json=LONG).json()
        canceled = client.post(f"/v1/videos/{video['id']}/cancel").json()
        assert canceled["status"] == "failed" and canceled["error"]["code"] == "canceled"
    (post,) = wait_until(lambda: receiver.posts("/ok"), 60, "the video.failed webhook")
    openai.OpenAI(api_key="unused").webhooks.verify_signature(post[3], post[2], secret=made.webhook_secret)
    event = json.loads(post[3])
    assert event["type"] == "video.failed" and event["data"]["id"] == video["id"]
    assert event["data"]["video"]["error"]["code"] == "canceled"


# ---- event stream, health, metrics -------------------------------------------------------------


def read_events(response: httpx.Response, until_final_of: str | None = None) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.startswith("data: "):
            event = json.loads(line[len("data: "):])
            yield event
            if until_final_of is not None and event["id"] == until_final_of and event.get("status") in ("completed", "failed"):
                return


def test_progress_streams_as_server_sent_events(live_server, user_factory) -> None:
    key, _ = user_factory()
    everything: list[dict[str, Any]] = []
    opened = threading.Event()
    target: dict[str, str] = {}

    def follow_all() -> None:
        with api(live_server, key) as client, client.stream("GET", "/v1/events", timeout=120) as response:
            assert response.status_code == 200
            opened.set()
            for event in response.iter_lines():
                if event.startswith("data: "):
                    everything.append(json.loads(event[len("data: "):]))
                    last = everything[-1]
                    if last["id"] == target.get("id") and last["status"] in ("completed", "failed"):
                        return

    listener = threading.Thread(target=follow_all, daemon=True)
    listener.start()
    assert opened.wait(30)
    with api(live_server, key) as client:
        video = client.post("/v1/videos", json={**TINY, "seconds": "2", "size": "64x64"}).json()
        target["id"] = video["id"]
        with client.stream("GET", f"/v1/videos/{video['id']}/events", timeout=120) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = list(read_events(response, until_final_of=video["id"]))
    listener.join(60)
    assert not listener.is_alive()
    assert events[0]["id"] == video["id"] and events[0]["status"] in ("queued", "in_progress", "completed")
    assert events[-1]["status"] == "completed" and events[-1]["progress"] == 100
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress)  # never goes back
    mine = [e for e in everything if e["id"] == video["id"]]
    assert mine[0]["status"] == "queued" and mine[-1]["status"] == "completed"  # from submission to the end
    assert any(e["status"] == "in_progress" for e in mine)


def test_healthz_and_metrics(live_server, user_factory) -> None:
    health = httpx.get(live_server.url + "/healthz", timeout=30)
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["store"] == "sqlite" and body["workers"]["total"] == 2
    assert body["workers"]["ready"] == 2 and set(body["jobs"]) == {"queued", "running"}

    key, _ = user_factory(plan="one_at_a_time")
    with api(live_server, key) as client:
        first = client.post("/v1/videos", json=LONG).json()
        refused = client.post("/v1/videos", json=TINY)  # one active video at a time on this plan
        assert refused.status_code == 429 and openai_error(refused)["code"] == "max_active"
        client.post(f"/v1/videos/{first['id']}/cancel")
        video = client.post("/v1/videos", json=TINY).json()
        finished(client, video["id"])
    scrape = httpx.get(live_server.url + "/metrics", timeout=30)
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(scrape.text)}
    polls = [s for s in families["kadr_http_requests"].samples
             if s.name == "kadr_http_requests_total" and s.labels["route"] == "/v1/videos/{video_id}"
             and s.labels["method"] == "GET" and s.labels["status"] == "200"]
    assert polls and polls[0].value >= 1  # by route template, not by id
    assert not any(video["id"] in s.labels.get("route", "") for f in families.values() for s in f.samples)
    latency = families["kadr_http_request_duration_seconds"]
    assert latency.type == "histogram" and any(s.name.endswith("_bucket") for s in latency.samples)
    jobs = {s.labels["status"]: s.value for s in families["kadr_jobs"].samples}
    assert set(jobs) == {"queued", "running", "succeeded", "failed", "canceled"} and jobs["succeeded"] >= 1
    workers = {s.labels["state"]: s.value for s in families["kadr_workers"].samples}
    assert workers["total"] == 2
    refusals = {s.labels["limit"]: s.value for s in families["kadr_jobs_refused"].samples
                if s.name == "kadr_jobs_refused_total"}
    assert refusals["max_active"] >= 1
    assert any(s.value >= 1 for s in families["kadr_jobs_finished"].samples
               if s.name == "kadr_jobs_finished_total" and s.labels["status"] == "succeeded")


def test_the_listening_socket_gives_connections_tcp_nodelay() -> None:
    """Without TCP_NODELAY, a response written as headers then body waits for the client's delayed ACK."""

    async def accepted_nodelay() -> int:
        sock = listen_socket("127.0.0.1", 0)
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def on_connect(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            conn = writer.get_extra_info("socket")
            seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(on_connect, sock=sock)
        _, writer = await asyncio.open_connection(*sock.getsockname())
        value = await asyncio.wait_for(seen, 10)
        writer.close()
        server.close()
        return value

    assert asyncio.run(accepted_nodelay()) != 0


# ---- usage and the prompt check ----------------------------------------------------------------


def test_usage_counts_this_month_and_refunds(live_server, user_factory) -> None:
    key, _ = user_factory(plan="quota4")
    with api(live_server, key) as client:
        fresh = client.get("/v1/usage").json()
        now = time.time()
        assert fresh["plan"] == "quota4" and fresh["period"] == period_of(now)
        assert fresh["resets_at"] == iso(period_bounds(now)[1]) and fresh["period_start"] == iso(period_bounds(now)[0])
        assert fresh["tiers"]["fast"] == {"used": 0, "limit": 4, "left": 4, "cost": 10, "credits_used": 0}
        assert fresh["tiers"]["high"]["limit"] == 0 and fresh["tiers"]["high"]["left"] == 0
        dropped = client.post("/v1/videos", json=LONG | {"quality": "fast"}).json()
        kept = client.post("/v1/videos", json=TINY).json()  # waits: one video of a user generates at a time
        assert client.get("/v1/usage").json()["tiers"]["fast"]["used"] == 2
        assert client.post(f"/v1/videos/{dropped['id']}/cancel").json()["error"]["code"] == "canceled"  # refunded
        finished(client, kept["id"])
        after = client.get("/v1/usage").json()
        assert after["tiers"]["fast"] == {"used": 1, "limit": 4, "left": 3, "cost": 10, "credits_used": 10}
        assert after["active"] == {"count": 0, "limit": 10}
        high = client.post("/v1/videos", json=TINY | {"quality": "high"})
        assert high.status_code == 429 and "includes no high videos" in openai_error(high)["message"]

    key, _ = user_factory(plan="credits")  # 30 credits a month, a fast video costs 20
    with api(live_server, key) as client:
        video = client.post("/v1/videos", json=TINY).json()
        usage = client.get("/v1/usage").json()
        assert (usage["credits_used"], usage["credits_limit"], usage["credits_left"]) == (20, 30, 10)
        assert usage["tiers"]["fast"]["left"] == 0  # 10 credits buy no more fast videos
        over = client.post("/v1/videos", json=TINY)
        error = openai_error(over)
        assert over.status_code == 429 and error["code"] == "monthly_credits" and error["type"] == "insufficient_quota"
        assert "20 of 30 credits used" in error["message"] and iso(period_bounds(time.time())[1]) in error["message"]
        finished(client, video["id"])


def test_prompt_check_gives_the_advice(live_server, user_factory) -> None:
    key, _ = user_factory()
    with api(live_server, key) as client:
        plan = client.post("/v1/prompt/check", json={"prompt": "Закат над морем, волны, панорама слева направо"})
        assert plan.status_code == 200
        body = plan.json()
        assert (body["language"], body["camera"], body["time_of_day"]) == ("ru", "pan_right", "sunset")
        assert body["suggestions"] and 0 <= body["score"] <= 100
        english = client.post("/v1/prompt/check", json={"prompt": "a city at night", "camera": "zoom_in"}).json()
        assert english["language"] == "en" and english["camera"] == "zoom_in"
        too_long = client.post("/v1/prompt/check", json={"prompt": "волны " * 400})
        assert too_long.status_code == 400 and openai_error(too_long)["param"] == "prompt"
        assert "at most 2000 characters" in openai_error(too_long)["message"]
        unknown = client.post("/v1/prompt/check", json={"prompt": "waves", "camra": "pan"})
        assert unknown.status_code == 400 and openai_error(unknown)["code"] == "unknown_parameter"
        missing = client.post("/v1/prompt/check", json={})
        assert missing.status_code == 400 and openai_error(missing)["param"] == "prompt"


# ---- limits on what a request carries ----------------------------------------------------------


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_limits_give_clear_errors_in_openai_shape(live_server, user_factory) -> None:
    key, _ = user_factory()
    client = openai.OpenAI(base_url=live_server.url + "/v1", api_key=key, max_retries=0, timeout=60)
    with pytest.raises(openai.BadRequestError) as long_prompt:
        client.videos.create(prompt="x" * 2001, seconds="1")
    assert long_prompt.value.body["param"] == "prompt" and "2001 characters" in long_prompt.value.body["message"]
    assert "at most 2000 characters" in long_prompt.value.body["message"]
    with pytest.raises(openai.BadRequestError) as size:
        client.videos.create(prompt="waves", size="huge")
    assert size.value.body["param"] == "size" and "WIDTHxHEIGHT" in size.value.body["message"]

    # Image: bytes (10 MB), pixels (16 MP, read from the header before decoding), format.
    big = png(16, 16) + b"\0" * (10 * 2**20)
    with pytest.raises(openai.BadRequestError) as heavy:
        client.videos.create(prompt="waves", input_reference=("big.png", big, "image/png"))
    assert heavy.value.body["param"] == "input_reference" and "at most 10 MB" in heavy.value.body["message"]
    with pytest.raises(openai.BadRequestError) as huge:
        client.videos.create(prompt="waves", input_reference=("huge.png", png(5000, 4000), "image/png"))
    assert huge.value.body["param"] == "input_reference" and "5000x4000" in huge.value.body["message"]
    assert "at most 16 megapixels" in huge.value.body["message"]
    gif = io.BytesIO()
    Image.new("RGB", (64, 64)).save(gif, format="GIF")
    with pytest.raises(openai.BadRequestError) as wrong_format:
        client.videos.create(prompt="waves", input_reference=("anim.gif", gif.getvalue(), "image/gif"))
    assert wrong_format.value.body["param"] == "input_reference"
    assert "GIF" in wrong_format.value.body["message"] and "PNG, JPEG or WebP" in wrong_format.value.body["message"]

    # Request body: over 12 MB is refused as it arrives, with or without a content-length.
    with api(live_server, key) as raw:
        too_big = raw.post("/v1/videos", content=b"{" + b" " * (12 * 2**20) + b"}",
                           headers={"content-type": "application/json"})
        assert too_big.status_code == 413 and openai_error(too_big)["code"] == "request_too_large"

        def chunks() -> Iterator[bytes]:
            for _ in range(13):
                yield b" " * 2**20

        streamed = raw.post("/v1/videos", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413 and openai_error(streamed)["code"] == "request_too_large"
        assert raw.get("/v1/me").status_code == 200  # the server is fine afterwards

    # Per-key rate: 0.5 requests a second in bursts of 3 on this plan.
    slow_key, _ = user_factory(plan="slow_key")
    with api(live_server, slow_key) as slow:
        answers = [slow.get("/v1/me") for _ in range(10)]
    assert [a.status_code for a in answers[:3]] == [200, 200, 200]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, [a.status_code for a in answers]
    error = openai_error(limited[0])
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limit_exceeded")
    assert "0.5 requests per second per key" in error["message"] and "plan 'slow_key'" in error["message"]
    assert int(limited[0].headers["retry-after"]) >= 1
    with api(live_server, key) as other:  # the limit is per key: other keys are not slowed
        assert other.get("/v1/me").status_code == 200
