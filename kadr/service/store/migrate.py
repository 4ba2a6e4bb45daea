"""Bring an older store's tables up to the schema: ``create_all`` makes missing tables, not missing columns.

Only nullable columns are ever added this way (no default to backfill, nothing to rewrite), so a store
made by an older kadr opens with a newer one; a missing column that is not nullable is an error naming it.
"""

from __future__ import annotations

import logging

from sqlalchemy import MetaData, inspect
from sqlalchemy.engine import Engine

log = logging.getLogger("kadr.service.store")


def add_missing_columns(engine: Engine, metadata: MetaData) -> list[str]:
    """``ALTER TABLE … ADD COLUMN`` for each nullable column of ``metadata`` its table lacks; returns "table.column"s."""
    inspector = inspect(engine)
    present = set(inspector.get_table_names())
    added: list[str] = []
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if table.name not in present:
                continue  # create_all has just made it whole
            have = {column["name"] for column in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in have:
                    continue
                if not column.nullable:
                    raise RuntimeError(f"the store's table {table.name} lacks the column {column.name}, which cannot "
                                       "be added to existing rows; upgrade the store by hand")
                kind = column.type.compile(dialect=engine.dialect)
                preparer = engine.dialect.identifier_preparer
                conn.exec_driver_sql(f"ALTER TABLE {preparer.quote(table.name)} ADD COLUMN "
                                     f"{preparer.quote(column.name)} {kind}")
                added.append(f"{table.name}.{column.name}")
    if added:
        log.info("store: added columns %s", ", ".join(added))
    return added
