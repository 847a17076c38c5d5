"""Files → entity records: Python splitting, documents, conversations, discovery."""

from __future__ import annotations

import codecs
import json
from importlib import resources
from pathlib import Path

import pytest

from enricher.hashing import content_hash, conversation_hash
from enricher.ingest.sources import (
    Discovery,
    IngestPathError,
    SourceError,
    assign_ids,
    check_inside,
    classify,
    discover,
    document_title,
    parse_code,
    parse_conversation,
    parse_document,
    read_source,
    relative_id,
)

PYTHON = '''"""Module doc."""

import os

LIMIT = 3


@decorator
def first(a):
    """First."""
    return a


async def second():
    pass


class Third(Base):
    x = 1
'''


def test_python_is_split_per_top_level_definition(tmp_path: Path) -> None:
    path = tmp_path / "pkg" / "mod.py"
    path.parent.mkdir()
    path.write_text(PYTHON)
    records = parse_code(path, tmp_path)
    assert [(r.entity_id, r.entity_type, r.start_line, r.end_line) for r in records] == [
        ("pkg/mod.py", "module", 1, 19),
        ("pkg/mod.py::first", "function", 8, 11),
        ("pkg/mod.py::second", "function", 14, 15),
        ("pkg/mod.py::Third", "class", 18, 19),
    ]
    first = records[1]
    assert first.raw_content.startswith("@decorator\ndef first(a):")
    assert first.content_hash == content_hash(first.raw_content)
    assert "def first" not in records[0].raw_content and "LIMIT = 3" in records[0].raw_content
    assert parse_code(path, tmp_path) == records  # stable


def test_python_syntax_error_falls_back_to_one_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def oops(:\n  pass\n")
    (record,) = parse_code(path, tmp_path)
    assert (record.entity_id, record.entity_type, record.language) == (
        "broken.py",
        "file",
        "python",
    )


def test_other_languages_are_one_entity_per_file(tmp_path: Path) -> None:
    path = tmp_path / "main.go"
    path.write_text("package main\n\nfunc main() {}\n")
    (record,) = parse_code(path, tmp_path)
    assert (record.entity_id, record.language, record.end_line) == ("main.go", "go", 3)


@pytest.mark.parametrize(
    ("name", "text", "title"),
    [
        ("a.md", "intro\n# Real title\n", "Real title"),
        ("b.rst", "Guide\n=====\n\nText.\n", "Guide"),
        ("c.txt", "\n  First line of notes  \nmore\n", "First line of notes"),
    ],
)
def test_document_titles(tmp_path: Path, name: str, text: str, title: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    record = parse_document(path, tmp_path)
    assert (record.document_id, record.title, record.file_type) == (name, title, name[2:])
    assert document_title("", path) is None


def test_conversation_json_and_jsonl(tmp_path: Path) -> None:
    folder = tmp_path / "conversations"
    folder.mkdir()
    one = {
        "conversation_id": "c1",
        "title": "T",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "yo", "message_id": "x"},
        ],
    }
    (folder / "one.json").write_text(json.dumps(one))
    (folder / "many.jsonl").write_text(
        "\n".join(json.dumps({**one, "conversation_id": f"c{i}"}) for i in (2, 3))
    )
    (record,) = parse_conversation(folder / "one.json", tmp_path)
    assert [m.message_id for m in record.messages] == ["c1:0001", "x"]
    assert record.content_hash == conversation_hash([("user", "hi"), ("assistant", "yo")])
    assert [r.conversation_id for r in parse_conversation(folder / "many.jsonl", tmp_path)] == [
        "c2",
        "c3",
    ]
    assert classify(folder / "one.json") == classify(folder / "many.jsonl") == "conversation"
    assert classify(tmp_path / "x.conversation.json") == "conversation"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{oops", "not valid JSON"),
        (json.dumps({"messages": []}), "conversation_id is missing"),
        (json.dumps({"conversation_id": "c", "messages": []}), "non-empty list"),
        (
            json.dumps({"conversation_id": "c", "messages": [{"role": "user"}]}),
            "message 1 has no content",
        ),
    ],
)
def test_invalid_conversation_names_file_and_problem(
    tmp_path: Path, data: str, message: str
) -> None:
    path = tmp_path / "bad.conversation.json"
    path.write_text(data)
    with pytest.raises(SourceError, match=message) as info:
        parse_conversation(path, tmp_path)
    assert "bad.conversation.json" in str(info.value)


