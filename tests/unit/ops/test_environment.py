"""environment.yml (for conda users) names the same dependencies as pyproject.toml.

pyproject's [project] dependencies plus everything the `all` extra pulls in (extras that name
``coinbt[...]`` are expanded recursively) must appear in environment.yml, conda part or pip part,
with the same version constraints, and nothing else may (bar conda's own ``python``/``pip`` and
the dependencies of moto's ``server`` extra). Also checked: conda-forge is the only channel, the
Python pin lies inside ``requires-python``, the project is installed editable through pip, and the
file has the shape ``conda env create`` accepts.

Each check lives in a function that returns a list of problems. The tests run those functions on
the real files, and on copies in tmp_path that have been broken on purpose, so that every check is
shown to fail when it should.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[3]
ENV_FILE = REPO / "environment.yml"
PYPROJECT_FILE = REPO / "pyproject.toml"

# conda-forge package name -> PyPI name, for every package whose conda-forge name is not just its
# PyPI name (after PEP 503 normalisation).
CONDA_TO_PYPI = {
    "redis-py": "redis",  # conda-forge "redis" is the server
    "prometheus_client": "prometheus-client",
    "ccxt-py": "ccxt",
    "playwright-python": "playwright",  # conda-forge "playwright" is the Node.js package
    "docker-py": "docker",
    "antlr-python-runtime": "antlr4-python3-runtime",
}

# the PyPI spellings of those packages, which in the conda part mean something else or nothing
_PYPI_SPELLINGS = {pypi: conda for conda, pypi in CONDA_TO_PYPI.items() if conda != pypi}

# pyproject asks for moto[server]. The conda package has no extras, so environment.yml lists the
# server extra's own dependencies (PyPI names, as in moto 5.2's metadata). Their constraints are
# moto's business, so only their presence is checked (plus pyproject's constraint where pyproject
# names one of them itself, like pyyaml).
MOTO_SERVER_DEPS = {
    "antlr4-python3-runtime",
    "aws-xray-sdk",
    "cfn-lint",
    "docker",
    "flask",
    "flask-cors",
    "graphql-core",
    "joserfc",
    "jsonpath-ng",
    "openapi-spec-validator",
    "py-partiql-parser",
    "pyparsing",
    "pyyaml",
}

# conda packages that only make the environment work; pyproject does not name them
CONDA_TOOLING = {"python", "pip"}

ENV_KEYS = {"name", "channels", "dependencies"}
PROJECT_PIP_ENTRY = "-e ."

_CONDA_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<spec>[^\s].*)?$")
_OPERATORS = ("==", "!=", ">=", "<=", "~=", ">", "<")


# --- loading -------------------------------------------------------------------------------------


def load_env(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def load_pyproject(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def pypi_name(name: str) -> str:
    """PEP 503 name, after translating a conda-forge spelling to the PyPI one."""
    return canonicalize_name(CONDA_TO_PYPI.get(name, name))


def conda_to_specifier(spec: str) -> SpecifierSet:
    """A conda version constraint as a PEP 440 SpecifierSet.

    ``>=a,<b``, ``==x``, ``!=x`` carry over unchanged. Conda's single ``=x`` is a prefix match
    (``=1.2`` accepts 1.2.5), so it becomes ``==x.*``. Or-constraints (``|``) and build strings
    have no PEP 440 equivalent and are refused.
    """
    spec = spec.replace(" ", "")
    if not spec:
        return SpecifierSet()
    if "|" in spec:
        raise ValueError(f"conda or-constraint {spec!r} has no PEP 440 equivalent")
    parts = []
    for part in spec.split(","):
        if part.startswith(_OPERATORS):
            parts.append(part)
        elif part.startswith("="):
            version = part[1:]
            parts.append(f"=={version}" if version.endswith(".*") else f"=={version}.*")
        else:
            raise ValueError(f"unsupported conda constraint {part!r} in {spec!r}")
    try:
        return SpecifierSet(",".join(parts))
    except InvalidSpecifier as exc:
        raise ValueError(f"conda constraint {spec!r}: {exc}") from exc


def split_conda_dep(dep: str) -> tuple[str, str]:
    m = _CONDA_SPEC.match(dep.strip())
    if not m:
        raise ValueError(f"not a conda package spec: {dep!r}")
    return m["name"], m["spec"] or ""


def conda_specs(conda: list[str]) -> list[tuple[str, str]]:
    """(name, constraint) for each well-formed conda dependency; env_requirements reports the rest."""
    out = []
    for dep in conda:
        try:
            out.append(split_conda_dep(dep))
        except ValueError:
            continue
    return out


def env_parts(env: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(conda dependency strings, pip entries)."""
    conda: list[str] = []
    pip: list[str] = []
    for dep in env.get("dependencies") or []:
        if isinstance(dep, dict):
            pip.extend(dep.get("pip") or [])
        else:
            conda.append(dep)
    return conda, pip


