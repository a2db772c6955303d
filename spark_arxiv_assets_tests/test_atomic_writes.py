"""A run killed mid-write (SIGKILL) leaves the previous artifact readable and whole, on a local
disk and in an object store (a real S3 API on 127.0.0.1)."""
import os
import signal
import subprocess
import sys
import textwrap

import pandas as pd
import pytest

from spark_arxiv_assets.storage.atomic import UPLOADED_MARKER, ConcurrentPublish, VersionedDir, atomic_write
from spark_arxiv_assets.storage.tables import read_table, write_table
from spark_arxiv_assets.storage.uris import as_upath, children

from .processes import reap_tree

KILLED_WRITER = textwrap.dedent("""
    import sys, time
    from spark_arxiv_assets.storage.atomic import atomic_write, VersionedDir

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

    def three_parts(tmp):
        for name in ("a", "b", "c"):
            (tmp / name).write_text("new")

    def stall_after_first_upload():
        \"\"\"The upload of a version is cut after its first object, as a killed run cuts it.\"\"\"
        import s3fs
        put_file, uploads = s3fs.S3FileSystem.put_file, []
        def slow_put(self, lpath, rpath, *args, **kwargs):
            put_file(self, lpath, rpath, *args, **kwargs)
            uploads.append(rpath)
            if len(uploads) == 1:
                print("writing", flush=True)
                time.sleep(60)
        s3fs.S3FileSystem.put_file = slow_put

    kind, target = sys.argv[1], sys.argv[2]
    if kind == "file":
        atomic_write(target, slow_file)
    elif kind == "dir":
        VersionedDir(target).write(slow_dir)
    else:
        stall_after_first_upload()
        VersionedDir(target).write(three_parts)
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


@pytest.fixture(params=["local", "s3"])
def store_root(request, tmp_path) -> str:
    """A folder, or a prefix in a bucket on a local S3 server."""
    if request.param == "local":
        return str(tmp_path)
    return f"{request.getfixturevalue('s3_store').uri}/artifacts"


def test_killed_table_write_keeps_previous_table(store_root):
    path = f"{store_root}/paper_chunks.parquet"
    write_table(pd.DataFrame({"a": [1, 2, 3]}), path)
    _kill_mid_write("file", path)
    assert read_table(path)["a"].tolist() == [1, 2, 3]
    write_table(pd.DataFrame({"a": [4]}), path)  # a later write still succeeds
    assert read_table(path)["a"].tolist() == [4]


def test_killed_directory_write_keeps_previous_version(store_root):
    store = VersionedDir(f"{store_root}/index")
    first = store.write(lambda d: (d / "part").write_text("complete"))
    _kill_mid_write("dir", f"{store_root}/index")
    assert store.current() == first and (first / "part").read_text() == "complete"


def test_upload_killed_halfway_is_never_current_and_not_counted_as_a_version(s3_store):
    root = f"{s3_store.uri}/index"
    store = VersionedDir(root, keep=2)
    first = store.write(lambda d: (d / "part").write_text("complete"))
    _kill_mid_write("s3dir", root)
    versions = {p.name: {c.name for c in children(p)} for p in children(as_upath(root) / "versions")}
    assert len(versions) == 2 and sorted(map(len, versions.values())) == [1, 2]  # a half upload, without marker
    assert store.current() == first and (first / "part").read_text() == "complete"
    second = store.write(lambda d: (d / "part").write_text("next"))
    assert store.current() == second
    kept = {p.name for p in children(as_upath(root) / "versions")}
    assert first.name in kept  # the half upload did not push the last whole version out
    assert all(UPLOADED_MARKER in {c.name for c in children(as_upath(root) / "versions" / n)} for n in
               (first.name, second.name))


def test_failed_writer_leaves_nothing_behind(tmp_path):
    def broken(tmp):
        tmp.write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "x.parquet", broken)
    assert list(tmp_path.iterdir()) == []


def test_versioned_dir_keeps_only_recent_versions(store_root):
    store = VersionedDir(f"{store_root}/idx", keep=2)
    for i in range(4):
        latest = store.write(lambda d, i=i: (d / "n").write_text(str(i)))
    assert (store.current() / "n").read_text() == "3" and store.current() == latest
    assert len([p for p in children(as_upath(f"{store_root}/idx") / "versions") if not p.name.startswith(".")]) == 2


def test_publishing_over_a_version_another_run_published_fails_instead_of_overwriting(store_root):
    """Two runs read version v1; the first to finish publishes; the other's publish is refused
    (compare-and-swap on CURRENT: a lock locally, a conditional PUT in S3) and its version removed."""
    store = VersionedDir(f"{store_root}/index", keep=3)
    v1 = store.write(lambda d: (d / "part").write_text("v1"), based_on=None).name
    winner = store.write(lambda d: (d / "part").write_text("run A"), based_on=v1).name
    with pytest.raises(ConcurrentPublish, match=f"version {winner} was published by another run"):
        store.write(lambda d: (d / "part").write_text("run B"), based_on=v1)
    with pytest.raises(ConcurrentPublish):
        store.write(lambda d: (d / "part").write_text("run C"), based_on=None)  # "there was none" no longer holds
    assert store.current_version_id() == winner and (store.current() / "part").read_text() == "run A"
    assert {p.name for p in children(as_upath(f"{store_root}/index") / "versions")} == {v1, winner}


def test_of_many_runs_publishing_over_one_version_exactly_one_wins(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    store = VersionedDir(tmp_path / "index", keep=10)
    base = store.write(lambda d: (d / "part").write_text("base"), based_on=None).name

    def publish(i: int) -> str:
        try:
            return store.write(lambda d: (d / "part").write_text(str(i)), based_on=base).name
        except ConcurrentPublish:
            return ""

    with ThreadPoolExecutor(max_workers=8) as pool:
        winners = [name for name in pool.map(publish, range(8)) if name]
    assert len(winners) == 1 and store.current_version_id() == winners[0]
