"""Command line: `arxiv-assets demo` materializes everything on the bundled sample."""
from __future__ import annotations

import argparse
import os
import sys
import time

from .settings import data_dir


def run_demo(_: argparse.Namespace) -> int:
    from dagster import DagsterInstance, materialize

    from .definitions import all_assets, all_checks, build_resources

    instance = DagsterInstance.get() if os.environ.get("DAGSTER_HOME") else DagsterInstance.ephemeral()
    started = time.perf_counter()
    result = materialize([*all_assets, *all_checks], resources=build_resources(), instance=instance,
                         raise_on_error=False)
    seconds = time.perf_counter() - started
    print()
    failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
    for event in result.get_asset_materialization_events():
        print(f"  materialized {event.asset_key.to_user_string()}")
    for evaluation in failed_checks:
        print(f"  check failed: {evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    print(f"\n{'Success' if result.success else 'FAILED'} in {seconds:.0f}s. Outputs under {data_dir()}")
    print("Open the Dagster UI:  make dev   ->  http://127.0.0.1:3000 (runs, lineage, metadata, checks)")
    return 0 if result.success and not failed_checks else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arxiv-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="materialize every asset on the bundled sample").set_defaults(func=run_demo)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
