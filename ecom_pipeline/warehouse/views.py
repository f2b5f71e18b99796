"""The analytics views: one file per view in `sql/views/`, named after the view it creates.

The file is the only place a view is listed: bootstrap runs every file found here, the report reads whichever
views these are, and asset lineage names them from `ANALYTICS_VIEWS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ecom_pipeline.settings import REPO_ROOT

VIEWS_DIR = REPO_ROOT / "sql" / "views"


@dataclass(frozen=True)
class AnalyticsView:
    """One view: its name (`vw_kpis`) and its file, relative to `sql/` (`views/vw_kpis.sql`)."""

    name: str
    file: str


# In file-name order; the views read only `orders`, never each other, so any order creates them.
ANALYTICS_VIEWS: tuple[AnalyticsView, ...] = tuple(
    AnalyticsView(name=path.stem, file=f"views/{path.name}") for path in sorted(VIEWS_DIR.glob("vw_*.sql"))
)
