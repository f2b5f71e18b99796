"""The orders job (Glue 4 / PySpark): raw DummyJSON carts, products and users -> curated orders, one row per cart line.

A small package, shipped to Glue as `--extra-py-files` (a zip of `spark_jobs/`) beside the entry script
`spark_jobs/orders_job.py`; spark-submit gets the same zip as `--py-files`. It imports only pyspark, the standard
library and, inside Glue, awsglue, and only APIs that exist in Spark 3.3 and Python 3.10 (Glue 4.0).

Layers, after MrPowers' spark-style-guide: `columns` (Column -> Column), `dedupe` and `transforms`
(DataFrame -> DataFrame: `explode_*` makes rows, `with_*` adds columns, `filter_*` drops rows), and `job`, whose
`run(spark, args)` reads, chains `.transform(...)` and writes, and whose `main()` parses the arguments, builds the
session and calls `run`. `schema` holds the read schemas and the curated contract, `args` the arguments and the
business defaults, `io` the reads and writes, `outcome` the run summary and its balance check. Contract:
docs/architecture.md.
"""
