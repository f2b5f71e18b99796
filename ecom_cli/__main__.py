"""`python -m ecom_pipeline` = the `ecom-pipeline` command."""

from ecom_pipeline.cli import main

main()
