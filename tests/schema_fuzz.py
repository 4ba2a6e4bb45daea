"""schemathesis against a live `kadr serve`: the one set-up of the in-suite run (tests/test_service_schema.py)
and of the long one (bench/bench_fuzz.py).

Every check runs, on every operation the OpenAPI document lists, with positive and negative data. One
thing a JSON schema cannot say is filled in as a client would: an ``input_reference`` of a schema-valid
(positive) case becomes a real PNG, since random bytes are no picture and the server rightly refuses them
(so do ``last_image`` and a character's ``image``; an uploaded ``video`` becomes a real MP4, a form's
``shots`` real JSON). Two sums a schema cannot state are kept as the API documents them: shots of at most
30 s in all, and an extension of at most 30 s with its source. Negative cases keep whatever the fuzzer made.
"""

from __future__ import annotations

import base64
import io
import json
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import schemathesis
from PIL import Image
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events

if TYPE_CHECKING:
    from conftest import KadrServer


def tiny_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (40, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def tiny_mp4() -> bytes:
    """A real H.264 MP4 of 4 frames, 32x32 at 8 fps (half a second)."""
    import av
    import numpy as np

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for i in range(4):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 60 * i, np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return buffer.getvalue()


PNG = tiny_png()
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
MP4 = tiny_mp4()
FROM_VIDEO = ("/v1/videos/edits", "/v1/videos/extensions", "/v1/videos/characters")


@dataclass
class FuzzReport:
    cases: int = 0
    server_errors: int = 0  # answers with a 5xx status
    statuses: Counter = field(default_factory=Counter)
    failures_by_check: Counter = field(default_factory=Counter)
    failure_samples: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the fuzzer's own (network errors, timeouts, crashes)
    wall_s: float = 0.0
    stop_reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"cases": self.cases, "server_errors": self.server_errors,
                "failures_by_check": dict(self.failures_by_check), "fuzzer_errors": len(self.errors),
                "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                "wall_s": round(self.wall_s, 1), "stop_reason": self.stop_reason}


def _real_image(_: Any, case: Any) -> Any:
    """A positive case's picture as a real one: input_reference in the shape the fuzzer chose, verify's file."""
    meta = getattr(case, "meta", None)
    body = case.body
    if (meta is not None and meta.generation.mode.is_positive and case.operation.path == "/v1/verify"
            and isinstance(body, dict) and "file" in body):
        body["file"] = PNG  # a picture with no provenance: verify answers that, with 200
        return case
    if meta is None or not meta.generation.mode.is_positive or not isinstance(body, dict):
        return case
    as_json = case.media_type == "application/json"
    if case.operation.path in FROM_VIDEO:
        if isinstance(body.get("video"), (bytes, str)) and not as_json:
            body["video"] = MP4
        if "image" in body:
            body["image"] = PNG_URL if as_json else PNG
        if case.operation.path.endswith("/extensions") and body.get("seconds") is not None:
            body["seconds"] = "4"  # the half-second upload and 4 s: within the 30 s a video may have
        return case
    if case.operation.path != "/v1/videos":
        return case
    if "input_reference" in body:
        value = body["input_reference"]
        body["input_reference"] = (PNG_URL if isinstance(value, str) and as_json
                                   else {"image_url": PNG_URL} if isinstance(value, dict) else PNG)
    if "last_image" in body:
        body["last_image"] = PNG_URL if as_json else PNG
    if "shots" in body:  # shots take no pictures: the document says so, but coverage cannot judge `false` on a file
        body.pop("input_reference", None)
        body.pop("last_image", None)
    if isinstance(body.get("shots"), str):  # a form's shots: one field of JSON
        body["shots"] = json.dumps([{"prompt": "a beach at dawn", "duration": 2}, {"prompt": "a forest", "duration": 3}])
    elif isinstance(body.get("shots"), list) and body["shots"]:
        share = int(3000 / len(body["shots"])) / 100  # 30 s in all (a shot left without one is 5 s)
        for shot in body["shots"]:
            if isinstance(shot, dict):
                duration = shot.get("duration", 5)
                shot["duration"] = min(duration, share) if isinstance(duration, (int, float)) else duration
    return case


def _describe(recorder: Any, case_id: str, check: Any) -> str:
    failure = check.failure_info.failure
    node = recorder.cases.get(case_id)
    meta = getattr(node.value, "meta", None) if node is not None else None
    where = f"{meta.phase.name} {meta.generation.mode}" if meta is not None else "?"
    interaction = recorder.interactions.get(case_id)
    answer = ""
    if interaction is not None and interaction.response is not None:
        answer = f"{interaction.response.status_code} {interaction.response.content[:300]!r}"
    return (f"{check.name} ({where}): {failure.title}: {failure.message[:300]}\n"
            f"{check.failure_info.code_sample[:700]}\n-> {answer}")


def run(base_url: str, key: str, max_examples: int, *, max_time_s: float | None = None, seed: int | None = None,
        workers: int = 1, request_timeout_s: float = 20.0) -> FuzzReport:
    """All phases (examples, coverage, fuzzing, stateful) with every check; ``max_examples`` per operation and phase."""
    config = SchemathesisConfig.from_dict({
        "headers": {"Authorization": f"Bearer {key}"},
        "workers": workers,
        "request-timeout": request_timeout_s,
        "max-stream-events": 2,
        "checks": {"enabled": True},
        "generation": {"max-examples": max_examples, "mode": "all"},
        **({"seed": seed} if seed is not None else {}),
        **({"max-time": max_time_s} if max_time_s else {}),
    })
    schema = schemathesis.openapi.from_url(base_url + "/openapi.json", config=config)
    schema.hook("map_case")(_real_image)
    report = FuzzReport()
    started = time.perf_counter()
    for event in schemathesis.engine.from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            recorder = event.recorder
            report.cases += len(recorder.cases)
            for interaction in recorder.interactions.values():
                if interaction.response is not None:
                    report.statuses[interaction.response.status_code] += 1
                    report.server_errors += interaction.response.status_code >= 500
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is not None:
                        report.failures_by_check[check.name] += 1
                        if len(report.failure_samples) < 20:
                            report.failure_samples.append(_describe(recorder, case_id, check))
        elif isinstance(event, events.NonFatalError):
            error = event.value
            report.errors.append(f"{event.phase} {event.label}: {type(error).__name__}: {error}; "
                                 + "".join(traceback.format_tb(error.__traceback__)[-3:])[:1500])
        elif isinstance(event, events.FatalError):
            report.errors.append(f"fatal: {getattr(event, 'exception', event)!r}"[:1000])
        elif isinstance(event, events.EngineFinished):
            report.stop_reason = str(event.stop_reason)
    report.wall_s = time.perf_counter() - started
    return report


# Zero workers: what these tests create stays queued (no generation burns the CPU), and the plan has no
# request-rate limit worth the name, so a fuzzer's burst is never answered 429 in place of the real answer.
OPEN_PLANS = """\
default = "open"
[plans.open]
concurrency = 1
max_active = 100000
requests_per_second = 1000000.0
burst = 1000000
[plans.open.tiers.fast]
cost = 0
[plans.open.tiers.high]
cost = 0
"""


def start_idle(data: Path, db: str | None = None, user: str = "prober") -> tuple["KadrServer", str]:
    """A `kadr serve` to fuzz, with zero workers and the open plan; (server, an API key)."""
    from conftest import KadrServer

    plans = data.parent / f"{data.name}-plans.toml"
    plans.write_text(OPEN_PLANS, encoding="utf-8")
    # Event streams send their keep-alive every 0.5 s, so a fuzzed stream request ends promptly.
    server = KadrServer(data, db=db, workers=0, plans=plans, env={"KADR_SSE_KEEPALIVE_S": "0.5"}).start()
    key, _ = server.add_user(user)
    return server, key
