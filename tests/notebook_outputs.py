"""Reading executed notebooks in tests."""

from __future__ import annotations

from typing import Any


def outputs_text(nb: Any) -> str:
    """Stream text and the plain-text form of displays of every code cell, concatenated."""
    return "".join(
        o.get("text", "") + o.get("data", {}).get("text/plain", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    )
