"""``coinbt backtest --save``, ``result.save()``, ``coinbt runs …`` and ``coinbt db …``.

Every test runs on SQLite and on the real PostgreSQL (``registry_url`` fixture).
"""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

import coinbt
from coinbt.cli.main import main
from coinbt.errors import StorageError
from coinbt.storage import Registry
from coinbt.storage.migrate import head
from coinbt.storage.models import Artifact, Run

BACKTEST = [
    "backtest", "--strategy", "sma_cross", "--symbol", "BTC-USDT", "--timeframe", "1h",
    "--exchange", "binance", "--end", "2021-06-30", "--param", "window=7",
]  # fmt: skip


@pytest.fixture
def env(registry_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """Point the CLI at the test registry through the environment; yields a Registry on it."""
    monkeypatch.setenv("COINBT_REGISTRY_URL", registry_url)
    monkeypatch.setenv("COINBT_ARTIFACTS_URI", str(tmp_path / "artifacts"))
    reg = Registry(registry_url, tmp_path / "artifacts")
    yield reg
    reg.close()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _age(reg: Registry, run_ids: list[str], days: float) -> None:
    when = datetime.now(UTC) - timedelta(days=days)
    with reg.engine.begin() as conn:
        conn.execute(update(Run).where(Run.run_id.in_(run_ids)).values(created=when))


def _counts(reg: Registry, run_id: str) -> tuple[int, int]:
    with reg.engine.connect() as conn:
        runs = conn.execute(select(func.count()).where(Run.run_id == run_id)).scalar_one()
        arts = conn.execute(
            select(func.count()).select_from(Artifact).where(Artifact.run_id == run_id)
        ).scalar_one()
    return runs, arts


def test_backtest_save_and_result_save(
    env: Registry, capsys: pytest.CaptureFixture[str], results: list[coinbt.BacktestResult]
) -> None:
    code, out, _ = cli(capsys, *BACKTEST, "--save")
    assert code == 0
    line = out.strip().splitlines()[-1]
    assert line.startswith("saved run ") and line.endswith(" to " + _shown(env.url))
    run_id = line.split()[2]
    assert env.exists(run_id)
    # --json keeps stdout pure JSON; the saved line goes to stderr
    code, out, err = cli(capsys, *BACKTEST, "--save", "--json")
    assert code == 0 and json.loads(out)["run_id"] == run_id
    assert f"saved run {run_id}" in err

    # result.save(): through the defaults (the environment) and through a given registry
    assert results[0].save() == results[0].run_id
    assert results[1].save(env) == results[1].run_id
    assert results[1].save(env) == results[1].run_id  # twice: no-op
    assert set(env.runs()["run_id"]) == {run_id, results[0].run_id, results[1].run_id}
    assert env.load(results[1].run_id).stats == results[1].stats


def _shown(url: str) -> str:
    from coinbt.storage.common import hide_password

    return hide_password(url)


def test_list_filters_where_order_and_paging(
    env: Registry, capsys: pytest.CaptureFixture[str], results: list[coinbt.BacktestResult]
) -> None:
    runs = results[:6]
    for i, r in enumerate(runs):
        env.record(r, tags=["fast"] if i % 2 == 0 else ["slow"])
    old = [runs[0].run_id, runs[1].run_id]
    _age(env, old, 40)

    code, out, _ = cli(capsys, "runs", "list", "--json", "--limit", "0")
    rows = json.loads(out)
    assert code == 0 and len(rows) == 6
    sharpe = {r["run_id"]: r["sharpe"] for r in rows}
    assert sharpe == {r.run_id: pytest.approx(r.stats["sharpe"]) for r in runs}

    threshold = sorted(sharpe.values())[2]
    code, out, _ = cli(
        capsys, "runs", "list", "--json", "--where", f"sharpe>{threshold}", "--order=-sharpe"
    )
    got = [r["run_id"] for r in json.loads(out)]
    want = sorted((k for k, v in sharpe.items() if v > threshold), key=lambda k: -sharpe[k])
    assert got == want and len(got) == 3

    code, out, _ = cli(capsys, "runs", "list", "--json", "--order", "sharpe", "--limit", "2")
    assert [r["run_id"] for r in json.loads(out)] == sorted(sharpe, key=sharpe.get)[:2]
    code, out, _ = cli(capsys, "runs", "list", "--json", "--order=-sharpe", "--offset", "5")
    assert [r["run_id"] for r in json.loads(out)] == [min(sharpe, key=sharpe.get)]

    # created time, tags, exact filters, several where conditions
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    code, out, _ = cli(capsys, "runs", "list", "--json", "--since", since)
    assert {r["run_id"] for r in json.loads(out)} == set(sharpe) - set(old)
    code, out, _ = cli(capsys, "runs", "list", "--json", "--until", since)
    assert {r["run_id"] for r in json.loads(out)} == set(old)
    code, out, _ = cli(capsys, "runs", "list", "--json", "--tag", "fast")
    assert {r["run_id"] for r in json.loads(out)} == {r.run_id for r in runs[::2]}
    code, out, _ = cli(capsys, "runs", "list", "--json", "--tag", "fast", "--tag", "slow")
    assert json.loads(out) == []
    code, out, _ = cli(
        capsys, "runs", "list", "--json", "--strategy", "sma_cross", "--symbol", "BTC-USDT",
        "--timeframe", "1h", "--kind", "backtest", "--where", "n_trades>=1,sharpe!=1000",
    )  # fmt: skip
    assert len(json.loads(out)) == 6
    code, out, _ = cli(capsys, "runs", "list", "--kind", "sweep")
    assert code == 0 and "no runs match" in out

    # the table: short ids, headline columns, newest first
    code, out, _ = cli(capsys, "runs", "list")
    lines = out.strip().splitlines()
    assert lines[0].split()[:4] == ["run_id", "created", "kind", "strategy"]
    assert len(lines) == 7
    assert lines[-1].split()[0] in {o[:12] for o in old}

    # the Python API takes the same filters
    frame = env.runs(since=since, tags=["slow"])
    assert set(frame["run_id"]) == {r.run_id for r in runs[3::2]}


def test_show_and_compare(
    env: Registry, capsys: pytest.CaptureFixture[str], results: list[coinbt.BacktestResult]
) -> None:
    a, b = results[2], results[3]
    env.record(a)
    env.record(b)
    code, out, _ = cli(capsys, "runs", "show", a.run_id[:8], "--json")
    shown = json.loads(out)
    assert code == 0 and shown["run_id"] == a.run_id
    assert shown["spec"] == json.loads(json.dumps(a.spec.to_dict()))
    assert shown["stats"]["sharpe"] == pytest.approx(a.stats["sharpe"])
    names = {x["name"] for x in shown["artifacts"]}
    assert names == {f"{t}.parquet" for t in ("trades", "equity", "signals", "positions")} | {
        "spec.json",
        "stats.json",
    }
    recorded = env.artifacts(a.run_id)
    for art in shown["artifacts"]:
        assert art["sha256"] == recorded[art["name"]]["sha256"] and art["bytes"] > 0

    code, out, _ = cli(capsys, "runs", "show", a.run_id)
    assert code == 0 and f"run {a.run_id}" in out
    assert "stats" in out and "sharpe" in out and recorded["trades.parquet"]["sha256"] in out

    code, out, _ = cli(capsys, "runs", "compare", a.run_id[:10], b.run_id)
    assert code == 0
    header, *rows = out.strip().splitlines()
    assert header.split() == [a.run_id[:12], b.run_id[:12]]
    sharpe_row = next(r for r in rows if r.startswith("sharpe "))
    assert len(sharpe_row.split()) == 3
    code, out, _ = cli(capsys, "runs", "compare", a.run_id, b.run_id, "--json")
    both = json.loads(out)
    assert list(both) == [a.run_id, b.run_id]
    assert both[b.run_id]["stats"]["n_trades"] == b.stats["n_trades"]


def test_delete_removes_files_and_rows(
    env: Registry,
    capsys: pytest.CaptureFixture[str],
    results: list[coinbt.BacktestResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r, keep = results[4], results[5]
    env.record(r)
    env.record(keep)
    folder = env.store.run_dir(r.run_id)
    assert folder.is_dir()

    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # not a terminal: needs --yes
    code, _, err = cli(capsys, "runs", "delete", r.run_id)
    assert code == 2 and "--yes" in err and env.exists(r.run_id)

    code, out, _ = cli(capsys, "runs", "delete", r.run_id[:9], "--yes")
    assert code == 0 and f"deleted run {r.run_id}" in out
    assert not folder.exists()
    assert _counts(env, r.run_id) == (0, 0)
    assert env.exists(keep.run_id) and env.load(keep.run_id).stats == keep.stats

    code, _, err = cli(capsys, "runs", "delete", r.run_id, "--yes")
    assert code == 2 and f"unknown run {r.run_id!r}" in err and len(err.splitlines()) == 1


def test_delete_interrupted_leaves_no_visible_row_without_artifacts(
    env: Registry, results: list[coinbt.BacktestResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    r = results[6]
    env.record(r)

    def half_way(run_id: str) -> None:
        (env.store.run_dir(run_id) / "trades.parquet").unlink()
        raise OSError("disk went away")

    monkeypatch.setattr(env.store, "delete_run", half_way)
    with pytest.raises(StorageError, match="could not remove its artifacts"):
        env.delete(r.run_id)
    # the run lost a file, but nothing shows it any more
    assert not env.exists(r.run_id)
    assert r.run_id not in set(env.runs()["run_id"])
    with pytest.raises(StorageError, match="not in the registry"):
        env.load(r.run_id)
    monkeypatch.undo()
    # deleting again completes it; recording it again works too
    assert env.delete(r.run_id) == r.run_id
    assert _counts(env, r.run_id) == (0, 0)
    assert env.record(r) == r.run_id
    assert env.load(r.run_id).stats == r.stats


def test_prune_dry_run_then_for_real(
    env: Registry, capsys: pytest.CaptureFixture[str], results: list[coinbt.BacktestResult]
) -> None:
    runs = results[7:11]
    for r in runs[:3]:
        env.record(r)
    env.record(runs[3], kind="notebook")
    old = [runs[0].run_id, runs[1].run_id, runs[3].run_id]
    _age(env, old, 45)

    code, out, _ = cli(capsys, "runs", "prune", "--older-than", "30d", "--dry-run")
    assert code == 0 and "would delete 3 run(s) older than 30d" in out
    assert all(env.exists(i) for i in old)

    code, out, _ = cli(capsys, "runs", "prune", "--older-than", "30d", "--kind", "backtest")
    assert code == 0 and "deleted 2 run(s)" in out
    assert not env.exists(runs[0].run_id) and not env.exists(runs[1].run_id)
    assert not env.store.run_dir(runs[0].run_id).exists()
    assert _counts(env, runs[1].run_id) == (0, 0)
    assert env.exists(runs[2].run_id) and env.exists(runs[3].run_id)

    assert env.prune("30d") == [runs[3].run_id]
    assert list(env.runs()["run_id"]) == [runs[2].run_id]


def test_db_commands(registry_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    url = ["--registry", registry_url]
    code, out, _ = cli(capsys, "db", "current", *url)
    assert code == 0 and "base (empty)" in out
    code, out, _ = cli(capsys, "db", "upgrade", *url)
    assert code == 0 and f"base → {head()}" in out
    code, out, _ = cli(capsys, "db", "current", *url)
    assert f"{head()} (head)" in out
    code, out, _ = cli(capsys, "db", "history", *url)
    assert code == 0 and f"base → {head()} (head, current)" in out
    code, out, _ = cli(capsys, "db", "downgrade", "base", *url)
    assert code == 0 and f"{head()} → base" in out
    code, out, _ = cli(capsys, "db", "current", *url)
    assert "base (empty)" in out
    code, out, _ = cli(capsys, "db", "upgrade", "head", *url)
    assert code == 0 and Registry(registry_url).runs().empty


def test_user_mistakes_are_one_line_errors(
    env: Registry, capsys: pytest.CaptureFixture[str], results: list[coinbt.BacktestResult]
) -> None:
    a = results[11]
    env.record(a)
    env.record(results[12])
    typo = a.run_id[:5] + ("0" if a.run_id[5] != "0" else "1")
    cases = [
        (["runs", "show", typo], f"unknown run {typo!r}", f"Did you mean '{a.run_id[:12]}'?"),
        (["runs", "list", "--where", "sharpe>>1"], "bad --where 'sharpe>>1'", "COLUMN OP VALUE"),
        (["runs", "list", "--where", "sharpe"], "bad --where 'sharpe'", ""),
        (["runs", "list", "--where", "sharpe>high"], "sharpe is a number", ""),
        (["runs", "list", "--where", "sharp>1"], "unknown registry column 'sharp'", "sharpe"),
        (["runs", "list", "--order=-sharp"], "unknown registry column 'sharp'", ""),
        (["runs", "list", "--since", "yesterdayish"], "since: 'yesterdayish'", ""),
        (["runs", "prune", "--older-than", "30"], "bad duration '30'", "30d"),
        (["runs", "prune", "--older-than", "1 month"], "bad duration", ""),
        (["runs", "compare", a.run_id, "nope"], "unknown run 'nope'", ""),
        (["db", "downgrade", "0042"], "unknown revision '0042'", ""),
    ]
    for args, first, second in cases:
        code, out, err = cli(capsys, *args)
        assert code == 2, args
        assert err.startswith("coinbt: error: ") and len(err.strip().splitlines()) == 1, err
        assert first in err and second in err, err


def test_ambiguous_prefix_and_hidden_password(
    env: Registry, capsys: pytest.CaptureFixture[str], results: list[coinbt.BacktestResult]
) -> None:
    for r in results:
        env.record(r)
    ids = sorted(r.run_id for r in results)
    # the longest prefix shared by two different run ids
    prefix = max(
        (ids[i][: n] for i in range(len(ids) - 1) for n in range(1, 16)
         if ids[i][:n] == ids[i + 1][:n]),
        key=len,
    )  # fmt: skip
    code, _, err = cli(capsys, "runs", "show", prefix)
    assert code == 2 and "ambiguous" in err

    secret = "postgresql+psycopg://coinbt:s3cr3t-pw@127.0.0.1:1/none"
    for args in (["runs", "list", "--registry", secret], ["db", "current", "--registry", secret]):
        code, out, err = cli(capsys, *args)
        assert code == 2 and "s3cr3t-pw" not in out + err and "***" in err
