"""A real S3 API on 127.0.0.1: moto in server mode, as its own process group, reaped afterwards.

S3 settings reach every client (this process, Spark's executors, a killed writer) the way they
reach them in production: the standard AWS environment variables."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..processes import reaped_process, wait_for_text
from .loopback import free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@contextmanager
def moto_s3(log_path: Path) -> Iterator[dict[str, str]]:
    """Starts the server; yields the environment variables that point clients at it."""
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    env = {**os.environ, **CREDENTIALS}
    with reaped_process([str(moto), "-H", "127.0.0.1", "-p", str(port)], log_path, env=env) as proc:
        wait_for_text(log_path, f"Running on http://127.0.0.1:{port}", 60, proc)
        yield {**CREDENTIALS, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}


def forget_s3_clients() -> None:
    """fsspec caches S3 filesystems (and their endpoint) per process; a new server needs new ones."""
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()


def make_bucket(name: str) -> str:
    import s3fs

    s3fs.S3FileSystem().mkdir(name)
    return f"s3://{name}"