def pyproject_requirements(pyproject: dict[str, Any]) -> dict[str, SpecifierSet]:
    """PyPI name -> combined constraint, for core dependencies plus the `all` extra, expanded."""
    project = pyproject["project"]
    own = canonicalize_name(project["name"])
    extras = project.get("optional-dependencies", {})
    out: dict[str, SpecifierSet] = {}
    seen: set[str] = set()

    def add(lines: list[str]) -> None:
        for line in lines:
            req = Requirement(line)
            name = canonicalize_name(req.name)
            if name == own:
                for extra in sorted(req.extras):
                    if extra not in seen:
                        seen.add(extra)
                        add(extras[extra])
                continue
            out[name] = out.get(name, SpecifierSet()) & req.specifier

    add(project.get("dependencies", []))
    seen.add("all")
    add(extras["all"])
    return out


def env_requirements(env: dict[str, Any]) -> tuple[dict[str, SpecifierSet], list[str]]:
    """PyPI name -> constraint for everything environment.yml installs (conda and pip parts),
    bar conda tooling and the project itself; and the problems met while reading them."""
    conda, pip = env_parts(env)
    out: dict[str, SpecifierSet] = {}
    problems: list[str] = []

    def put(name: str, spec: SpecifierSet, where: str) -> None:
        if name in out:
            problems.append(f"{name} is listed twice in environment.yml ({where})")
        out[name] = spec

    for dep in conda:
        try:
            name, spec = split_conda_dep(dep)
            specifier = conda_to_specifier(spec)
        except ValueError as exc:
            problems.append(f"conda dependency {dep!r}: {exc}")
            continue
        if name in CONDA_TOOLING:
            continue
        if name in _PYPI_SPELLINGS:
            problems.append(
                f"conda dependency {dep!r}: conda-forge calls PyPI {name!r} "
                f"{_PYPI_SPELLINGS[name]!r}"
            )
        put(pypi_name(name), specifier, f"conda: {dep}")
    for entry in pip:
        if entry.startswith("-"):
            continue  # options and the editable project: see pip_problems
        try:
            req = Requirement(entry)
        except InvalidRequirement as exc:
            problems.append(f"pip entry {entry!r}: {exc}")
            continue
        put(canonicalize_name(req.name), req.specifier, f"pip: {entry}")
    return out, problems


# --- checks (each returns a list of problems; empty means fine) -----------------------------------


def layout_problems(env: Any) -> list[str]:
    """The basic shape `conda env create` accepts."""
    if not isinstance(env, dict):
        return [f"environment.yml is not a mapping but {type(env).__name__}"]
    problems = []
    unknown = set(env) - ENV_KEYS
    if unknown:
        problems.append(f"unexpected top-level keys {sorted(unknown)}; allowed: {sorted(ENV_KEYS)}")
    if env.get("name") != "coinbt":
        problems.append(f"name is {env.get('name')!r}, expected 'coinbt'")
    deps = env.get("dependencies")
    if not isinstance(deps, list) or not deps:
        return [*problems, "dependencies must be a non-empty list"]
    pip_blocks = 0
    for dep in deps:
        if isinstance(dep, str):
            continue
        if isinstance(dep, dict) and set(dep) == {"pip"}:
            pip_blocks += 1
            entries = dep["pip"]
            if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
                problems.append("the pip: block must be a list of strings")
            continue
        problems.append(f"dependency {dep!r} is neither a string nor the {{pip: [...]}} mapping")
    if pip_blocks > 1:
        problems.append(f"{pip_blocks} pip: blocks; conda expects at most one")
    return problems


