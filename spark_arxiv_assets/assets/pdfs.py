"""`arxiv_pdfs`: one PDF per selected paper, or a recorded reason why not."""

import time
from pathlib import Path
from typing import Callable, Literal

import pandas as pd
from dagster import AssetCheckResult, AssetCheckSpec, AssetExecutionContext, Config, MetadataValue, Output, asset

from ..core.arxiv_ids import InvalidArxivId, parse_arxiv_id, safe_name
from ..core.pdf_validation import pdf_file_problem
from ..core.previews import counts_table, markdown_table
from ..core.progress import Progress
from ..io_managers.paper_tables import PaperRows
from ..resources.arxiv import ArxivClient, DownloadResult, download_path, file_sha256
from ..resources.storage import ArtifactStorage
from ..settings import data_dir
from ..storage.uris import children
from .partitions import MONTHS, ONE_RUN, add_month_metadata
from .usage import reports_usage

PDF_COLUMNS = ["paper_id", "month", "version", "pdf_path", "status", "error", "n_bytes", "sha256", "attempts"]


def _local_result(path: Path) -> DownloadResult:
    problem = pdf_file_problem(path)
    if problem:
        return DownloadResult("failed", str(path) if path.exists() else None, problem)
    return DownloadResult("local", str(path), n_bytes=path.stat().st_size, sha256=file_sha256(path))


class _RemotePdfs:
    """Each PDF in the remote store, uploaded once per content: Spark executors on other hosts read
    it from there, not from this machine's disk. What a month already holds is listed once."""

    def __init__(self, storage: ArtifactStorage) -> None:
        self.storage, self.uploaded = storage, 0
        self._stored: dict[str, set[str]] = {}

    def uri(self, month: str, paper_id: str, result: DownloadResult) -> str:
        target = self.storage.path("pdfs", month, f"{safe_name(paper_id)}-{result.sha256[:16]}.pdf")
        if month not in self._stored:
            self._stored[month] = {p.name for p in children(self.storage.path("pdfs", month))}
        if target.name not in self._stored[month]:
            target.fs.put_file(result.path, target.path)
            self._stored[month].add(target.name)
            self.uploaded += 1
        return str(target)


def _find_in_folder(folder: Path, paper_id: str, version: int | None) -> Path | None:
    """The file of the catalog's version, else the newest versioned file, else the unversioned name."""
    name = safe_name(paper_id)
    if version is not None and (folder / f"{name}v{version}.pdf").exists():
        return folder / f"{name}v{version}.pdf"
    versions = {int(p.stem[len(name) + 1:]): p for p in folder.glob(f"{name}v*.pdf") if p.stem[len(name) + 1:].isdigit()}
    if versions:
        return versions[max(versions)]
    plain = folder / f"{name}.pdf"
    return plain if plain.exists() else None


def _has_arxiv_id(paper_id: str) -> bool:
    try:
        parse_arxiv_id(paper_id)
        return True
    except InvalidArxivId:
        return False


def _from_arxiv(paper, arxiv: ArxivClient, download_dir: Path) -> DownloadResult:
    try:
        arxiv_id = parse_arxiv_id(paper.paper_id)
    except InvalidArxivId as exc:
        return DownloadResult("failed", None, f"{exc}: not on arXiv, and no local file")
    if pd.notna(paper.version) and arxiv_id.version is None:
        arxiv_id = parse_arxiv_id(f"{arxiv_id.base}v{int(paper.version)}")
    return arxiv.download_pdf(arxiv_id, download_path(download_dir, arxiv_id))


def _folder_first(paper, config: "PdfsConfig", arxiv: ArxivClient, download_dir: Path) -> DownloadResult | None:
    if not config.folder:
        raise ValueError("source='folder' needs `folder`")
    found = _find_in_folder(Path(config.folder), paper.paper_id, int(paper.version) if pd.notna(paper.version) else None)
    return _local_result(found) if found is not None else None


def _arxiv_first(paper, config: "PdfsConfig", arxiv: ArxivClient, download_dir: Path) -> DownloadResult | None:
    return _from_arxiv(paper, arxiv, download_dir) if _has_arxiv_id(paper.paper_id) else None


# Where a run looks first (None: not there, go on): a new PDF source is a function and an entry here.
# Every paper then falls back to its own file (from the catalog), then to arXiv.
FIRST_PLACES: dict[str, Callable[..., DownloadResult | None]] = {
    "auto": lambda paper, config, arxiv, download_dir: None,  # its own file, else arXiv
    "arxiv": _arxiv_first,  # a fresh download, for papers with an arXiv id
    "folder": _folder_first,  # `folder` first
}


