"""Where report templates live and how their parameters are checked."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from coinbt.errors import ConfigError, did_you_mean

TEMPLATES_ENV = "COINBT_TEMPLATES_DIR"


def templates_dir() -> Path:
    """``$COINBT_TEMPLATES_DIR``, else ``notebooks/templates`` of the source tree."""
    configured = os.environ.get(TEMPLATES_ENV, "").strip()
    folder = Path(configured).expanduser() if configured else _source_templates()
    if not folder.is_dir():
        raise ConfigError(
            f"report templates folder {folder} does not exist; set ${TEMPLATES_ENV} to the "
            "folder holding backtest.ipynb (notebooks/templates in the coinbt repository)",
            field=TEMPLATES_ENV,
        )
    return folder


def _source_templates() -> Path:
    return Path(__file__).resolve().parents[2] / "notebooks" / "templates"


def template_names() -> list[str]:
    """Names of the available templates (file names without ``.ipynb``)."""
    return sorted(p.stem for p in templates_dir().glob("*.ipynb"))


def template_path(template: str | os.PathLike[str]) -> Path:
    """A template by name (``backtest``) or as a path to an ``.ipynb`` file."""
    text = str(template)
    if text.endswith(".ipynb"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ConfigError(f"template notebook {path} does not exist", field="template")
        return path
    names = template_names()
    if text not in names:
        raise ConfigError(
            f"unknown report template {text!r}; templates: {', '.join(names)}."
            f"{did_you_mean(text, names)}",
            field="template",
        )
    return templates_dir() / f"{text}.ipynb"


def check_parameters(path: Path, parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters, checked against the template's ``parameters`` cell (unknown names
    with the closest declared one, non-JSON values refused), its literal defaults filled in."""
    from coinbt.jobs.notebook import NotebookRequest, read_request

    return read_request(NotebookRequest(path, dict(parameters or {})))[1]


#: what IPython itself puts in a kernel's namespace
_KERNEL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def check_namespace(namespace: Mapping[str, Any], template: str) -> None:
    """Fail on a name papermill injected that the template does not declare.

    papermill only *warns* about an unknown parameter and defines it anyway; a template's first
    cell calls this with ``globals()`` (at that point: the parameters cell, papermill's
    injected cell and IPython's own names), so ``-p symbl BTC-USDT`` fails there with the
    closest declared name instead of silently running with the default symbol.
    """
    import types

    declared = set(check_parameters(template_path(template), {}))
    extra = sorted(
        name
        for name, value in namespace.items()
        if not name.startswith("_")
        and name not in _KERNEL_NAMES
        and name not in declared
        and not isinstance(value, types.ModuleType | types.FunctionType | type)
    )
    if extra:
        name = extra[0]
        raise ConfigError(
            f"template {template} has no parameter {name!r}; its parameters are "
            f"{', '.join(sorted(declared))}.{did_you_mean(name, declared)}",
            field=name,
        )


__all__ = [
    "TEMPLATES_ENV",
    "check_namespace",
    "check_parameters",
    "template_names",
    "template_path",
    "templates_dir",
]
