"""spark_arxiv_assets: Dagster assets from arXiv papers to a domain-expert assistant."""