class PdfsConfig(Config):
    source: Literal[tuple(FIRST_PLACES)] = "auto"  # type: ignore[valid-type]  # where to look first
    folder: str | None = None  # for "folder": looks for <id>v<N>.pdf or <id>.pdf (slash ids: '_')
    download_dir: str | None = None  # local; default: $SPARK_ARXIV_DATA_DIR/pdfs (uploaded when storage is remote)


def locate_pdf(paper, config: PdfsConfig, arxiv: ArxivClient, download_dir: Path) -> DownloadResult:
    """The configured place first, then the paper's own file, then arXiv: a run that names one
    place still finds the papers other sources added to its months."""
    first = FIRST_PLACES[config.source](paper, config, arxiv, download_dir)
    if first is not None:
        return first
    local = getattr(paper, "local_pdf", None)
    return _local_result(Path(local)) if isinstance(local, str) and local else _from_arxiv(paper, arxiv, download_dir)


@asset(group_name="ingest", io_manager_key="paper_table_io_manager", kinds={"http", "deltalake"},
       partitions_def=MONTHS, backfill_policy=ONE_RUN,
       check_specs=[AssetCheckSpec("every_paper_has_pdf_or_reason", asset="arxiv_pdfs",
                                   description="Every selected paper has a PDF or a recorded failure reason.")])
@reports_usage
def arxiv_pdfs(context: AssetExecutionContext, config: PdfsConfig, arxiv_metadata: pd.DataFrame, arxiv: ArxivClient,
               storage: ArtifactStorage):
    """Downloads (politely, resumably) or locates each paper's PDF; failures are rows, not crashes.
    With a remote store each PDF is uploaded there and `pdf_path` is its URI."""
    download_dir = Path(config.download_dir) if config.download_dir else data_dir() / "pdfs"
    progress = Progress("pdfs", len(arxiv_metadata), context.log.info, unit="papers")
    rows = []
    remote = None if storage.is_local else _RemotePdfs(storage)
    started = time.perf_counter()
    for paper in arxiv_metadata.itertuples(index=False):
        result = locate_pdf(paper, config, arxiv, download_dir)
        if result.status == "failed":
            context.log.warning(f"{paper.paper_id}: {result.error}")
        location = result.path
        if result.status != "failed" and remote is not None:
            location = remote.uri(paper.month, paper.paper_id, result)
        rows.append({"paper_id": paper.paper_id, "month": paper.month, "version": paper.version,
                     "pdf_path": location, "status": result.status,
                     "error": result.error, "n_bytes": result.n_bytes, "sha256": result.sha256,
                     "attempts": result.attempts})
        progress.advance()
    progress.finish()
    frame = pd.DataFrame(rows, columns=PDF_COLUMNS).astype({"version": "Int64"})
    failed = frame[frame["status"] == "failed"]
    seconds = time.perf_counter() - started
    add_month_metadata(context, "arxiv_pdfs", frame, lambda m: {
        "month_with_pdf": int((m["status"] != "failed").sum()), "month_failed": int((m["status"] == "failed").sum())})
    yield Output(PaperRows.of(frame, arxiv_metadata["paper_id"]), metadata={
        "papers": len(frame),
        "with_pdf": int((frame["status"] != "failed").sum()),
        "failed": len(failed),
        "status": MetadataValue.md(counts_table(frame["status"], "status")),
        "failures": MetadataValue.md(markdown_table(failed[["paper_id", "error"]], max_chars=120)),
        "megabytes": round(float(frame["n_bytes"].sum()) / 1e6, 2),
        "seconds": round(seconds, 2),
        "stored_in": storage.base_uri if remote is not None else "read in place (local store)",
        "uploaded_to_store": remote.uploaded if remote is not None else 0,
    })
    yield _every_paper_has_pdf_or_reason(frame, arxiv_metadata)


def _every_paper_has_pdf_or_reason(arxiv_pdfs: pd.DataFrame, arxiv_metadata: pd.DataFrame) -> AssetCheckResult:
    missing = sorted(set(arxiv_metadata["paper_id"]) - set(arxiv_pdfs["paper_id"]))
    failed = arxiv_pdfs[arxiv_pdfs["status"] == "failed"]
    unexplained = sorted(failed.loc[failed["error"].isna() | (failed["error"] == ""), "paper_id"])
    return AssetCheckResult(check_name="every_paper_has_pdf_or_reason", passed=not missing and not unexplained,
                            metadata={"missing": MetadataValue.json(missing[:50]),
                                      "failed_without_reason": MetadataValue.json(unexplained[:50])})
