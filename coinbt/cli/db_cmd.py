"""``coinbt db upgrade | downgrade | current | history``: the registry schema (Alembic)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from coinbt.errors import StorageError

_URL_HELP = "registry URL (default $COINBT_REGISTRY_URL or sqlite:///.coinbt/registry.db)"


def registry_url(args: argparse.Namespace) -> str:
    """The registry URL from ``--registry``, ``$COINBT_REGISTRY_URL`` or the default."""
    from coinbt import settings

    return getattr(args, "registry", None) or settings.registry_url()


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser(
        "db",
        help="registry schema: upgrade, downgrade, current, history",
        description="Manage the schema of the run registry (Alembic migrations shipped with "
        "coinbt). The registry is also upgraded automatically on first use.",
    )
    dsub = db.add_subparsers(dest="db_command", metavar="COMMAND")
    dsub.required = True

    p = dsub.add_parser("upgrade", help="migrate the registry up (default: newest revision)")
    p.add_argument("revision", nargs="?", default="head", help="target revision (head)")
    p.add_argument("--registry", metavar="URL", help=_URL_HELP)
    p.set_defaults(func=cmd_upgrade)

    p = dsub.add_parser(
        "downgrade", help="migrate the registry down to REV ('base' drops every table)"
    )
    p.add_argument("revision", metavar="REV", help="target revision, e.g. base")
    p.add_argument("--registry", metavar="URL", help=_URL_HELP)
    p.set_defaults(func=cmd_downgrade)

    p = dsub.add_parser("current", help="print the registry's revision")
    p.add_argument("--registry", metavar="URL", help=_URL_HELP)
    p.set_defaults(func=cmd_current)

    p = dsub.add_parser("history", help="list the revisions shipped with coinbt")
    p.add_argument("--registry", metavar="URL", help=_URL_HELP + "; marks its revision")
    p.set_defaults(func=cmd_history)


def _revisions() -> list[tuple[str, str | None, str]]:
    """(revision, down revision, message), oldest first."""
    from alembic.script import ScriptDirectory

    from coinbt.storage import migrate

    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    out = []
    for rev in script.walk_revisions():
        down = rev.down_revision
        out.append((rev.revision, down if isinstance(down, str) else None, rev.doc or ""))
    return out[::-1]


def _check_revision(revision: str, *, allow_base: bool) -> None:
    known = [r for r, _, _ in _revisions()]
    special = ["head", "heads", *(["base"] if allow_base else [])]
    if revision in special or revision in known or revision.startswith(("+", "-")):
        return
    from coinbt.errors import did_you_mean

    raise StorageError(
        f"unknown revision {revision!r}; known: {', '.join([*known, *special])}."
        f"{did_you_mean(revision, [*known, *special])}"
    )


def _prepare(url: str) -> None:
    """Create the folder of a SQLite file, as the registry does on first use."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StorageError(f"registry URL is not usable: {exc}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def _run(action: str, url: str, fn: object, *a: str) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from coinbt.storage.common import hide_password

    try:
        fn(url, *a)  # type: ignore[operator]
    except (SQLAlchemyError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"{action} of {hide_password(url)} failed: {first}") from exc


def _current(url: str) -> str | None:
    from sqlalchemy.exc import SQLAlchemyError

    from coinbt.storage import migrate
    from coinbt.storage.common import hide_password

    try:
        return migrate.current(url)
    except (SQLAlchemyError, ImportError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StorageError(f"cannot read the registry {hide_password(url)}: {first}") from exc


def _migrate(args: argparse.Namespace, action: str) -> int:
    """Run ``upgrade``/``downgrade`` to ``args.revision`` and print the revision change."""
    from coinbt.storage import migrate
    from coinbt.storage.common import hide_password

    url = registry_url(args)
    _check_revision(args.revision, allow_base=action == "downgrade")
    _prepare(url)
    before = _current(url)
    _run(action, url, getattr(migrate, action), args.revision)
    after = _current(url)
    print(f"{hide_password(url)}: {before or 'base'} → {after or 'base'}")
    return 0


def cmd_upgrade(args: argparse.Namespace) -> int:
    return _migrate(args, "upgrade")


def cmd_downgrade(args: argparse.Namespace) -> int:
    return _migrate(args, "downgrade")


def cmd_current(args: argparse.Namespace) -> int:
    from coinbt.storage import migrate
    from coinbt.storage.common import hide_password

    url = registry_url(args)
    _prepare(url)
    rev = _current(url)
    state = "head" if rev == migrate.head() else ("empty" if rev is None else "behind head")
    print(f"{hide_password(url)}: {rev or 'base'} ({state})")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    from coinbt.storage import migrate

    url = registry_url(args) if args.registry or os.environ.get("COINBT_REGISTRY_URL") else None
    rev_now = None
    if url is not None:
        _prepare(url)
        rev_now = _current(url)
    head = migrate.head()
    for rev, down, doc in _revisions():
        marks = [m for m, on in (("head", rev == head), ("current", rev == rev_now)) if on]
        suffix = f" ({', '.join(marks)})" if marks else ""
        print(f"{down or 'base'} → {rev}{suffix}  {doc.strip().splitlines()[0] if doc else ''}")
    return 0
