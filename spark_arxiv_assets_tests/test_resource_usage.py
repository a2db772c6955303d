"""What every asset reports about its cost: the peak of this process since the stretch began (not
since the process began), the peak of the whole process tree (children such as Spark's JVM count),
and a nested meter that does not rob the outer one of its peak."""
import subprocess
import sys

import numpy as np

from spark_arxiv_assets.core.resource_usage import UsageMeter, peak_rss_mb

MB = 2**20


def _touch(megabytes: int) -> np.ndarray:
    block = np.ones(megabytes * MB, dtype=np.uint8)  # written, so resident
    return block


def test_the_process_peak_counts_from_the_start_of_the_stretch():
    block = _touch(300)
    del block  # the process's all-time peak is now ≥ 300 MB above where it stands
    with UsageMeter() as meter:
        small = _touch(40)
        usage = meter.usage()
    del small
    assert usage.peak_process_mb < peak_rss_mb() + 150  # the earlier 300 MB does not count
    assert usage.seconds > 0 and usage.peak_tree_mb >= usage.peak_process_mb


def test_a_nested_meter_does_not_hide_the_outer_peak():
    with UsageMeter() as outer:
        block = _touch(250)
        high = peak_rss_mb()
        del block
        with UsageMeter() as inner:  # resets the kernel's count
            pass
        assert inner.usage().peak_process_mb < high - 150
        assert outer.usage().peak_process_mb >= high - 5  # the kernel syncs per-thread RSS counts lazily


def test_a_child_process_counts_in_the_tree_peak():
    child_code = "import numpy as np, sys, time; b = np.ones(200 * 2**20, dtype=np.uint8); print('ready', flush=True); time.sleep(3)"
    with UsageMeter(sample_every_s=0.05) as meter:
        child = subprocess.Popen([sys.executable, "-c", child_code], stdout=subprocess.PIPE, text=True,
                                 start_new_session=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            subprocess.run(["sleep", "0.5"], check=True)  # a few samples while the child holds its memory
        finally:
            child.kill()
            child.wait(timeout=30)
        usage = meter.usage()
    assert usage.peak_tree_mb >= usage.peak_process_mb + 150
    assert set(usage.metadata()) >= {"wall_seconds", "peak_memory_mb", "peak_memory_with_children_mb"}
