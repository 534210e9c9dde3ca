"""The coinbt image without Docker: the ``Dockerfile``'s own COPY, ``pip install`` and ENV lines,
followed in a fresh virtualenv, then the commands its services run.

Docker is not available here, so the image is never built in CI; this follows the Dockerfile as
far as Python goes. It catches what an editable install hides: a file the package needs at run
time but does not ship (migrations, bundled candles, the chart widget's JavaScript), a template
or dashboard folder the image's environment points at wrongly, an extra the services need but
the image does not install. The Dockerfile is read, not copied here, so the two cannot drift.
"""

from __future__ import annotations

import filecmp
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def dockerfile() -> dict[str, object]:
    """The Dockerfile's first WORKDIR, COPY sources, the ``pip install`` arguments and ENV."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    workdir = next(ln.split()[1] for ln in lines if ln.startswith("WORKDIR "))
    copies = [shlex.split(ln)[1:-1] for ln in lines if ln.startswith("COPY ")]
    [pip] = [ln for ln in lines if ln.startswith("RUN ") and "pip install" in ln]
    env: dict[str, str] = {}
    for ln in lines:
        if ln.startswith("ENV "):
            env.update(dict(re.findall(r'(\w+)=("[^"]*"|\S+)', ln[4:])))
    return {"workdir": workdir, "copies": [s for c in copies for s in c],
            "pip": shlex.split(pip.split("pip install", 1)[1]), "env": env}  # fmt: skip


def test_the_image_install_runs_its_services_commands(tmp_path: Path) -> None:
    spec = dockerfile()
    assert spec["workdir"] == "/opt/coinbt"
    opt = tmp_path / "opt" / "coinbt"
    opt.mkdir(parents=True)
    for source in spec["copies"]:
        path = REPO / source
        if path.is_dir():
            shutil.copytree(path, opt / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, opt / source)
    venv = tmp_path / "venv"
    subprocess.run(["python3", "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", *spec["pip"]],
                         cwd=opt, capture_output=True, text=True, timeout=1200)  # fmt: skip
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]

    places = {"/opt/coinbt": str(opt), "/data": str(tmp_path / "data"),
              "/var/cache/coinbt": str(tmp_path / "cache")}  # fmt: skip
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COINBT_", "VIRTUAL_ENV", "PYTHON"))}  # fmt: skip
    for key, value in spec["env"].items():  # type: ignore[union-attr]
        for old, new in places.items():
            value = value.replace(old, new) if value.startswith(old) else value
        env[key] = value
    home = tmp_path / "home"
    home.mkdir()
    env.update(HOME=str(home), PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               COINBT_REGISTRY_URL=f"sqlite:///{home / 'registry.db'}")  # fmt: skip

    def run(*argv: str, timeout: float = 300) -> str:
        proc = subprocess.run(argv, cwd=home, env=env, capture_output=True, text=True,
                              timeout=timeout)  # fmt: skip
        assert proc.returncode == 0, f"{argv}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
        return proc.stdout

    # not the source tree: the installed copy (no editable install in the image)
    where = run(
        "python", "-c", "import coinbt, pathlib; print(pathlib.Path(coinbt.__file__).parent)"
    )
    package = Path(where.strip())
    assert venv in package.parents
    assert filecmp.cmp(package / "dashboards" / "static" / "chart.js",
                       REPO / "coinbt" / "dashboards" / "static" / "chart.js", shallow=False)  # fmt: skip

    assert "OK" in run("coinbt", "doctor")  # the image's CMD
    run("coinbt", "db", "upgrade")  # the migrate service: migrations ship with the package
    out = run("coinbt", "report", "backtest", "-p", "strategy", "volume_long_candle",
              "-p", "symbol", "BTC-USDT", "-p", "timeframe", "1h", "-p", "end", "2021-06-30",
              timeout=600)  # fmt: skip
    html = re.search(r"(\S+\.html)", out)
    assert html and (home / html.group(1)).exists(), out  # templates from $COINBT_TEMPLATES_DIR
    dashboards = Path(env["COINBT_DASHBOARDS_DIR"])
    assert (dashboards / "runs.ipynb").exists()
    for command in (("coinbt", "dashboard", "--help"), ("coinbt", "worker", "--help"),
                    ("coinbt", "storage", "init-bucket", "--help"), ("jupyter", "lab", "--version")):  # fmt: skip
        run(*command)
