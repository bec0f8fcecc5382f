"""The dense stage's candidates from pgvector, where the database has it (else None: numpy does it).

``settings.MEMORY_DENSE_BACKEND``:

* ``"numpy"`` (the default): retrieval scans the pair's in-process matrix (``recall_index``), as on
  the embedded default;
* ``"auto"``: pgvector when the database is PostgreSQL and migration 0005 could add the
  ``embedding_vector`` column (the ``vector`` extension was there), numpy otherwise;
* ``"pgvector"``: pgvector or ``ImproperlyConfigured`` at the first recall.

With pgvector, each question part's nearest items of the pair come from
``ORDER BY embedding_vector <=> q LIMIT n`` (HNSW, or an exact sort when the planner finds the pair
small), scoped by user and persona in SQL *and* kept only if they are in the pair's index. Only the
choice of candidates moves: their dense scores are still computed in numpy from the same matrix, and
the rest of the ranking (BM25, fusion, novelty, hops) is the same code, so a pair ranks the same
whenever the candidates are the same. Any database error falls back to numpy for that query.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, transaction

from companion.memory.models import Memory
from companion.memory.recall_index import PairIndex

log = logging.getLogger(__name__)

BACKENDS = ("numpy", "auto", "pgvector")
COLUMN = "embedding_vector"  # added by migration 0005 (not a model field)
# HNSW's candidate list per query: twice the LIMIT (pgvector's default, 40, is fewer than the LIMIT).
# At 100,000 items a question's 200 nearest found by HNSW were 145-164 of the exact 200 with 200, 196
# with 400 (2-3 ms), 198 with 1000; iterative_scan keeps looking when the user/persona filter drops rows.
EF_SEARCH_PER_CANDIDATE = 2
EF_SEARCH_MIN = 100
EF_SEARCH_MAX = 1000  # pgvector's upper bound

_ready: dict[tuple[str, str], bool] = {}  # (alias, database name) -> column present
_ready_lock = threading.Lock()


def pgvector_ready(using: str = "default") -> bool:
    """PostgreSQL with the ``embedding_vector`` column (so the extension too); checked once per database."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return False
    key = (using, str(connection.settings_dict.get("NAME")))
    if key not in _ready:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s AND NOT attisdropped",
                [Memory._meta.db_table, COLUMN],
            )
            found = cursor.fetchone() is not None
        with _ready_lock:
            _ready[key] = found
    return _ready[key]


def reset() -> None:
    """Forget what was detected (after a migration that adds or drops the column; tests)."""
    with _ready_lock:
        _ready.clear()


def backend(using: str = "default") -> str:
    """``"pgvector"`` or ``"numpy"``: what the dense stage uses now, from the setting and the database."""
    wanted = getattr(settings, "MEMORY_DENSE_BACKEND", "numpy")
    if wanted not in BACKENDS:
        raise ImproperlyConfigured(f"MEMORY_DENSE_BACKEND must be one of {BACKENDS}, not {wanted!r}")
    if wanted == "numpy":
        return "numpy"
    if pgvector_ready(using):
        return "pgvector"
    if wanted == "pgvector":
        raise ImproperlyConfigured(
            "MEMORY_DENSE_BACKEND is 'pgvector' but the database has no memory_memory.embedding_vector column "
            "(PostgreSQL with the vector extension, then `manage.py migrate memory 0004 && manage.py migrate memory`)"
        )
    return "numpy"


def _literal(vec: np.ndarray) -> str:
    return "[" + ",".join(format(x, ".9g") for x in np.asarray(vec, dtype=np.float32).tolist()) + "]"


def candidate_rows(
    index: PairIndex, vecs: list[np.ndarray], *, n: int, layers: list[str] | None = None, using: str = "default"
) -> np.ndarray | None:
    """Rows (into ``index``) of the ``n`` nearest items of the pair for each vector, sorted and unique;
    None when numpy does it: its backend, a pair of at most n items, or a failed query."""
    if not vecs or backend(using) != "pgvector" or index.size <= n:
        return None  # a pair of at most n items: every row is a candidate anyway, no query needed
    sql = (
        f"SELECT id FROM {Memory._meta.db_table} WHERE user_id = %s AND persona_id = %s AND {COLUMN} IS NOT NULL"
        + (" AND layer = ANY(%s)" if layers else "")
        + f" ORDER BY {COLUMN} <=> %s::vector LIMIT %s"
    )
    ef = str(min(EF_SEARCH_MAX, max(EF_SEARCH_MIN, EF_SEARCH_PER_CANDIDATE * n)))
    found: list[int] = []
    try:
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            # Transaction-local (is_local): nothing leaks to the connection's next user.
            cursor.execute(
                "SELECT set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                [ef],
            )
            for vec in vecs:
                params = [index.user_id, index.persona_id, *([list(layers)] if layers else []), _literal(vec), n]
                cursor.execute(sql, params)
                found.extend(row[0] for row in cursor.fetchall())
    except DatabaseError:
        log.exception("memory: pgvector dense query failed; numpy scan for this query")
        return None
    ids = np.asarray(found, dtype=np.int64)
    pos = np.minimum(np.searchsorted(index.ids, ids), index.size - 1)
    # Only rows of this pair's index: an item written since the index was built waits for the rebuild.
    return np.unique(pos[index.ids[pos] == ids])
