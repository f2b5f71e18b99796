"""The local adapter's statement table and its MERGE rewrite (pure functions)."""

from __future__ import annotations

from ecom_pipeline.warehouse.emulator_adapter import EMULATOR_GAPS, adapt, gaps_markdown


def test_adapter_skips_what_the_emulator_cannot_parse() -> None:
    for sql in (
        "create warehouse if not exists WH warehouse_size = 'XSMALL'",
        "CREATE  ROLE if not exists R",
        "grant usage on database D to role R",
        "create storage integration if not exists I type = external_stage",
    ):
        adapted = adapt(sql)
        assert adapted.skipped and adapted.gap is not None, sql


def test_adapter_passes_other_statements_through() -> None:
    sql = "create or replace view D.S.v as select 1 as x"
    assert adapt(sql).statements == (sql,)
    assert adapt(sql).gap is None


def test_merge_becomes_count_update_insert() -> None:
    adapted = adapt(
        "merge into D.S.orders as target using (select order_id, revenue from D.S.staging) as staged "
        "on target.order_id = staged.order_id "
        "when matched then update set revenue = staged.revenue "
        "when not matched then insert (order_id, revenue) values (staged.order_id, staged.revenue)"
    )
    inserted, updated, update, insert = adapted.statements
    assert adapted.merge_counts == (0, 1)
    assert "where not exists" in inserted.lower() and "where exists" in updated.lower()
    assert update.lower().startswith("update d.s.orders as target set revenue = staged.revenue from (")
    assert insert.lower().startswith("insert into d.s.orders (order_id, revenue) select staged.order_id")


def test_gaps_markdown_lists_every_gap_with_its_reason() -> None:
    markdown = gaps_markdown()
    assert markdown.count("\n") == len(EMULATOR_GAPS) + 1
    for gap in EMULATOR_GAPS:
        assert f"| `{gap.statement}` | {gap.action} | {gap.reason} |" in markdown
