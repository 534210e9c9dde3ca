"""docker-compose.yml, Dockerfile and .env.example agree with each other and with coinbt:
the compose file is valid against the Compose Specification schema, every coinbt command a
service runs parses with coinbt's own CLI, no password or token has a default, and
.env.example documents every variable the compose file reads.

``compose_spec.json`` is the Compose Specification JSON schema (Apache-2.0) as shipped in the
docker-compose 1.29.2 wheel (``compose/config/compose_spec.json``) on PyPI.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
VAR = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?:(?P<op>:[?-])(?P<arg>[^}]*))?\}")


#: secrets of optional features (alert e-mail): passed through empty when unset, never defaulted
OPTIONAL_SECRETS = {"COINBT_SMTP_USER", "COINBT_SMTP_PASSWORD"}


def env_example() -> dict[str, str]:
    out = {}
    for line in (REPO / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's variable substitution: ${X}, ${X:-default}, ${X:?error}; $$ is a dollar."""

    def one(m: re.Match[str]) -> str:
        value = env.get(m["name"], "")
        if m["op"] == ":?" and not value:
            raise KeyError(f"{m['name']}: {m['arg']}")
        return value or (m["arg"] if m["op"] == ":-" else "")

    return VAR.sub(one, text).replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    filled = {k: v or f"test-{k.lower()}" for k, v in env_example().items()}
    return yaml.safe_load(interpolate((REPO / "docker-compose.yml").read_text(), filled))


def test_compose_file_is_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    from jsonschema import Draft201909Validator

    schema = json.loads((Path(__file__).with_name("compose_spec.json")).read_text())
    errors = sorted(Draft201909Validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    bad = {"services": {"worker": {"image": "coinbt", "restart": "sometimes", "depends_on": 3}}}
    assert list(Draft201909Validator(schema).iter_errors(bad))  # the schema does reject


def test_every_coinbt_command_parses_with_coinbt_itself(compose: dict[str, Any]) -> None:
    from coinbt.cli.main import build_parser

    ours = {n: s for n, s in compose["services"].items() if s.get("build") == "."}
    assert set(ours) == {"bucket", "migrate", "worker", "jupyter", "dashboard"}
    for name, service in ours.items():
        argv = service["command"]
        argv = shlex.split(argv) if isinstance(argv, str) else list(argv)
        if argv[0] == "coinbt":
            args = build_parser().parse_args(argv[1:])  # exits (fails the test) if unknown
            assert callable(args.func), name
        else:  # JupyterLab, installed by the Dockerfile
            assert argv[:2] == ["jupyter", "lab"], name
            assert '"jupyterlab>=4"' in (REPO / "Dockerfile").read_text()


def test_no_secret_has_a_default_and_env_example_lists_every_variable() -> None:
    text = (REPO / "docker-compose.yml").read_text()
    used: dict[str, set[tuple[str | None, str | None]]] = {}
    for m in VAR.finditer(text):
        used.setdefault(m["name"], set()).add((m["op"], m["arg"]))
    example = env_example()
    assert set(used) == set(example), "docker-compose.yml and .env.example disagree"
    for name, forms in used.items():
        if re.search(r"PASSWORD|TOKEN|_USER$", name):
            ops = {op for op, _ in forms}
            if name in OPTIONAL_SECRETS:  # empty turns the feature off; never a value
                assert forms == {(":-", "")}, f"{name} must be ${{{name}:-}}"
            else:
                assert ":?" in ops and ":-" not in ops, f"{name} must be required, never defaulted"
            assert example[name] == "", f".env.example must not carry a value for {name}"
    with pytest.raises(KeyError, match="POSTGRES_PASSWORD"):
        interpolate(text, {})  # compose refuses to start without the secrets


def test_image_has_the_extras_the_services_use_and_a_non_root_user() -> None:
    docker = (REPO / "Dockerfile").read_text()
    assert re.search(r'pip install "\.\[storage,jobs,notebooks,dash,fetch,ops\]"', docker)
    assert "USER coinbt" in docker and "NUMBA_CACHE_DIR" in docker
    for var in ("COINBT_TEMPLATES_DIR", "COINBT_DASHBOARDS_DIR"):
        assert var in docker  # notebooks are not inside the installed package
    role = (REPO / "ops" / "postgres" / "10-readonly-role.sh").read_text()
    assert "default_transaction_read_only = on" in role and "GRANT SELECT" in role
