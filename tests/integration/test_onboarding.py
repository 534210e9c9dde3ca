"""The newcomer test: ``docs/operations.md``, "Start here: one machine", run step by step.

Every ``<!-- onboarding: NAME -->`` block of that section is typed, line by line, into one
``bash`` session (like a terminal: ``export``, ``. .venv/bin/activate`` and ``&`` carry over)
in a copy of this working tree, with a fresh virtualenv installed as the block says. Each line
must succeed, and each step's outcome is checked here against what the step promises. The test
fails when the documents and the commands drift apart: a step added or removed in the
document, a command renamed, an install line that misses a dependency.

Only these departures from the text, all listed in ``SUBSTITUTE`` and ``NOT_RUN``: the working
tree is copied instead of cloned, the test session's own Redis is used instead of installing
one, and the dashboards get a free port.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from local_services import descendants, free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "operations.md"
SECTION = "## Start here: one machine"
STEPS = ["clone", "install", "doctor", "bench", "redis", "worker", "job", "report", "dashboard",
         "dashboard-check", "doctor-again"]  # fmt: skip
#: steps shown to the reader but not run here, and why
NOT_RUN = {
    "clone": "the test copies the working tree (uncommitted changes included) instead",
    "redis": "the test session's own redis-server stands in (tests/integration/conftest.py)",
}
#: per step, how long one of its lines may take
TIMEOUT_S = {"install": 900, "bench": 600, "job": 300, "report": 600}

pytestmark = [pytest.mark.services, pytest.mark.slow]


def doc_steps(text: str) -> dict[str, list[str]]:
    """The section's steps: name → the command lines of its ``sh`` block."""
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end >= 0 else len(text)]
    found = re.findall(r"<!-- onboarding: ([\w-]+) -->\s*```sh\n(.*?)```", section, re.S)
    return {
        name: [ln.strip() for ln in body.splitlines() if ln.strip() and not ln.strip().startswith("#")]
        for name, body in found
    }  # fmt: skip


def copy_tree(dest: Path) -> None:
    """What a clone of this working tree holds (tracked and new files, nothing ignored)."""
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")  # fmt: skip
    for name in filter(None, (f.decode() for f in files)):
        source = REPO / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