def name_problems(required: set[str], declared: set[str]) -> list[str]:
    """Every required package is declared, and nothing else is."""
    expected = required | MOTO_SERVER_DEPS
    problems = []
    missing = sorted(expected - declared)
    extra = sorted(declared - expected)
    if missing:
        problems.append(f"in pyproject.toml but missing from environment.yml: {', '.join(missing)}")
    if extra:
        problems.append(f"in environment.yml but not in pyproject.toml: {', '.join(extra)}")
    return problems


def constraint_problems(
    required: dict[str, SpecifierSet], declared: dict[str, SpecifierSet]
) -> list[str]:
    """Each package pyproject names has the same constraint in environment.yml."""
    return [
        f"{name}: pyproject.toml says {str(required[name]) or '(any)'!r}, "
        f"environment.yml says {str(declared[name]) or '(any)'!r}"
        for name in sorted(required.keys() & declared.keys())
        if required[name] != declared[name]
    ]


def channel_problems(env: dict[str, Any]) -> list[str]:
    channels = env.get("channels")
    if channels != ["conda-forge"]:
        return [f"channels are {channels!r}, expected exactly ['conda-forge']"]
    return []


def python_problems(env: dict[str, Any], requires_python: str) -> list[str]:
    """Python is pinned to one minor series (``python=3.11``) that requires-python allows, or
    given as the same lower bound (``python>=3.11``)."""
    conda, _ = env_parts(env)
    specs = [spec for name, spec in conda_specs(conda) if name == "python"]
    if len(specs) != 1:
        return [f"expected exactly one python entry in the conda dependencies, found {len(specs)}"]
    spec = specs[0].replace(" ", "")
    supported = SpecifierSet(requires_python)
    series = re.fullmatch(r"=(\d+)\.(\d+)", spec)
    if series:
        major, minor = series.groups()
        # the whole series, not just its first release, must be supported
        outside = [
            v for v in (f"{major}.{minor}.0", f"{major}.{minor}.99") if Version(v) not in supported
        ]
        if outside:
            return [f"python={major}.{minor} allows {outside}, outside requires-python {supported}"]
        return []
    if spec.startswith(">="):
        if SpecifierSet(spec) != supported:
            return [f"python{spec} differs from requires-python {supported}"]
        return []
    return [f"python spec {spec!r}: use python=X.Y (a minor series) or python>=X.Y"]


def pip_problems(env: dict[str, Any]) -> list[str]:
    """pip is a conda dependency, and the pip list installs the project editable and otherwise
    holds only requirement lines. Conda hands that list to ``pip install -r``, so per-command
    options such as ``--no-deps`` are errors there."""
    conda, pip = env_parts(env)
    problems = []
    if "pip" not in {name for name, _ in conda_specs(conda)}:
        problems.append("pip is not among the conda dependencies, so the pip: list cannot run")
    if pip.count(PROJECT_PIP_ENTRY) != 1:
        problems.append(f"the pip: list must install the project once as {PROJECT_PIP_ENTRY!r}")
    for entry in pip:
        if entry.startswith("-") and entry != PROJECT_PIP_ENTRY:
            problems.append(
                f"pip entry {entry!r} is not a plain requirement; pip rejects options like "
                "--no-deps in a requirements file"
            )
    return problems


def environment_problems(env_path: Path, pyproject_path: Path) -> list[str]:
    env = load_env(env_path)
    problems = layout_problems(env)
    if problems:
        return problems
    pyproject = load_pyproject(pyproject_path)
    required = pyproject_requirements(pyproject)
    declared, problems = env_requirements(env)
    problems += name_problems(set(required), set(declared))
    problems += constraint_problems(required, declared)
    problems += channel_problems(env)
    problems += python_problems(env, pyproject["project"]["requires-python"])
    problems += pip_problems(env)
    return problems


# --- the real files ------------------------------------------------------------------------------


def test_environment_yml_matches_pyproject():
    problems = environment_problems(ENV_FILE, PYPROJECT_FILE)
    assert not problems, "environment.yml is out of step with pyproject.toml:\n" + "\n".join(
        problems
    )


