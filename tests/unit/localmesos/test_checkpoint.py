"""checkpoint: atomic JSON writes survive as whole files; missing files read as the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from localmesos import checkpoint


def test_round_trip_creates_parent_directories(tmp_path: Path) -> None:
    path = tmp_path / "meta" / "tasks" / "f" / "t.json"
    checkpoint.write_json(path, {"id": "a", "n": [1, 2]})
    assert checkpoint.read_json(path) == {"id": "a", "n": [1, 2]}


def test_missing_file_reads_as_default(tmp_path: Path) -> None:
    assert checkpoint.read_json(tmp_path / "nope.json") is None
    assert checkpoint.read_json(tmp_path / "nope.json", {"x": 1}) == {"x": 1}


def test_overwrite_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    for n in range(3):
        checkpoint.write_json(path, {"n": n})
    assert checkpoint.read_json(path) == {"n": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["agent.json"]


def test_unserializable_value_keeps_the_old_content(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    checkpoint.write_json(path, {"n": 1})
    with pytest.raises(TypeError):
        checkpoint.write_json(path, {"n": object()})
    assert checkpoint.read_json(path) == {"n": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["agent.json"]


def test_corrupt_file_raises_value_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "agent.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="agent.json"):
        checkpoint.read_json(path)


def test_remove_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    checkpoint.write_json(path, [])
    checkpoint.remove(path)
    checkpoint.remove(path)
    assert not path.exists()
