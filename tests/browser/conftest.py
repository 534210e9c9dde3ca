"""Browser tests: Python Playwright driving Debian Chromium against a real ``coinbt dashboard``
on a free port, over a registry seeded with real-data runs.

Chromium is ``/usr/bin/chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it);
``playwright install`` cannot download a browser here.  Without Chromium or Playwright the
tests skip with a reason, and fail under ``COINBT_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from dashboard_browser import TOKEN, Dashboard, free_port
from dashboard_seed import seed

CHROMIUM = os.environ.get("COINBT_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="session")
def browser(skip_or_fail: Callable[[str], None]) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[dev]')")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        skip_or_fail(f"chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[Dashboard]:
    """``coinbt dashboard`` on a free port over a freshly seeded registry."""
    seeded = seed(tmp_path_factory.mktemp("browser"))
    root = seeded["root"]
    port = free_port()
    env = dict(os.environ)
    # relative places, as a newcomer's embedded defaults are: the kernels start elsewhere
    env.update(COINBT_REGISTRY_URL="sqlite:///registry.db", COINBT_ARTIFACTS_URI="artifacts")
    env.pop("COINBT_DASHBOARD_REGISTRY_URL", None)
    log = (root / "dashboard.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "coinbt.cli.main", "dashboard", "--port", str(port),
         "--token", TOKEN],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=root,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/?token={TOKEN}", timeout=5):
                    break
            except (urllib.error.URLError, ConnectionError, OSError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        f"coinbt dashboard did not start:\n{(root / 'dashboard.log').read_text()}"
                    )
                time.sleep(0.5)
        yield Dashboard(base, seeded)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(90_000)
    yield pg
    context.close()