def test_environment_yml_layout():
    assert layout_problems(load_env(ENV_FILE)) == []


def test_all_extra_expansion_reaches_every_extra():
    """The expansion follows coinbt[...] references: all -> dev -> storage, and so on."""
    required = pyproject_requirements(load_pyproject(PYPROJECT_FILE))
    for name in ("numpy", "sqlalchemy", "rq", "nbval", "voila", "ccxt", "moto", "vectorbt-rust"):
        assert name in required
    assert "coinbt" not in required
    assert required["psycopg"] == SpecifierSet(">=3.1")  # the [binary] extra is dropped


def test_name_map_has_no_stale_entries():
    """Every conda-forge spelling the test knows about is one environment.yml uses."""
    conda, _ = env_parts(load_env(ENV_FILE))
    used = {split_conda_dep(dep)[0] for dep in conda}
    assert set(CONDA_TO_PYPI) <= used, sorted(set(CONDA_TO_PYPI) - used)


@pytest.mark.parametrize(
    "conda, pep440",
    [
        ("", ""),
        (">=2.0,<3", ">=2.0,<3"),
        (">=2.0, <3", ">=2.0,<3"),
        ("==0.6.6", "==0.6.6"),
        ("=0.6.6", "==0.6.6.*"),
        ("=3.11", "==3.11.*"),
        ("=1.2.*", "==1.2.*"),
        ("!=2.2.0,!=2.2.1", "!=2.2.0,!=2.2.1"),
    ],
)
def test_conda_to_specifier(conda, pep440):
    assert conda_to_specifier(conda) == SpecifierSet(pep440)


@pytest.mark.parametrize("bad", ["1.2|1.4", "2.0", ">=1.0 py311_0"])
def test_conda_to_specifier_refuses_what_it_cannot_translate(bad):
    with pytest.raises(ValueError):
        conda_to_specifier(bad)


# --- deliberately broken copies: every check can fail --------------------------------------------


@pytest.fixture
def broken(tmp_path):
    """Write copies of environment.yml and pyproject.toml with some text edits ((old, new) pairs),
    then return the problems the checks find in them."""

    def make(
        env: tuple[tuple[str, str], ...] = (), pyproject: tuple[tuple[str, str], ...] = ()
    ) -> list[str]:
        copies = []
        for source, edits in ((ENV_FILE, env), (PYPROJECT_FILE, pyproject)):
            text = source.read_text()
            for old, new in edits:
                assert old in text, old
                text = text.replace(old, new, 1)
            copy = tmp_path / source.name
            copy.write_text(text)
            copies.append(copy)
        return environment_problems(*copies)

    return make


def has(problems: list[str], *fragments: str) -> bool:
    return any(all(f in p for f in fragments) for p in problems)


def test_broken_copy_missing_conda_package(broken):
    problems = broken(env=[("  - ccxt-py>=4.4\n", "")])
    assert has(problems, "missing from environment.yml", "ccxt"), problems


def test_broken_copy_missing_pip_package(broken):
    problems = broken(env=[("      - vectorbt-rust>=1.2\n", "")])
    assert has(problems, "missing from environment.yml", "vectorbt-rust"), problems


def test_broken_copy_missing_moto_server_dep(broken):
    problems = broken(env=[("  - flask-cors\n", "")])
    assert has(problems, "missing from environment.yml", "flask-cors"), problems


def test_broken_copy_unexpected_package(broken):
    problems = broken(env=[("  - psutil>=5.9\n", "  - psutil>=5.9\n  - scipy\n")])
    assert has(problems, "not in pyproject.toml", "scipy"), problems


def test_broken_copy_pypi_name_where_conda_forge_differs(broken):
    """conda-forge's "redis" is the Redis server, not the client pyproject asks for."""
    problems = broken(env=[("  - redis-py>=5\n", "  - redis>=5\n")])
    assert has(problems, "'redis>=5'", "conda-forge calls PyPI 'redis' 'redis-py'"), problems
    problems = broken(env=[("  - redis-py>=5\n", "  - redis-client>=5\n")])
    assert has(problems, "missing from environment.yml", "redis"), problems
    assert has(problems, "not in pyproject.toml", "redis-client"), problems


