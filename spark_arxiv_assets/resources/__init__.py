"""Dagster resources: Spark, the arXiv and Kaggle clients, the embedder, the teacher, the artifact store."""
