"""Credentials: for each value the environment wins, then the Prefect block, then the Secrets Manager secret."""
