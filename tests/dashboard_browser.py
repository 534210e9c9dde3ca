"""Helpers of the browser tests (tests/browser/): the dashboard under test and screenshots."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "reports" / "screenshots"
TOKEN = "browser-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Dashboard:
    def __init__(self, base: str, seeded: dict[str, Any]) -> None:
        self.base = base
        self.seeded = seeded

    def url(self, view: str, query: str = "", token: bool = True) -> str:
        parts = [f"token={TOKEN}"] if token else []
        parts += [query] if query else []
        return f"{self.base}/voila/render/{view}.ipynb" + ("?" + "&".join(parts) if parts else "")


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
