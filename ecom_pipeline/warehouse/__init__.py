"""The warehouse stage: Snowflake setup SQL, the exactly-once loader, the analytics report."""