def test_broken_copy_package_added_to_pyproject_only(broken):
    problems = broken(pyproject=[('"tqdm>=4.66",', '"tqdm>=4.66",\n    "scipy>=1.13",')])
    assert has(problems, "missing from environment.yml", "scipy"), problems


def test_broken_copy_changed_conda_constraint(broken):
    problems = broken(env=[("  - numpy>=2.0,<3\n", "  - numpy>=2.0\n")])
    assert has(problems, "numpy:", "<3,>=2.0", ">=2.0"), problems


def test_broken_copy_changed_pip_constraint(broken):
    problems = broken(env=[("      - backtesting==0.6.6\n", "      - backtesting>=0.6.6\n")])
    assert has(problems, "backtesting:", "==0.6.6", ">=0.6.6"), problems


def test_broken_copy_fuzzy_conda_pin_is_not_exact(broken):
    """conda's `=1.16` accepts 1.16.x, so it does not match pyproject's `==1.16`; `==` does."""
    pin = [('"jupytext>=1.16"', '"jupytext==1.16"')]
    problems = broken(env=[("  - jupytext>=1.16\n", "  - jupytext=1.16\n")], pyproject=pin)
    assert has(problems, "jupytext:", "'==1.16'", "'==1.16.*'"), problems
    assert broken(env=[("  - jupytext>=1.16\n", "  - jupytext==1.16\n")], pyproject=pin) == []


def test_broken_copy_constraint_changed_in_pyproject(broken):
    problems = broken(pyproject=[('"pandas>=2.2,<4"', '"pandas>=2.2,<3"')])
    assert has(problems, "pandas:", "<3,>=2.2", "<4,>=2.2"), problems


def test_broken_copy_extra_channel(broken):
    problems = broken(env=[("  - conda-forge\n", "  - conda-forge\n  - defaults\n")])
    assert has(problems, "channels are"), problems


def test_broken_copy_python_outside_requires_python(broken):
    problems = broken(env=[("  - python=3.11\n", "  - python=3.10\n")])
    assert has(problems, "python=3.10", "outside requires-python"), problems


def test_broken_copy_python_unpinned(broken):
    problems = broken(env=[("  - python=3.11\n", "  - python\n")])
    assert has(problems, "python spec"), problems


def test_broken_copy_project_not_installed(broken):
    problems = broken(env=[("      - -e .\n", "")])
    assert has(problems, "install the project once"), problems


def test_broken_copy_no_deps_option_in_pip_list(broken):
    problems = broken(env=[("      - -e .\n", "      - -e . --no-deps\n")])
    assert has(problems, "--no-deps"), problems


def test_broken_copy_pip_missing_from_conda(broken):
    problems = broken(env=[("  - pip\n  # core\n", "  # core\n")])
    assert has(problems, "pip is not among the conda dependencies"), problems


def test_broken_copy_unknown_top_level_key(broken):
    problems = broken(env=[("name: coinbt\n", "name: coinbt\nprefix: /opt/coinbt\n")])
    assert has(problems, "unexpected top-level keys", "prefix"), problems


def test_broken_copy_malformed_dependency(broken):
    problems = broken(env=[("  - psutil>=5.9\n", "  - psutil>=5.9\n  - {conda: [scipy]}\n")])
    assert has(problems, "neither a string nor"), problems


def test_broken_copy_second_pip_block(broken):
    problems = broken(env=[("  - psutil>=5.9\n", "  - psutil>=5.9\n  - pip: [scipy]\n")])
    assert has(problems, "pip: blocks"), problems


def test_broken_copy_malformed_conda_spec(broken):
    problems = broken(env=[("  - psutil>=5.9\n", "  - psutil>=5.9\n  - scipy 1.13 py311_0\n")])
    assert has(problems, "'scipy 1.13 py311_0'", "unsupported conda constraint"), problems


def test_broken_copy_duplicate_package(broken):
    problems = broken(env=[("  - psutil>=5.9\n", "  - psutil>=5.9\n  - psutil>=5.9\n")])
    assert has(problems, "psutil is listed twice"), problems