def test_discovery_skips_hidden_binary_and_large_files(tmp_path: Path) -> None:
    (tmp_path / "b.py").write_text("x = 1\n")
    (tmp_path / "a.md").write_text("# A\n")
    (tmp_path / ".hidden.py").write_text("x = 1\n")
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "c.py").write_text("x = 1\n")
    (tmp_path / "blob.py").write_bytes(b"\0\1\2")
    (tmp_path / "huge.md").write_text("x" * 200)
    found = discover([tmp_path], max_bytes=100)
    assert [p.name for p in found.files] == ["a.md", "b.py"]
    assert sorted((p.name, reason.split(" ")[0]) for p, reason in found.skipped) == [
        ("blob.py", "binary"),
        ("huge.md", "larger"),
    ]


def test_bundled_demo_corpus_parses_cleanly() -> None:
    with resources.as_file(resources.files("enricher.demo").joinpath("corpus")) as root:
        found = discover([root])
        assert not found.skipped
        kinds = {"code": 0, "document": 0, "conversation": 0}
        for path in found.files:
            kind = classify(path)
            assert kind is not None, path
            if kind == "code":
                kinds[kind] += len(parse_code(path, root))
            elif kind == "document":
                parse_document(path, root)
                kinds[kind] += 1
            else:
                kinds[kind] += len(parse_conversation(path, root))
    assert kinds["code"] >= 15 and kinds["document"] == 4 and kinds["conversation"] >= 3


# ── symlinks ────────────────────────────────────────────────────────────────


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    """A tree to ingest with one real document, and a folder outside it."""
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    (tree / "docs").mkdir(parents=True)
    (tree / "docs" / "real.md").write_text("# Real\n")
    outside.mkdir()
    (outside / "secret.txt").write_text("TOP SECRET\n")
    return tree, outside


def _skipped(found: Discovery) -> dict[str, str]:
    return {p.name: reason for p, reason in found.skipped}


def test_file_symlink_outside_the_tree_is_skipped_and_said_so(tmp_path: Path) -> None:
    tree, outside = _tree(tmp_path)
    (tree / "docs" / "passwd.txt").symlink_to(outside / "secret.txt")
    found = discover([tree])
    assert [p.name for p in found.files] == ["real.md"]
    reason = _skipped(found)["passwd.txt"]
    assert str((outside / "secret.txt").resolve()) in reason
    assert "outside the ingested tree" in reason and "--follow-symlinks" in reason


def test_directory_symlink_outside_the_tree_is_skipped(tmp_path: Path) -> None:
    tree, outside = _tree(tmp_path)
    (tree / "ext").symlink_to(outside, target_is_directory=True)
    found = discover([tree])
    assert [p.name for p in found.files] == ["real.md"]
    assert "outside the ingested tree" in _skipped(found)["ext"]


def test_symlink_inside_the_tree_is_fine_and_not_ingested_twice(tmp_path: Path) -> None:
    tree, _ = _tree(tmp_path)
    (tree / "a_alias.md").symlink_to(tree / "docs" / "real.md")
    (tree / "a_docs").symlink_to(tree / "docs", target_is_directory=True)
    found = discover([tree])
    assert found.files == [tree / "docs" / "real.md"]
    assert not found.skipped


def test_symlink_into_a_second_named_root_is_allowed_once(tmp_path: Path) -> None:
    tree, outside = _tree(tmp_path)
    (tree / "docs" / "passwd.txt").symlink_to(outside / "secret.txt")
    found = discover([tree, outside])
    assert sorted(p.name for p in found.files) == ["real.md", "secret.txt"]
    assert not found.skipped


