"""``VectorIndex``: a RediSearch vector index with sync and asyncio methods.

Assembled from its parts: :mod:`.base` (settings, schema, specs), :mod:`.lifecycle`
(create, compare, drop through the search layer), :mod:`.ingest` (pipelined writes) and
:mod:`.queries` (reads); the command builders and reply parsers in :mod:`.query` are
shared by the sync and async paths. The constructor does no I/O; the index is created by
:meth:`VectorIndex.create` or lazily on the first write.
"""

from __future__ import annotations

from .auto import AutoReport, IndexAuto
from .ingest import IndexIngest, PartialWriteError
from .recall import RecallReport

__all__ = ["AutoReport", "PartialWriteError", "RecallReport", "VectorIndex"]


class VectorIndex(IndexIngest, IndexAuto):
    """A vector index over documents ``(id, text, metadata, vector)`` in Redis.

    Args:
        name: index name (letters, digits, ``_.-``); keys live under the config's
            namespace (``<ns>:vec:<name>:d:<id>``).
        config: the :class:`RedisAgentConfig` (default: the process-wide one).
        embedder: embeds texts when ``add``/queries get no vectors (default: the
            offline all-MiniLM-L6-v2, loaded on first use).
        dims: vector size (default: the embedder's).
        metadata_fields: metadata keys to index for filtering, e.g.
            ``{"tenant": "tag", "year": "numeric"}``. All metadata is stored and
            returned; only declared keys can be filtered on.
        algorithm: ``"auto"`` (default): starts FLAT (exact, fast ingest) and moves to
            HNSW in the background once HNSW answers faster at ``recall_target``
            (checked from 10,000 documents, then at each doubling; see
            :meth:`pick_algorithm`); ``"hnsw"`` or ``"flat"`` fix it.
        metric: ``"cosine"`` (default), ``"l2"`` or ``"ip"``.
        dtype: ``"float32"`` (default) or ``"float16"`` (half the memory).
        storage: ``"hash"`` (default) or ``"json"``.
        ef_runtime: HNSW candidate list size at query time until :meth:`tune_recall`
            saves a tuned one; 100 (default) gives recall@10 ≈ 0.98 on 384-d embeddings
            but 0.37 on 20k random unit vectors: measure with :meth:`measure_recall`.
        recall_target: the recall@10 :meth:`tune_recall` / :meth:`ensure_recall` tune
            ``ef_runtime`` to (default 0.95); None: never use a tuned value.
        m, ef_construction: HNSW graph parameters.
        ttl: seconds before documents expire (default: ``config.default_ttl``).
        key_prefix: store documents at ``key_prefix + id`` instead of under the
            namespace (e.g. ``"docs:"``, as a langchain-redis store's ``key_prefix`` or
            a redisvl schema's ``prefix``); the index name stays namespaced.
        stopwords: the words the index leaves out of its text fields (FT.CREATE
            STOPWORDS; ``[]``: none); None (default): RediSearch's default list. Text
            filters leave them out too; ``from_existing`` reads them from the server.
        batch_size: documents per pipelined round trip when writing.
        write_concurrency: batches in flight at once (each on its own connection).
        index_keys, index_text: for another role's index opened as a vector index (the
            semantic cache's, by its algorithm switch): the names of its index, variants,
            lock and tuning hash, and ``index_text=False`` for a text stored unindexed.
    """
