"""Entry script of the orders job, the file Glue runs (ScriptLocation) and spark-submit is given.

The code is the `spark_jobs` package, which arrives beside this file as a zip: Glue puts `--extra-py-files` on
the Python path, spark-submit `--py-files` (ecom_pipeline/transform/job_package.py builds and ships it).
"""

import sys

from spark_jobs.orders.job import main

if __name__ == "__main__":
    sys.exit(main())
