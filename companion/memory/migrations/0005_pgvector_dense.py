"""pgvector for the dense stage, only where the database can have it (``companion/memory/dense_pgvector.py``).

On PostgreSQL whose server offers the ``vector`` extension (and lets this role create it),
``memory_memory`` gets ``embedding_vector vector(384)``: a *stored generated column* computed from
``embedding`` (the little-endian float32 bytes every writer already sets), so every write path
(save, bulk_create, update(), raw SQL, an import) keeps it current without knowing about it, a delete
takes it with the row, and an HNSW index (cosine) over it. It is not a model field: the model, and
every other database, stay as they were. Elsewhere (SQLite; PostgreSQL without the extension, e.g.
Debian's postgresql-15 with no postgresql-15-pgvector; a role that may not create it) this migration
does nothing and retrieval keeps the in-process numpy scan.

pgvector installed after this ran: ``manage.py migrate memory 0004 && manage.py migrate memory``.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, migrations, transaction

log = logging.getLogger(__name__)

TABLE = "memory_memory"
COLUMN = "embedding_vector"
INDEX = "memory_embedding_hnsw"
FUNCTION = "memory_embedding_vector"
DIM = 384  # companion.memory.embeddings.DIM (MiniLM); a vector of another length gets NULL

# bytea (DIM little-endian IEEE float32) -> vector, exact (subnormals included). IMMUTABLE so a
# generated column may use it; NULL for a missing vector or one of another model's length.
DECODE = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}(b bytea) RETURNS vector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT CASE WHEN length(b) = {DIM * 4} THEN (
    SELECT array_agg(
      CASE WHEN e = 0 THEN m * 2.0::float8 ^ -149 ELSE (8388608 + m) * 2.0::float8 ^ (e - 150) END
      * (1 - 2 * s) ORDER BY i)::vector({DIM})
    FROM (SELECT i, (w >> 31) & 1 AS s, (w >> 23) & 255 AS e, w & 8388607 AS m
          FROM (SELECT i, get_byte(b, 4 * i)::int8 | (get_byte(b, 4 * i + 1)::int8 << 8)
                       | (get_byte(b, 4 * i + 2)::int8 << 16) | (get_byte(b, 4 * i + 3)::int8 << 24) AS w
                FROM generate_series(0, {DIM - 1}) AS i) AS words) AS parts)
  END
$$
"""


def _extension_ready(connection) -> bool:
    """The ``vector`` extension is installed here, or offered by the server and created now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'")
        if cursor.fetchone():
            return True
        cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")
        if not cursor.fetchone():
            log.info("memory: no pgvector on this PostgreSQL server; the dense stage stays in numpy")
            return False
    try:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except DatabaseError as exc:  # e.g. not allowed to create extensions: run without it
        log.warning("memory: could not create the vector extension (%s); the dense stage stays in numpy", exc)
        return False
    return True


def forward(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql" or not _extension_ready(connection):
        return
    # STORAGE MAIN keeps the vector in the row (vector's default, EXTERNAL, moves it out of line,
    # which made an exact scan of 18,000 rows 4x slower); inline syntax from PostgreSQL 16.
    inline_storage = " STORAGE MAIN" if connection.pg_version >= 160000 else ""
    with connection.cursor() as cursor:
        cursor.execute(DECODE)
        cursor.execute(
            f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS {COLUMN} vector({DIM}){inline_storage} "
            f"GENERATED ALWAYS AS ({FUNCTION}(embedding)) STORED"
        )
        if not inline_storage:
            cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN {COLUMN} SET STORAGE MAIN")
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON {TABLE} USING hnsw ({COLUMN} vector_cosine_ops)")


def backward(apps, schema_editor) -> None:
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")
        cursor.execute(f"ALTER TABLE {TABLE} DROP COLUMN IF EXISTS {COLUMN}")
        cursor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}(bytea)")


class Migration(migrations.Migration):
    dependencies = [
        ("memory", "0004_episode_per_persona"),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
    ]
