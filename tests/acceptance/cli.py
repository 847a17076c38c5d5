"""Running ``enricher`` as a user does: a subprocess with a config file and env."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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


class Worker:
    """An ``enricher`` subprocess whose output goes to files: a pipe nobody reads
    would fill up and block a chatty worker, which would then hold its jobs."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str] | None) -> None:
        self.out = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (lives with the process)
        self.err = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "enricher", *args],
            stdout=self.out,
            stderr=self.err,
            text=True,
            env=env or cli_env(),
            cwd=REPO,
        )
        self.pid = self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The exit code, or None while the process runs (asked now, not at the last wait)."""
        return self.proc.poll()

    def send_signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def communicate(self, timeout: float) -> tuple[str, str]:
        """Wait for the exit; return (stdout, stderr)."""
        self.proc.wait(timeout)
        self.out.seek(0)
        self.err.seek(0)
        return self.out.read(), self.err.read()


def spawn(*args: str, env: dict[str, str] | None = None) -> Worker:
    return Worker(args, env)
