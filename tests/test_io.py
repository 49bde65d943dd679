"""Atomic writes: all or nothing, and outputs readable like any file the user creates (umask applied)."""
import os
import stat

import pytest

from utils.io import atomic_open, write_text_atomic


def test_written_file_has_the_usual_permissions(tmp_path):
    write_text_atomic(tmp_path / "out.txt", "text")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) == 0o666 & ~umask


def test_a_failure_midway_leaves_the_old_file_and_no_temporary(tmp_path):
    write_text_atomic(tmp_path / "out.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_open(tmp_path / "out.txt") as handle:
            handle.write("half of the new")
            raise RuntimeError("killed")
    assert (tmp_path / "out.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
