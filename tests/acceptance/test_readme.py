"""The README's Python example runs as pasted, so it cannot rot unnoticed.

The block under "### Python" is cut out of README.md and run as a script, in a folder
holding the ``enricher.toml`` it names (a SQLite database beside it), as a reader would.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from pathlib import Path

from tests.acceptance.cli import REPO, cli_env
from tests.hostdb import HostDb


def python_example() -> str:
    readme = (REPO / "README.md").read_text("utf-8")
    section = readme.split("\n### Python\n", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "no python block under ### Python"
    return match[1]


def test_the_python_example_runs_as_pasted(tmp_path: Path) -> None:
    code = python_example()
    assert "asyncio.run(main())" in code  # a script, not a fragment for a notebook
    db = tmp_path / "enricher.db"
    (tmp_path / "enricher.toml").write_text(f'[database]\nurl = "sqlite:///{db}"\n')
    script = tmp_path / "example.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # Before them, enricher's own log lines (structlog's default: stdout, unconfigured).
    first, second = result.stdout.strip().splitlines()[-2:]
    outcome, job_id = first.split()
    status = second.strip()
    assert outcome == "created" and status == "pending"
    job = HostDb(db).job(str(uuid.UUID(job_id)))
    assert (job["task_type"], job["target_entity_id"]) == (
        "enrich_entity_summary_keywords",
        "src/app.py::main",
    )
