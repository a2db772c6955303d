"""Dagster resources: Spark, the arXiv and Kaggle clients, models."""
