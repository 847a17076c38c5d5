"""``enricher ingest`` stores every file it reports, under one id each, or says why not.

Ids used to be relative to each folder named, so ``ingest enricher/ providers/`` let
``providers/__init__.py`` overwrite ``enricher/__init__.py`` while the summary counted
both. Now ids are relative to one root (the current folder, or ``--root``); empty and
undecodable files are skipped with a line on stderr instead of being stored.
"""

from __future__ import annotations

import codecs
import sqlite3
from pathlib import Path

from tests.acceptance.cli import enricher, write_config


def _ids(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        code = [r[0] for r in conn.execute("SELECT entity_id FROM code_entities")]
        docs = [r[0] for r in conn.execute("SELECT document_id FROM project_documents")]
        return sorted(code + docs)
    finally:
        conn.close()


def _ingest(tmp_path: Path, *args: str, cwd: Path | None = None) -> tuple[Path, str, str, int]:
    db = tmp_path / "ids.db"
    config = write_config(tmp_path, db)
    result = enricher("--config", str(config), "ingest", *args, cwd=cwd or tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    return db, result.stdout, result.stderr, result.returncode


def _skipped(stderr: str) -> dict[str, str]:
    lines = [line.removeprefix("skipped ") for line in stderr.splitlines()]
    return dict(line.split(": ", 1) for line in lines if not line.startswith("{"))


def test_same_named_files_in_two_folders_are_both_stored(tmp_path: Path) -> None:
    for folder in ("enricher", "providers", "src", "docs"):
        (tmp_path / folder).mkdir()
    (tmp_path / "enricher" / "__init__.py").write_text('"""The app."""\n')
    (tmp_path / "providers" / "__init__.py").write_text('"""The providers."""\n')
    (tmp_path / "src" / "README.md").write_text("# Source\n")
    (tmp_path / "docs" / "README.md").write_text("# Docs\n")
    db, out, err, code = _ingest(tmp_path, "enricher/", "providers/", "src/", "docs/")
    assert code == 0, err
    assert "2 code_entity, 2 project_document" in out, out
    assert _ids(db) == [
        "docs/README.md",
        "enricher/__init__.py",
        "providers/__init__.py",
        "src/README.md",
    ]


def test_the_readme_example_id_is_what_ingest_src_stores(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text('def main():\n    """Start the app."""\n')
    db, _, err, code = _ingest(tmp_path, "src/")
    assert code == 0, err
    assert _ids(db) == ["src/app.py::main"]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "src/app.py::main" in readme


def test_root_option_sets_what_ids_are_relative_to(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "src").mkdir(parents=True)
    (project / "src" / "app.py").write_text('def main():\n    """Start the app."""\n')
    db, _, err, code = _ingest(tmp_path, "--root", str(project), str(project / "src"))
    assert code == 0, err
    assert _ids(db) == ["src/app.py::main"]


def test_a_path_outside_the_root_exits_2_naming_it(tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "a.md").write_text("# A\n")
    db, out, err, code = _ingest(tmp_path, "../elsewhere", cwd=tmp_path / "project")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"enricher: error: ../elsewhere is outside the ingest root {tmp_path / 'project'} "
        "(use --root)"
    ]
    assert not db.exists()  # refused before the database was opened
    _, _, err, code = _ingest(tmp_path, "--root", "nope", "elsewhere")
    assert code == 2 and err.splitlines() == ["enricher: error: --root nope is not a folder"]


def test_one_file_reached_twice_is_stored_once(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "mod.md").write_text("# Mod\n")
    (tmp_path / "src" / "top.md").write_text("# Top\n")
    args = ("src/", "src/pkg/", "./src/pkg/mod.md", str(tmp_path / "src" / "top.md"))
    db, out, err, code = _ingest(tmp_path, *args)
    assert code == 0, err
    assert "2 project_document" in out and "2 created" in out, out
    assert _ids(db) == ["src/pkg/mod.md", "src/top.md"]


def test_empty_and_whitespace_files_are_skipped_with_a_reason(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "empty.md").write_text("")
    (project / "empty.py").write_text("")
    (project / "blank.go").write_text("  \n\n\t\n")
    (project / "imports.py").write_text("import os\nfrom x import y\n")
    (project / "real.md").write_text("# Real\n")
    db, out, err, code = _ingest(tmp_path, "project")
    assert code == 0, err
    assert "1 project_document; jobs: 1 created" in out, out
    assert _skipped(err) == {
        "project/blank.go": "empty file (only whitespace)",
        "project/empty.md": "empty file",
        "project/empty.py": "empty file",
        "project/imports.py": "nothing to index (only imports, comments or a few statements)",
    }
    assert _ids(db) == ["project/real.md"]
    _, again, _, _ = _ingest(tmp_path, "project")
    assert "jobs: 1 existing" in again, again  # nothing new queued for the empty files


def test_encodings_are_declared_or_the_file_is_skipped(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "bom.md").write_bytes(codecs.BOM_UTF8 + "# Résumé\n".encode())
    (project / "wide.md").write_bytes(codecs.BOM_UTF16_LE + "# Wide\n".encode("utf-16-le"))
    (project / "legacy.py").write_bytes(b"# coding: latin-1\ndef caf\xe9():\n    pass\n")
    (project / "bad.md").write_bytes(b"# Notes\nvalid \xff\n")
    db, _, err, code = _ingest(tmp_path, "project")
    assert code == 0, err
    assert _skipped(err) == {"project/bad.md": "not valid UTF-8 (byte 0xff at offset 14)"}
    assert _ids(db) == ["project/bom.md", "project/legacy.py::café", "project/wide.md"]
    conn = sqlite3.connect(db)
    try:
        titles = dict(conn.execute("SELECT document_id, title FROM project_documents"))
        contents = [r[0] for r in conn.execute("SELECT raw_content FROM project_documents")]
    finally:
        conn.close()
    assert titles == {"project/bom.md": "Résumé", "project/wide.md": "Wide"}
    assert not any("\ufeff" in text or "\ufffd" in text for text in contents)
