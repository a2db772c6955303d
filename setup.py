"""Package definition. Exact pins live here; `requirements.lock` pins the whole tree."""
from setuptools import find_packages, setup

setup(
    name="spark_arxiv_assets",
    version="0.1.0",
    description="Dagster assets that turn arXiv papers into a searchable, fine-tuned domain assistant",
    python_requires=">=3.11,<3.13",
    packages=find_packages(exclude=["spark_arxiv_assets_tests"]),
    package_data={"spark_arxiv_assets": ["sample/*.md", "sample/*.json"]},
    install_requires=[
        # dagster-pyspark 0.29.27 only imports with dagster 1.13.27: pin all four together.
        "dagster==1.13.27",
        "dagster-webserver==1.13.27",
        "dagster-pyspark==0.29.27",
        "dagster-spark==0.29.27",
        "pyspark==4.3.0",
        "torch>=2.13,<=2.14.1",
        "transformers==5.24.0",
        "peft==0.21.2",
        "trl==1.16.0",
        "bitsandbytes==0.50.2",
        "sentence-transformers==6.2.0",
        "faiss-cpu==1.15.1",
        "bm25s==0.3.16",
        "PyStemmer==3.1.0",  # BM25's Snowball stemming; indexes and queries must agree on it
        "pymupdf==2.0",
        "rapidocr-onnxruntime==1.4.4",
        "langchain-text-splitters==1.1.3",
        "gradio==6.31.0",
        "kaggle==2.2.5",
        "gguf==0.19.0",
        "datasets==5.2.0",
        "pyarrow==26.0.1",
        "deltalake==1.6.6",  # the paper catalog and per-paper tables: Delta (delta-rs, no JVM), MERGE and conditional writes
        "universal_pathlib==0.3.10",  # artifacts by URI (fsspec): a folder, s3://, gs://, abfs://
        "s3fs==2026.9.0",
        "pandas==3.1.1",
        "requests==2.34.2",
        "matplotlib==3.11.2",
        "tqdm==4.70.1",
    ],
    extras_require={
        "test": ["pytest==9.2.0", "pytest-timeout==2.4.0", "gradio_client==2.7.2", "selenium==4.51.0",
                 "moto[server]==5.2.5"],  # a real S3 API on 127.0.0.1 for the object-storage tests
    },
    entry_points={
        "console_scripts": [
            "arxiv-assets=spark_arxiv_assets.cli:main",
        ],
    },
)