def test_symlink_to_a_hidden_file_inside_the_tree_is_skipped(tmp_path: Path) -> None:
    tree, _ = _tree(tmp_path)
    (tree / ".env").write_text("KEY=1\n")
    (tree / "env.txt").symlink_to(tree / ".env")
    found = discover([tree])
    assert [p.name for p in found.files] == ["real.md"]
    assert "hidden" in _skipped(found)["env.txt"]


def test_broken_symlink_is_skipped_with_a_reason(tmp_path: Path) -> None:
    tree, _ = _tree(tmp_path)
    (tree / "gone.md").symlink_to(tmp_path / "nowhere.md")
    found = discover([tree], follow_symlinks=True)
    assert [p.name for p in found.files] == ["real.md"]
    assert "broken symlink" in _skipped(found)["gone.md"]


def test_symlink_loops_do_not_hang(tmp_path: Path) -> None:
    tree, _ = _tree(tmp_path)
    (tree / "loop_a.md").symlink_to(tree / "loop_b.md")
    (tree / "loop_b.md").symlink_to(tree / "loop_a.md")
    (tree / "docs" / "up").symlink_to(tree, target_is_directory=True)
    for follow in (False, True):
        found = discover([tree], follow_symlinks=follow)
        assert [p.name for p in found.files] == ["real.md"]
        skipped = _skipped(found)
        assert set(skipped) == {"loop_a.md", "loop_b.md"}
        assert all("loop" in reason for reason in skipped.values())


def test_follow_symlinks_includes_outside_targets(tmp_path: Path) -> None:
    tree, outside = _tree(tmp_path)
    (tree / "docs" / "passwd.txt").symlink_to(outside / "secret.txt")
    (tree / "ext").symlink_to(outside, target_is_directory=True)
    found = discover([tree], follow_symlinks=True)
    # The folder link and the file link reach the same secret: one copy, not two.
    assert len(found.files) == 2 and not found.skipped
    assert tree / "docs" / "real.md" in found.files
    (linked,) = (p for p in found.files if p.name != "real.md")
    assert linked.resolve() == (outside / "secret.txt").resolve()
    assert relative_id(linked, tree) in {"docs/passwd.txt", "ext/secret.txt"}


def test_a_symlink_named_on_the_command_line_is_a_root(tmp_path: Path) -> None:
    tree, outside = _tree(tmp_path)
    (outside / "nested").mkdir()
    (outside / "nested" / "inner.md").write_text("# Inner\n")
    (tree / "named").symlink_to(outside, target_is_directory=True)
    (tree / "one.txt").symlink_to(outside / "secret.txt")
    found = discover([tree / "named", tree / "one.txt"])
    assert sorted(p.name for p in found.files) == ["inner.md", "secret.txt"]
    assert not found.skipped
    inner = next(p for p in found.files if p.name == "inner.md")
    assert relative_id(inner, tree / "named") == "nested/inner.md"


# ── one root, unique ids ────────────────────────────────────────────────────


