"""`python -m ecom_cli` = the `ecom-pipeline` command."""

from ecom_cli.app import main

main()
