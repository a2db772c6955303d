"""A run killed mid-write (SIGKILL) leaves the previous artifact readable and whole."""
import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from spark_arxiv_assets.io_managers.atomic import VersionedDir, atomic_write
from spark_arxiv_assets.io_managers.tables import read_table, write_table

from .processes import reap_tree

KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from spark_arxiv_assets.io_managers.atomic import atomic_write, VersionedDir

    def slow_file(tmp):
        with open(tmp, "wb") as f:
            f.write(b"PAR1 half of a new table")
            f.flush()
            print("writing", flush=True)
            time.sleep(60)

    def slow_dir(tmp):
        (tmp / "part").write_text("half")
        print("writing", flush=True)
        time.sleep(60)

    if sys.argv[1] == "file":
        atomic_write(Path(sys.argv[2]), slow_file)
    else:
        VersionedDir(Path(sys.argv[2])).write(slow_dir)
""")


def _kill_mid_write(kind: str, target) -> None:
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, kind, str(target)], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        reap_tree(proc.pid, pgid=proc.pid, direct=proc)
        proc.stdout.close()


def test_killed_table_write_keeps_previous_table(tmp_path):
    path = tmp_path / "paper_chunks.parquet"
    write_table(pd.DataFrame({"a": [1, 2, 3]}), path)
    _kill_mid_write("file", path)
    assert read_table(path)["a"].tolist() == [1, 2, 3]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # the orphan temp file exists...
    write_table(pd.DataFrame({"a": [4]}), path)  # ...and a later write still succeeds
    assert read_table(path)["a"].tolist() == [4]


def test_killed_directory_write_keeps_previous_version(tmp_path):
    store = VersionedDir(tmp_path / "index")
    first = store.write(lambda d: (d / "part").write_text("complete"))
    _kill_mid_write("dir", tmp_path / "index")
    assert store.current() == first and (first / "part").read_text() == "complete"


def test_failed_writer_leaves_nothing_behind(tmp_path):
    def broken(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "x.parquet", broken)
    assert list(tmp_path.iterdir()) == []


def test_versioned_dir_keeps_only_recent_versions(tmp_path):
    store = VersionedDir(tmp_path / "idx", keep=2)
    for i in range(4):
        latest = store.write(lambda d, i=i: (d / "n").write_text(str(i)))
    assert (store.current() / "n").read_text() == "3" and store.current() == latest
    assert len([p for p in (tmp_path / "idx" / "versions").iterdir() if not p.name.startswith(".")]) == 2
