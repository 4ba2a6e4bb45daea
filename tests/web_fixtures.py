"""Fixtures for the page tests: a real `kadr serve` on loopback and Debian's chromium under Playwright.

No browser is ever downloaded: Playwright drives /usr/bin/chromium (Debian's package, which .ci/run
installs). A missing browser or Playwright fails the tests with a message saying what to install.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PIL import Image

import kadr

WEB_DIR = Path(kadr.__file__).resolve().parent / "web"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("KADR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).is_file():
        pytest.fail("the page tests need Debian's chromium: apt-get install -y chromium (.ci/run does this)", pytrace=False)
    return path


@pytest.fixture(scope="module")
def studio_browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the page tests need Playwright: pip install -e '.[test]' (never `playwright install`)", pytrace=False)
    executable = chromium_path()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _kadr(*args: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kadr", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False, **kwargs)


def add_user(data_dir: Path, env: dict[str, str], name: str, plan: str | None = None) -> str:
    """`kadr users add NAME [--plan PLAN]`: the API key is the last line it prints."""
    args = ["users", "add", name, "--data", str(data_dir)] + (["--plan", plan] if plan else [])
    done = _kadr(*args, env=env)
    assert done.returncode == 0, f"kadr users add failed: {done.stderr}"
    return done.stdout.strip().splitlines()[-1].strip()


# The built-in plans, and one metered by a monthly credit budget alone (no per-tier video limit), so the
# page's "left this month" is tested for every kind of limit. `kadr serve` reads DATA/plans.toml.
CREDITS_PLAN = """
[plans.credits]
description = "A monthly credit budget shared by the tiers"
monthly_credits = 100
concurrency = 1
max_active = 5
requests_per_second = 20.0
burst = 100
[plans.credits.tiers.fast]
cost = 20
[plans.credits.tiers.high]
cost = 100

[plans.spent]
description = "Nothing left this month"
concurrency = 1
max_active = 5
requests_per_second = 20.0
burst = 100
[plans.spent.tiers.fast]
videos = 0
cost = 20
[plans.spent.tiers.high]
videos = 0
cost = 100
"""


@dataclass(frozen=True)
class Studio:
    """A running `kadr serve`: its base URL, the API key of its first user, and how to add more users."""

    base: str
    key: str
    data_dir: Path
    env: dict[str, str]

    def add_user(self, name: str, plan: str | None = None) -> str:
        return add_user(self.data_dir, self.env, name, plan)


@pytest.fixture(scope="module")
def studio_server(tmp_path_factory):
    """A real `kadr serve` on loopback (a `Studio`), with a fresh data directory and one user.

    The server picks a free port (``--port 0``) and prints it; one worker generates with the built-in
    model. The whole process group is ended afterwards (the server and its worker processes).
    """
    from kadr.service.plans import DEFAULT_PLANS_TOML

    root = tmp_path_factory.mktemp("studio")
    data_dir = root / "data"
    data_dir.mkdir()
    (data_dir / "plans.toml").write_text(DEFAULT_PLANS_TOML + CREDITS_PLAN, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KADR_")}
    env.update(KADR_HOME=str(root / "home"), PYTHONUNBUFFERED="1")
    key = add_user(data_dir, env, "studio")
    log_path = root / "serve.log"
    log = open(log_path, "w+", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kadr", "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "1",
         "--data", str(data_dir), "--log-level", "warning"],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        base = _wait_for_listen(proc, log_path)
        _wait_healthy(proc, base, log_path)
        yield Studio(base, key, data_dir, env)
    finally:
        _stop(proc)
        log.close()


def _wait_for_listen(proc: subprocess.Popen, log_path: Path, timeout: float = 90) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log_path.read_text(encoding="utf-8", errors="replace")
        match = re.search(r"listening on (http://[\w.:\[\]-]+)", text)
        if match:
            return match.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"kadr serve exited with {proc.returncode}:\n{text}")
        time.sleep(0.1)
    raise AssertionError(f"kadr serve did not start in {timeout:.0f} s:\n{log_path.read_text(errors='replace')}")


def _wait_healthy(proc: subprocess.Popen, base: str, log_path: Path, timeout: float = 90) -> None:
    """The port is bound before the app starts: wait until /healthz answers 200."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"kadr serve exited with {proc.returncode}:\n{log_path.read_text(errors='replace')}")
            try:
                if client.get(base + "/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    raise AssertionError(f"kadr serve was not healthy in {timeout:.0f} s:\n{log_path.read_text(errors='replace')}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the group this fixture started: the server and its workers
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    try:  # workers that outlived the server
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def save_screenshot(page, name: str, full_page: bool = False) -> Path:
    """Screenshot to docs/screenshots/NAME.png, as a 256-colour PNG so the set stays small."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let CSS transitions (score ring, progress bar) settle
    png = page.screenshot(full_page=full_page)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    path = SCREENSHOTS / f"{name}.png"
    small.save(path, "PNG", optimize=True)
    return path
