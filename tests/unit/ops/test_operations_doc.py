"""docs/operations.md against the code: the configuration reference names every ``COINBT_*``
variable coinbt reads (and none it does not), and the S3 policies are valid IAM JSON."""

from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
OPS_DOC = (REPO / "docs" / "operations.md").read_text()


def _section(title: str) -> str:
    start = OPS_DOC.index(f"## {title}\n")
    end = OPS_DOC.find("\n## ", start + 4)
    return OPS_DOC[start : end if end >= 0 else len(OPS_DOC)]


def variables_read_by(folder: Path) -> set[str]:
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        names |= set(re.findall(r"\bCOINBT_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    return names


def test_the_configuration_reference_lists_every_variable_coinbt_reads() -> None:
    reference = _section("Configuration reference")
    table = set(re.findall(r"^\| `(COINBT_[A-Z0-9_]+)` \|", reference, re.M))
    used = variables_read_by(REPO / "coinbt")
    assert used, "found no COINBT_ variable in coinbt/: the scan is broken"
    assert used - table == set(), f"read by coinbt but missing from the reference: {used - table}"
    assert table - used == set(), f"in the reference but read nowhere: {table - used}"
    tests_and_bench = variables_read_by(REPO / "tests") | variables_read_by(REPO / "benchmarks")
    for name in tests_and_bench - used - {"COINBT_"}:
        assert f"`{name}`" in reference, f"{name} (tests/benchmarks) is not mentioned"


def test_the_s3_policies_are_iam_json_limited_to_the_bucket() -> None:
    blocks = re.findall(r"```json\n(.*?)```", _section("Security"), re.S)
    assert len(blocks) == 2, "expected the workers' and the dashboards' policies"
    for text in blocks:
        policy = json.loads(text)
        assert policy["Version"] == "2012-10-17"
        for statement in policy["Statement"]:
            assert statement["Effect"] == "Allow"
            assert all(a.startswith("s3:") and "*" not in a for a in statement["Action"])
            assert statement["Resource"].startswith("arn:aws:s3:::coinbt-runs")
    read_only = json.loads(blocks[1])
    actions = {a for s in read_only["Statement"] for a in s["Action"]}
    assert not {a for a in actions if a.startswith(("s3:Put", "s3:Delete"))}
