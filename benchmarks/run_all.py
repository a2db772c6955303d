"""`make bench`: every benchmark, each writing its section of benchmarks/RESULTS.md."""
from . import (ann_recall, answer_decoding, cpu_lora_vs_qlora, extraction_isolation, extraction_quality, ocr_recall,
               partitions_incremental, retrieval_quality, scale_out, spark_throughput, teacher_batching, teacher_yield,
               training_throughput)

BENCHMARKS = [extraction_isolation, spark_throughput, scale_out, partitions_incremental, ocr_recall, extraction_quality,
              retrieval_quality,
              ann_recall, teacher_batching, teacher_yield, answer_decoding, cpu_lora_vs_qlora, training_throughput]

if __name__ == "__main__":
    for bench in BENCHMARKS:
        print(f"\n=== {bench.__name__}")
        bench.main()
