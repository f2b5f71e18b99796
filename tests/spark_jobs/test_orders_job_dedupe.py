"""The dedupe policy's transforms, each on a tiny DataFrame: the landing order, and 'the copy landed last wins'."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from spark_jobs.orders import dedupe

READ_ORDER = "source_part int, source_position long"


def records(spark: SparkSession, rows: list[tuple[object, ...]], columns: str) -> DataFrame:
    """Rows with the read-order columns last, as the reads give them."""
    return spark.createDataFrame(rows, f"{columns}, {READ_ORDER}")


def test_with_source_order_follows_the_manifests_part_list_then_the_line_order(
    spark: SparkSession, tmp_path: Path
) -> None:
    # A part reused from an older run's folder is listed after the newer one, although its path sorts first.
    newer, reused = tmp_path / "run_id=r2" / "part-00000.jsonl", tmp_path / "run_id=r0" / "part-00001.jsonl"
    for part, ids in ((newer, (30, 10)), (reused, (20, 40))):
        part.parent.mkdir()
        part.write_text("".join(f'{{"id": {record_id}}}\n' for record_id in ids))
    manifest_order = [str(newer), str(reused)]

    read = spark.read.json(manifest_order, schema="id long").transform(dedupe.with_source_order(manifest_order))

    by_part: dict[int, list[tuple[int, int]]] = {}
    for row in read.collect():
        by_part.setdefault(row.source_part, []).append((row.source_position, row.id))
    assert {part: [record_id for _, record_id in sorted(found)] for part, found in by_part.items()} == {
        0: [30, 10],  # the first part listed, in line order
        1: [20, 40],
    }


def test_filter_latest_by_keeps_the_copy_landed_last_and_drops_null_keys(spark: SparkSession) -> None:
    products = records(
        spark,
        [(1, "first", 0, 0), (1, "later line", 0, 5), (1, "later part", 1, 0), (2, "only", 0, 1), (None, "x", 1, 1)],
        "id long, title string",
    )
    latest = products.transform(dedupe.filter_latest_by("id"))
    assert sorted((row.id, row.title) for row in latest.collect()) == [(1, "later part"), (2, "only")]


def test_filter_latest_records_searches_only_when_the_landing_proved_nothing(spark: SparkSession) -> None:
    users = records(spark, [(1, "a", 0, 0), (1, "b", 0, 1), (None, "c", 0, 2)], "id long, name string")
    searched = users.transform(dedupe.filter_latest_records(ids_unique=False))
    trusted = users.transform(dedupe.filter_latest_records(ids_unique=True))
    assert [(row.id, row.name) for row in searched.collect()] == [(1, "b")]
    # Proved unique by the landing: nothing to search (a repeated id here would be the landing's bug).
    assert sorted((row.id, row.name) for row in trusted.collect()) == [(1, "a"), (1, "b")]


CARTS = [(8, 0, 7), (8, 0, 8), (8, 1, 0), (9, 0, 1), (None, 0, 2), (None, 0, 3)]  # (id, part, position)


def test_latest_copies_lists_only_repeated_cart_ids_with_their_latest_record(spark: SparkSession) -> None:
    carts = spark.createDataFrame(CARTS, f"id long, {READ_ORDER}")
    copies = dedupe.latest_copies(carts)
    assert [(row.cart_id, tuple(row._latest_copy)) for row in copies.collect()] == [(8, (1, 0))]


def test_with_duplicate_flag_marks_every_line_of_the_older_copies(spark: SparkSession) -> None:
    carts = spark.createDataFrame(CARTS, f"id long, {READ_ORDER}")
    # Lines: the three copies of cart 8 (the latest with two lines), cart 9, and a cart without an id.
    lines = spark.createDataFrame(
        [(8, 0, 7, 0), (8, 0, 8, 0), (8, 1, 0, 0), (8, 1, 0, 1), (9, 0, 1, 0), (None, 0, 2, 0)],
        f"cart_id long, {READ_ORDER}, line_position int",
    )

    flagged = lines.transform(dedupe.with_duplicate_flag(dedupe.latest_copies(carts)))
    trusted = lines.transform(dedupe.with_duplicate_flag(None))  # the landing proved the cart ids unique

    def flags(frame: DataFrame) -> list[tuple[object, ...]]:
        rows = frame.select("cart_id", "source_part", "source_position", "line_position", "is_duplicate").collect()
        return sorted((tuple(row) for row in rows), key=lambda row: (row[0] or 0, row[1:4]))

    assert flags(flagged) == [
        (None, 0, 2, 0, False),  # no id: never a duplicate (quarantined as null_key)
        (8, 0, 7, 0, True),
        (8, 0, 8, 0, True),
        (8, 1, 0, 0, False),  # the copy landed last, every line of it
        (8, 1, 0, 1, False),
        (9, 0, 1, 0, False),
    ]
    assert {row.is_duplicate for row in trusted.collect()} == {False}
    assert trusted.count() == lines.count()
