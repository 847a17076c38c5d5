"""Running ``enricher`` as a user does: a subprocess with a config file and env."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENRICHER_")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def write_config(folder: Path, db: Path, extra: str = "") -> Path:
    config = folder / "enricher.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n'
        "[worker]\npoll_interval_s = 0.1\nheartbeat_s = 0.5\nshutdown_grace_s = 10.0\n"
        'handlers = ["tests.plugins:register"]\n' + extra
    )
    return config


def enricher(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "enricher", *args],
        capture_output=True,
        text=True,
        env=env or cli_env(),
        timeout=timeout,
        cwd=cwd or REPO,
        check=False,
    )


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "enricher", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or cli_env(),
        cwd=REPO,
    )
