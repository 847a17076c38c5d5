"""What ``make demo``, ``make test`` and ``make bench`` install is pinned, and the build is clean.

``pyproject.toml`` keeps version ranges for library users; the two commands install from
``requirements.lock`` (``make lock`` rewrites it). A dependency added to pyproject without
refreshing the lock would be installed at whatever version ships that day, so the lock
must pin every requirement of the runtime and of the dev and bench extras.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def normal(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(spec: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", spec.strip())
    assert match, spec
    return normal(match[0])


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text("utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, version = line.strip().partition("==")
            assert sep and version, f"not an exact pin: {line!r}"
            found[normal(name)] = version
    return found


def test_the_lock_pins_every_requirement_of_the_runtime_dev_and_bench() -> None:
    project = PYPROJECT["project"]
    wanted = list(project["dependencies"])
    for extra in ("dev", "bench"):
        wanted += project["optional-dependencies"][extra]
    locked = pins()
    missing = sorted({requirement_name(spec) for spec in wanted} - set(locked))
    assert not missing, f"not in requirements.lock (run `make lock`): {missing}"
    assert "cronsim" in locked


def test_every_install_command_uses_the_lock() -> None:
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text("utf-8")
    assert "pip install --quiet -c requirements.lock -e '.[dev]'" in bootstrap
    assert "pyproject.toml requirements.lock" in bootstrap  # the stamp hashes both
    makefile = (ROOT / "Makefile").read_text("utf-8")
    assert "-c requirements.lock -e '.[bench]'" in makefile
    assert "\nlock:" in makefile
    assert "scripts/bootstrap.sh" in (ROOT / "scripts" / "test.sh").read_text("utf-8")


def test_the_license_is_an_spdx_string_the_build_backend_reads() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    assert "setuptools>=77" in PYPROJECT["build-system"]["requires"]
