"""coinbt.logging: JSON lines with run/job ids and exceptions, text for people, secrets
redacted, nothing configured at import."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from coinbt.logging import configure, context, redact

SECRET_URL = "postgresql+psycopg://coinbt:hunter2@db:5432/coinbt"


@pytest.fixture
def stream() -> io.StringIO:
    out = io.StringIO()
    yield out
    for name in ("coinbt", "rq"):  # leave logging as other tests expect it
        logger = logging.getLogger(name)
        logger.handlers[:] = [h for h in logger.handlers if h.get_name() != "coinbt"]
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_json_lines_carry_ids_exceptions_and_no_secrets(stream: io.StringIO) -> None:
    configure(json=True, level="INFO", stream=stream)
    log = logging.getLogger("coinbt.test")
    log.debug("below the level")
    with context(run_id="3f9a2c1d", job_id="3f9a2c1d"):
        log.info("connecting to %s", SECRET_URL)
        try:
            raise RuntimeError(f"cannot reach {SECRET_URL}")
        except RuntimeError:
            log.exception("registry down")
    log.warning("outside", extra={"run_id": "7be01f44"})
    first, second, third = (json.loads(x) for x in lines(stream))
    assert set(first) == {"time", "level", "logger", "message", "run_id", "job_id"}
    assert first["level"] == "info" and first["logger"] == "coinbt.test"
    assert first["time"].endswith("+00:00") and first["run_id"] == "3f9a2c1d"
    assert first["message"] == "connecting to postgresql+psycopg://coinbt:***@db:5432/coinbt"
    assert second["exception"]["type"] == "RuntimeError"
    assert (
        "hunter2" not in json.dumps(second)
        and "raise RuntimeError" in (second["exception"]["traceback"])
    )
    assert third["run_id"] == "7be01f44" and "job_id" not in third


def test_text_lines_for_people_and_configure_twice_keeps_one_handler(stream: io.StringIO) -> None:
    configure(json=False, level="WARNING", stream=stream)
    configure(json=False, level="WARNING", stream=stream)
    assert len([h for h in logging.getLogger("coinbt").handlers if h.get_name() == "coinbt"]) == 1
    with context(job_id="abc"):
        logging.getLogger("coinbt.jobs").warning("token=s3cr3t refused")
    (line,) = lines(stream)
    assert line.endswith("WARNING coinbt.jobs: token=*** refused [job_id=abc]")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUt", "AWS_SECRET_ACCESS_KEY=***"),
        ('{"api_key": "k-1"}', '{"api_key": "***"}'),
        ("https://hooks.slack.com/services/T0/B0/xyz", "https://hooks.slack.com/***"),
        ("s3://bucket/runs/3f9a", "s3://bucket/runs/3f9a"),
        ("sharpe=1.2 window=20", "sharpe=1.2 window=20"),
    ],
)
def test_redact(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_importing_coinbt_configures_no_logging() -> None:
    code = (
        "import logging, coinbt, coinbt.data, coinbt.jobs, coinbt.storage, coinbt.logging\n"
        "print(len(logging.getLogger('coinbt').handlers), len(logging.getLogger().handlers))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]


def test_unknown_level_is_a_clear_error(stream: io.StringIO) -> None:
    from coinbt.errors import ConfigError

    with pytest.raises(ConfigError, match="log level 'LOUD'"):
        configure(level="LOUD", stream=stream)