class Session:
    """One ``bash`` reading commands from stdin, as a terminal would; each line's output and exit
    status come back (after a marker line)."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=cwd, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1,
                                     start_new_session=True)  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.transcript: list[str] = []

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def run(self, command: str, timeout: float) -> tuple[int, str]:
        marker = f"__step_done_{uuid.uuid4().hex}"
        assert self.proc.stdin is not None
        self.proc.stdin.write(f'{command}\necho "{marker} $?"\n')
        self.proc.stdin.flush()
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"`{command}` still running after {timeout} s; output so far:\n"
                            + "".join(out)[-3000:])  # fmt: skip
            if line.startswith(marker):
                code = int(line.split()[1])
                self.transcript.append(f"$ {command}\n{''.join(out)}[exit {code}]\n")
                return code, "".join(out)
            out.append(line)

    def close(self) -> None:
        """Stop the shell and everything it started (the worker, its work horses, Voila)."""
        pids = [self.proc.pid, *descendants(self.proc.pid)]
        for pid in reversed(pids):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def session(tmp_path: Path) -> Iterator[tuple[Session, Path]]:
    """A shell in a copy of the working tree, with no coinbt settings and no virtualenv."""
    home = tmp_path / "coinbt"
    copy_tree(home)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COINBT_", "VIRTUAL_ENV", "PYTHON"))}  # fmt: skip
    venv_bin = str(Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin")
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    shell = Session(home, env)
    try:
        yield shell, home
    finally:
        shell.close()


def test_the_single_machine_path_of_operations_md(
    session: tuple[Session, Path], redis_url: str, skip_or_fail: Callable[[str], None]
) -> None:
    if shutil.which("curl") is None:
        skip_or_fail("curl is not installed (the dashboard check uses it)")
    steps = doc_steps(DOC.read_text())
    assert list(steps) == STEPS, "the steps of docs/operations.md changed: update this test too"
    shell, home = session
    port = free_port()
    substitute = {"redis://127.0.0.1:6379/0": redis_url, "8866": str(port)}
    outputs: dict[str, list[tuple[str, str]]] = {}

    def run(step: str, *, check: bool = True) -> list[tuple[str, str]]:
        if step in NOT_RUN:
            return []
        done = []
        for line in steps[step]:
            for old, new in substitute.items():
                line = line.replace(old, new)
            code, out = shell.run(line, TIMEOUT_S.get(step, 180))
            if check:
                assert code == 0, f"step {step!r}: `{line}` exited {code}:\n{out[-4000:]}"
            done.append((line, out))
        outputs[step] = done
        return done

    def doctor_rows(out: str) -> dict[str, str]:
        return {m[0]: m[1] for m in re.findall(r"^(\S+(?: \S+)?)\s{2,}(OK|WARNING|CRITICAL)\b",
                                                out, re.M)}  # fmt: skip

    try:
        assert steps["clone"][0].startswith("git clone ")
        run("install")
        assert outputs["install"][-1][1].startswith("coinbt 0.1.0")
        assert (home / ".venv" / "bin" / "coinbt").exists()

        [(_, out)] = run("doctor")
        rows = doctor_rows(out)
        assert set(rows) >= {"data root", "catalog", "registry", "redis", "artifacts", "disk"}
        assert set(rows.values()) == {"OK"}, out

        before = set((home / "benchmarks" / "results").glob("sma_cross-*.json"))
        run("bench")
        [written] = set((home / "benchmarks" / "results").glob("sma_cross-*.json")) - before
        bench = json.loads(written.read_text())
        for size, peers in bench["correctness"].items():
            for peer, c in peers.items():  # the same trades as every peer, at every size
                assert c["coinbt_trades"] == c["peer_trades"] == c["same_entry_and_exit_bar"], (
                    size, peer)  # fmt: skip
        assert set(bench["timings"]) and bench["ratios"]

        run("redis")  # not run: the fixture's Redis answers instead
        import redis

        assert redis.Redis.from_url(redis_url).ping()
        run("worker")
        log = home / "worker.log"
        wait_until(lambda: log.exists() and "Listening on" in log.read_text(errors="replace"),
                   120, "the worker to start")  # fmt: skip

        submitted, watched, listed, runs = run("job")
        job_id = re.search(r"queued job (\w+) on 'default'", submitted[1])
        assert job_id, submitted[1]
        job_id = job_id.group(1)
        assert "no pending jobs" in watched[1]
        assert re.search(rf"{job_id}\s+finished", listed[1]), listed[1]
        assert job_id[:12] in runs[1]  # the list shortens ids

        [(_, out)] = run("report")
        html = home / "reports" / f"{job_id}.html"
        assert html.exists(), out  # the report's run is the job's run: the same spec
        assert "volume_zone_breakout" in html.read_text(errors="replace")

        run("dashboard")
        token = shell.run('echo "$DASH_TOKEN"', 10)[1].strip()
        assert len(token) >= 16

        def answers() -> bool:
            code, out = shell.run(steps["dashboard-check"][0].replace("8866", str(port)), 60)
            return code == 0 and out.strip() == "200"

        wait_until(answers, 180, "the dashboard to answer 200", poll=2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", "/voila/render/runs.ipynb")  # no token: to the login page
        refused = conn.getresponse()
        assert refused.status in (302, 401, 403), refused.status
        assert refused.status != 302 or "/login" in refused.getheader("Location", "")
        conn.close()

        [(_, out)] = run("doctor-again", check=False)
        rows = doctor_rows(out)
        assert set(rows.values()) == {"OK"}, out
        assert re.search(r"^redis\s+OK\s+.*\b1 worker\(s\)", out, re.M), out
    except BaseException:
        print("\n".join(shell.transcript[-12:]))  # the session so far, for the failure report
        for log in ("worker.log", "dashboard.log"):
            if (home / log).exists():
                print(f"--- {log}\n{(home / log).read_text(errors='replace')[-3000:]}")
        raise
