"""Command line: `arxiv-assets demo` materializes everything on the bundled sample."""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import get_args

from .core.defaults import ANSWER_MAX_NEW_TOKENS, DEFAULT_DENSE_WEIGHT, DEFAULT_FUSION, PASSAGES_K, Fusion, Mode
from .settings import storage_uri


def run_demo(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from .definitions import all_assets, all_checks, build_resources
    from .months_run import materialize_months

    home = os.environ.get("DAGSTER_HOME")
    if home:
        os.makedirs(home, exist_ok=True)  # Dagster refuses a DAGSTER_HOME that does not exist yet
    instance = DagsterInstance.get() if home else DagsterInstance.ephemeral()
    started = time.perf_counter()
    run_config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}  # progress lines, not engine events
    if args.config:
        import yaml

        run_config.update(yaml.safe_load(Path(args.config).read_text()) or {})
    # Every month in one run, as the UI's "Materialize all" backfill does; months without papers are
    # materialized empty, so a later backfill of "missing" months has nothing to redo.
    result = materialize_months([*all_assets, *all_checks], resources=build_resources(), instance=instance,
                                raise_on_error=False, run_config=run_config)
    seconds = time.perf_counter() - started
    lines, status = demo_report(result, seconds)
    print("\n" + "\n".join([served_line(), *lines]))
    return status


def served_line() -> str:
    """Which model the chat serves after the run, and the evaluation's reason."""
    from .storage.adapter_store import served_decision

    decided = served_decision(storage_uri())
    if decided is None:
        return "Chat model: the base model (no evaluation has promoted an adapter)."
    served = f"adapter {decided['served']}" if decided["served"] else "the base model"
    verdict = "promoted" if decided["decision"]["promoted"] else "the new adapter was not promoted"
    return f"Chat model: {served} ({verdict}: {decided['decision']['reason']})."


def demo_report(result, seconds: float) -> tuple[list[str], int]:
    """What the demo prints after its run, and its exit status. The verdict is the last line and
    agrees with the status: a failed blocking (ERROR) check fails the demo as a failed step does."""
    from dagster import AssetCheckSeverity

    failed_checks = [e for e in result.get_asset_check_evaluations() if not e.passed]
    blocking = [e for e in failed_checks if e.severity == AssetCheckSeverity.ERROR]
    months: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        months[event.asset_key.to_user_string()] = months.get(event.asset_key.to_user_string(), 0) + 1
    lines = [f"  materialized {asset}" + (f" ({count} months)" if count > 1 else "") for asset, count in months.items()]
    for evaluation in failed_checks:
        level = "failed" if evaluation.severity == AssetCheckSeverity.ERROR else "warning"
        lines.append(f"  check {level}: {evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    if not result.success:
        verdict = "FAILED (a step failed)"
    elif blocking:
        verdict = f"FAILED ({len(blocking)} blocking check{'s' if len(blocking) > 1 else ''} failed)"
    else:
        verdict = "Success"
    lines += ["", f"Outputs under {storage_uri()}",
              "Open the Dagster UI:  make dev   ->  http://127.0.0.1:3000 (runs, lineage, metadata, checks)",
              'Search the papers:    .venv/bin/arxiv-assets query "how does reciprocal rank fusion work?"',
              "Chat with citations:  make chat  ->  http://127.0.0.1:7860",
              f"{verdict} in {seconds:.0f}s."]
    return lines, 0 if result.success and not blocking else 1


def run_query(args: argparse.Namespace) -> int:
    from .app.engine import arxiv_link, latest_retriever

    try:
        retriever = latest_retriever(fusion=args.fusion, dense_weight=args.dense_weight)
    except FileNotFoundError as exc:
        raise SystemExit(str(exc)) from None
    for rank, hit in enumerate(retriever.search(args.question, k=args.k, mode=args.mode), start=1):
        link = arxiv_link(hit.paper_id)
        print(f"{rank}. {hit.citation()}  (score {hit.score:.3f}{', ' + link if link else ''})")
        print(f"   {hit.text[:300]}{'…' if len(hit.text) > 300 else ''}")
    return 0


def run_chat(args: argparse.Namespace) -> int:
    from .app.ui import launch

    launch(host=args.host, port=args.port, max_new_tokens=args.max_new_tokens, base_model=args.base_model,
           device=args.device)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arxiv-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="materialize every asset, every month, in one run "
                                            "(default: the bundled sample)")
    demo.add_argument("-c", "--config", help="a Dagster run config YAML, e.g. examples/shared_corpora.yaml")
    demo.set_defaults(func=run_demo)
    query = commands.add_parser("query", help="search the latest index and print cited passages")
    query.add_argument("question")
    query.add_argument("-k", type=int, default=PASSAGES_K, help="passages to show (default: as many as the chat uses)")
    query.add_argument("--mode", choices=get_args(Mode), default="hybrid")
    query.add_argument("--fusion", choices=get_args(Fusion), default=DEFAULT_FUSION, help="how hybrid merges the two lists")
    query.add_argument("--dense-weight", type=float, default=DEFAULT_DENSE_WEIGHT, help="dense share of a convex hybrid score")
    query.set_defaults(func=run_query)
    chat = commands.add_parser("chat", help="start the Gradio chat on the latest index and adapter")
    chat.add_argument("--host", default="127.0.0.1", help="bind address (default: only this machine)")
    chat.add_argument("--port", type=int, default=7860)
    chat.add_argument("--max-new-tokens", type=int, default=ANSWER_MAX_NEW_TOKENS)
    chat.add_argument("--base-model", default=None, help="override the adapter's base model (HF id or path)")
    chat.add_argument("--device", default="auto",
                      help="auto (CUDA when there is one, the base in 4 bits as the adapter was trained) | cpu | cuda[:n]")
    chat.set_defaults(func=run_chat)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
