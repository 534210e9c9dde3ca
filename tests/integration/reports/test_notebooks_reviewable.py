"""Every notebook in ``notebooks/`` is reviewable: paired with a jupytext ``py:percent`` file
that matches it, and committed without outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
NOTEBOOKS = sorted((REPO / "notebooks").rglob("*.ipynb"))


def test_there_are_notebooks() -> None:
    assert REPO / "notebooks" / "templates" / "backtest.ipynb" in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(REPO)))
def test_notebook_matches_its_py_percent_pair_and_has_no_outputs(path: Path) -> None:
    import jupytext

    pair = path.with_suffix(".py")
    assert pair.is_file(), (
        f"{path.name} has no py:percent pair: jupytext --set-formats ipynb,py:percent"
    )
    nb, text = jupytext.read(path), jupytext.read(pair)

    def cells(notebook: object) -> list[tuple[str, str, list[str]]]:
        return [
            (c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", [])))
            for c in notebook.cells  # type: ignore[attr-defined]
        ]

    assert cells(nb) == cells(text), (
        f"{path.name} and {pair.name} differ: run `jupytext --sync {pair}`"
    )
    dirty = [i for i, c in enumerate(nb.cells) if c.get("outputs") or c.get("execution_count")]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs (strip them: nbstripout)"
    assert nb.metadata["kernelspec"]["name"] == "python3"
