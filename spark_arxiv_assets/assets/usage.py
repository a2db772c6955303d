"""Every asset reports its wall time and peak memory (this process, the process tree with Spark's
JVM and workers, and the GPU where one is used) in its materialization's metadata, and hands the
memory it freed back to the operating system when it ends, so the next stage starts lean."""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import gc
import inspect
from typing import Callable

from dagster import Output

from ..core.resource_usage import UsageMeter


def _with_usage(event, meter: UsageMeter):
    """An Output gains the usage measured so far; anything else (check results) passes as it is."""
    if isinstance(event, Output):
        return event.with_metadata({**event.metadata, **meter.usage().metadata()})
    return event


def release_freed_memory() -> None:
    """Collects garbage, then asks glibc to return free heap pages: without it a stage's freed
    tensors stay in the process's resident memory for the rest of the run."""
    gc.collect()
    library = ctypes.util.find_library("c")
    if library:
        try:
            ctypes.CDLL(library).malloc_trim(0)
        except (OSError, AttributeError):  # not glibc
            pass


def reports_usage(fn: Callable) -> Callable:
    """Wraps an asset's compute function (below `@asset`): its signature, and so its config and
    resources, are the function's own."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                with UsageMeter() as meter:
                    for event in fn(*args, **kwargs):
                        yield _with_usage(event, meter)
            finally:
                release_freed_memory()
        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        try:
            with UsageMeter() as meter:
                return _with_usage(fn(*args, **kwargs), meter)
        finally:
            release_freed_memory()
    return function