def test_ids_are_relative_to_the_root_whatever_folders_are_named(tmp_path: Path) -> None:
    for folder in ("enricher", "providers"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text(f'"""{folder}."""\n')
    found = discover([tmp_path / "enricher", tmp_path / "providers"])
    assert sorted(assign_ids(found.files, tmp_path).values()) == [
        "enricher/__init__.py",
        "providers/__init__.py",
    ]


def test_a_path_outside_the_root_is_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(IngestPathError, match="elsewhere is outside the ingest root"):
        check_inside([tmp_path / "root", tmp_path / "elsewhere"], tmp_path / "root")


def test_two_paths_with_one_id_are_refused_naming_both(tmp_path: Path) -> None:
    """The safety net under discovery's dedupe: no id is ever stored twice silently."""
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.md").write_text("# A\n")
    one, other = tmp_path / "a" / "x.md", tmp_path / "a" / "gone" / ".." / "x.md"
    with pytest.raises(IngestPathError) as info:
        assign_ids([one, other], tmp_path)
    assert str(info.value) == f"{one} and {other} would both be stored as a/x.md"


def test_overlapping_folders_reach_each_file_once(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    (tmp_path / "src" / "pkg" / "mod.md").write_text("# Mod\n")
    found = discover([tmp_path / "src", tmp_path / "src" / "pkg"])
    assert list(assign_ids(found.files, tmp_path).values()) == ["src/pkg/mod.md"]


# ── empty files and encodings ───────────────────────────────────────────────


@pytest.mark.parametrize("name", ["empty.py", "empty.md", "empty.go", "x.conversation.json"])
@pytest.mark.parametrize(("data", "reason"), [(b"", "empty file"), (b" \n\t\n", "only whitespace")])
def test_empty_files_are_refused_for_every_kind(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SourceError, match=reason):
        read_source(path)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (codecs.BOM_UTF8 + "# Café\n".encode(), "# Café\n"),
        (codecs.BOM_UTF16_LE + "# Café\n".encode("utf-16-le"), "# Café\n"),
        (codecs.BOM_UTF16_BE + "# Café\n".encode("utf-16-be"), "# Café\n"),
        (codecs.BOM_UTF32_LE + "# Café\n".encode("utf-32-le"), "# Café\n"),
        (codecs.BOM_UTF32_BE + "# Café\n".encode("utf-32-be"), "# Café\n"),
        (codecs.BOM_UTF8 * 2 + b"# Caf\xc3\xa9\n", "# Café\n"),
    ],
)
def test_a_byte_order_mark_decides_the_encoding_and_is_dropped(
    tmp_path: Path, data: bytes, text: str
) -> None:
    path = tmp_path / "doc.md"
    path.write_bytes(data)
    assert discover([tmp_path]).files == [path]  # UTF-16/32 NULs are not "binary"
    record = parse_document(path, tmp_path)
    assert (record.raw_content, record.title) == (text, "Café")


def test_a_python_coding_cookie_is_honoured(tmp_path: Path) -> None:
    path = tmp_path / "legacy.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\ndef caf\xe9():\n    return '\xe9'\n")
    (record,) = parse_code(path, tmp_path)
    assert (record.name, record.raw_content) == ("café", "def café():\n    return 'é'\n")


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.md", b"# Notes\nvalid \xff\n", "not valid UTF-8 (byte 0xff at offset 14)"),
        ("mod.py", b"x = '\xe9'\n", "not valid UTF-8 (byte 0xe9 at offset 5)"),
        ("mod.py", b"# coding: nope\nx = 1\n", "bad coding declaration"),
        ("latin.md", b"# coding: latin-1\n\xe9\n", "not valid UTF-8"),  # cookies are Python's
        ("wide.md", codecs.BOM_UTF16_LE + b"a\x00b", "not valid UTF-16"),
    ],
)
def test_undecodable_files_are_refused_with_the_offset(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(SourceError) as info:
        read_source(path)
    assert reason in str(info.value)


def test_repeated_python_names_are_one_entity(tmp_path: Path) -> None:
    path = tmp_path / "over.py"
    path.write_text(
        "@overload\ndef f(x: int) -> int: ...\n\n"
        "@overload\ndef f(x: str) -> str: ...\n\n"
        "def f(x):\n    return x\n"
    )
    (record,) = parse_code(path, tmp_path)
    assert (record.entity_id, record.start_line, record.end_line) == ("over.py::f", 1, 8)
    assert record.raw_content.count("def f") == 3


def test_form_feeds_do_not_shift_python_definitions(tmp_path: Path) -> None:
    path = tmp_path / "ff.py"
    path.write_text("x = 1\n\x0c\ndef g():\n    return 2\n")
    (record,) = parse_code(path, tmp_path)
    assert record.raw_content == "def g():\n    return 2\n"
