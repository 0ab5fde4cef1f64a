"""The reference service: one FastAPI app built only from the pack's public classes.

Flow of ``POST /chat`` (the seed's production path)::

    user ─► rate limit + token budget (429 + Retry-After)
         ─► RAG passages, once documents exist: embed (batched with concurrent
            requests, off the loop) + one vector search
         ─► exact cache tier ──hit──► answer (no LLM call, no tokens)
         ─► semantic cache ──hit──► answer
         └─miss─► history + RAG passages ─► LLM ─► cache store
         ─► session update + bus event ─► {answer, cached, usage, latency_ms, sources}

Every endpoint but ``/stats``, ``/metrics``, ``/dashboard`` and ``/health`` (counters
only) needs an API key (``Authorization: Bearer``); the principal comes from the key,
never from the body. Sessions belong to their owner: another user's session id names a
session of the caller's own, so it can be neither read nor appended to.

The cache is keyed on the user's question, not on the whole prompt: questions repeat
across users. An answer that depended on the conversation so far is cached under a
digest of the exact history the model saw (and, by default, for its user only:
``ServiceSettings.cache_share``), so a context-dependent "where do I live?" is never
served another conversation's answer. Entries are scoped by model and generation
settings, and by the RAG passages the prompt held: a changed corpus is a new scope.

Redis down is an expected fault: every endpoint answers 503 with a JSON body saying
what failed and what to check (never the server's address). The LLM down answers 502.
Every error body is ``{error, detail}`` (see :mod:`.errors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import logging
import math
import re
import statistics
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np
import orjson
from fastapi import Depends, FastAPI, Query, Response
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.routing import Match

from langchain_redis_agent import MiniLMEmbeddings, RedisChatMessageHistory, to_core_embedder
from redis_agent_core.apikeys import ApiKeys, validate_user
from redis_agent_core.bus import AgentBus
from redis_agent_core.cache import (
    SHARE_POLICIES,
    SemanticCache,
    Share,
    context_digest,
    context_scope,
    make_scope,
)
from redis_agent_core.config import RedisAgentConfig, get_default_config, translate_errors
from redis_agent_core.embeddings import BatchingEmbedder, Embedder, SentenceTransformerEmbedder
from redis_agent_core.errors import ConfigError, DataCorruptionError, RedisUnavailableError
from redis_agent_core.history import OwnedSessions
from redis_agent_core.kit import first_invalid
from redis_agent_core.onnx_embedder import OnnxEmbedder
from redis_agent_core.ratelimit import (
    Decision,
    RateLimiter,
    RateLimitExceeded,
    RequestLimit,
    TokenBudget,
)
from redis_agent_core.scripts import asend_commands
from redis_agent_core.vectors import Hit, VectorIndex
from redis_agent_service.local_llm import SYSTEM_PROMPT

from .admission import Admission
from .auth import RequireKey, principal_dependency, warn_insecure
from .balance import BalanceConnections, ConnectionBalancer
from .errors import ServiceError, error_response, install_error_handlers
from .ingest import (
    BackgroundThread,
    ForegroundGate,
    index_passages,
    lower_thread_priority,
    split_passages,
    to_passages,
)
from .limits import BodyLimit, Scope
from .llm import Completion, OpenAIChat, completion
from .loop_lag import LoopLagMonitor
from .process_stats import ProcessStats, process_label

__all__ = [
    "AgentService",
    "ChatReply",
    "ChatRequest",
    "DocumentIn",
    "DocumentsRequest",
    "ServiceSettings",
    "create_app",
]


def _text(value: Any) -> str:
    """A Redis reply item as text (clients may or may not decode)."""
    return value.decode() if isinstance(value, bytes) else str(value)


class _PartlyQueued(ServiceError):
    """POST /documents' 503 when the queue failed part way: names the job."""

    def __init__(self, job_id: str) -> None:
        super().__init__(
            503,
            "partly_queued",
            f"the queue failed part way: some documents were queued under job {job_id} and "
            f"are being added, the others are marked failed (GET /jobs/{job_id}); send "
            "those again once the queue is back",
            {"Retry-After": "5"},
        )


DOCS_RECHECK_S = 5.0  # how stale "no documents yet" may be on a worker
RECENT_VECTORS = 1024  # questions' vectors a worker keeps (384-d: 1.5 KB each)
JOB_TTL = 7 * 24 * 3600  # seconds an ingestion job and its owner are kept
# POST /chat's fields hold 8,400 characters, at most 12 bytes each as JSON (a \u-escaped
# surrogate pair): a larger body is refused before it is read (the JSON parse is on the loop)
CHAT_MAX_BODY_BYTES = 128 * 1024
# GET /sessions/{id} answers a page of the newest messages: a whole session of 20,000
# messages was read and parsed on the event loop (seconds), on a route with no limit
logger = logging.getLogger(__name__)
SESSION_PAGE = 100
_SESSIONS_LOST = (
    "the session list was lost by the server (evicted) and cannot be rebuilt yet: "
    "each session is still readable at GET /sessions/{id}; the operator must run "
    "SessionStore(config).rebuild_sessions() once (see docs/operations.md)"
)
SESSION_PAGE_MAX = 1000
_ROLES = {"human": "user", "ai": "assistant", "system": "system"}  # LangChain -> OpenAI
_VISIBLE = re.compile(r"[^\s\x00-\x1f\x7f-\x9f]")


# -- settings and wire models --
@dataclass
class ServiceSettings:
    """Knobs of the reference service (defaults suit the local 135M model).

    ``cache_distance_threshold`` is a cosine *distance* (0 = identical, 2 = opposite).
    ``cache_share``: who may be served an answer that depended on the conversation
    history ("global": anyone whose history was identical, "user": the same user with
    the same history, "session": the same session); first-turn answers are shared.
    ``auth=False`` (``serve --insecure-no-auth``) makes every caller one user.
    ``ingest_users``: who may add documents through ``POST /documents`` (``serve
    --ingest-user``): the corpus is every user's prompt context and an id names one
    document for all, so nobody may until the operator names them; ``None``: every user
    with a key (``serve --ingest-any-user``).
    """

    system_prompt: str = SYSTEM_PROMPT
    max_tokens: int = 48
    temperature: float = 0.0
    cache_name: str = "svc-llm"
    cache_distance_threshold: float = 0.12
    cache_ttl: int | None = 24 * 3600
    history_ttl: int | None = 7 * 24 * 3600
    history_window: int = 6  # past messages sent to the model
    requests_per_minute: int = 20
    tokens_per_day: int = 50_000
    index_name: str = "svc-docs"
    rag_k: int = 2
    rag_min_relevance: float = 0.35  # relevance in [0, 1]; below it a passage is noise
    events_topic: str = "chat-events"
    use_queue: bool = True  # ingest through the Celery queue when role 5 is installed
    cache_share: Share = "user"
    auth: bool = True
    max_body_bytes: int = 8 * 1024 * 1024
    max_document_bytes: int = 1024 * 1024
    max_documents: int = 1000
    passage_chars: int = 1000  # documents are indexed in passages of at most this
    ingest_batch: int = 2  # passages per model call (and per queued task) when ingesting
    # requests of one worker in their CPU stages at once; more wait in line (.admission)
    max_in_flight: int = 8
    ingest_users: Sequence[str] | None = ()  # kept as a sorted tuple (JSON to workers)

    def __post_init__(self) -> None:
        if self.cache_share not in SHARE_POLICIES:
            raise ConfigError(
                f"cache_share must be one of {', '.join(SHARE_POLICIES)}; got {self.cache_share!r}"
            )
        for name in (
            "max_tokens",  # --max-tokens -5 started a service whose every miss was a 502
            "rag_k",
            "max_body_bytes",
            "max_document_bytes",
            "max_documents",
            "passage_chars",
            "ingest_batch",
            "max_in_flight",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        window = self.history_window
        if not isinstance(window, int) or isinstance(window, bool) or window < 0:
            raise ConfigError(f"history_window must be an int >= 0, got {window!r}")
        if not (isinstance(self.temperature, (int, float)) and 0 <= self.temperature <= 2):
            raise ConfigError(f"temperature must be a number in [0, 2], got {self.temperature!r}")
        if self.ingest_users is not None:
            if isinstance(self.ingest_users, str):
                raise ConfigError("ingest_users is a set of user names, not one str")
            try:
                self.ingest_users = tuple(sorted({validate_user(u) for u in self.ingest_users}))
            except ConfigError as exc:
                raise ConfigError(f"ingest_users: {exc}") from None


class ChatRequest(BaseModel):
    # surrounding blanks are dropped, so a blank field fails min_length (422); an
    # unknown field is refused (422), not ignored: "user" for "user_id" names no one
    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    # identity comes from the API key; a body naming another user is refused (422)
    user_id: str | None = Field(default=None, min_length=1, max_length=200)
    session_id: str = Field(min_length=1, max_length=200)
    message: str = Field(min_length=1, max_length=8000)

    @field_validator("session_id")
    @classmethod
    def _one_path_segment(cls, session_id: str) -> str:
        # GET /sessions/{id} is one path segment: a client's %2F arrives as "/" and
        # splits it, so a session named "a/b" could be written but never read back
        if "/" in session_id:
            raise ValueError("a session id cannot hold '/' (GET /sessions/{id} could not read it)")
        return session_id


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    saved_tokens: int = 0  # tokens a cache hit did not spend (the original call's)


class Source(BaseModel):
    id: str | None
    source: str | None
    relevance: float


class ChatReply(BaseModel):
    answer: str
    cached: bool
    usage: Usage
    latency_ms: float
    sources: list[Source] = []
    history_length: int = 0


class DocumentIn(BaseModel):
    # "meta" for "metadata" is a 422, not a document indexed without its metadata
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1)
    id: str | None = None
    metadata: dict[str, Any] = {}

    @field_validator("text")
    @classmethod
    def _visible(cls, text: str) -> str:
        # a blank or control-only passage ranks close to short questions and reached
        # every user's prompt as context; a search in C, stopping at the first visible one
        if _VISIBLE.search(text) is None:
            raise ValueError("the text holds no visible character (only blanks or controls)")
        return text


class DocumentsRequest(BaseModel):
    # the count and sizes are checked against the service's limits (413), not here
    model_config = ConfigDict(extra="forbid")

    documents: list[DocumentIn] = Field(min_length=1)

    @field_validator("documents")
    @classmethod
    def _unique_ids(cls, documents: list[DocumentIn]) -> list[DocumentIn]:
        seen: set[str] = set()
        for d in documents:
            if d.id is not None:
                if d.id in seen:
                    raise ValueError(
                        f"duplicate document id {d.id[:40]!r}: give each document its own id, "
                        "or none (a random one is assigned)"
                    )
                seen.add(d.id)
        return documents


def too_many_documents(count: int, limit: int) -> ServiceError:
    """The 413 of a request with more than ``limit`` documents."""
    return ServiceError(
        413,
        "too_many_documents",
        f"{count} documents in one request; the limit is {limit}: send them in several requests",
    )


def documents_request(max_documents: int) -> type[DocumentsRequest]:
    """:class:`DocumentsRequest` that counts the documents before validating any: 540k
    tiny documents (8 MB) held the event loop 3.5 s in validation before their 413."""

    class BoundedDocumentsRequest(DocumentsRequest):
        @field_validator("documents", mode="before")
        @classmethod
        def _count(cls, documents: Any) -> Any:
            if isinstance(documents, list) and len(documents) > max_documents:
                # not a ValueError: pydantic lets it through, to the 413 handler
                raise too_many_documents(len(documents), max_documents)
            return documents

    return BoundedDocumentsRequest


def _check_model_settings(llm: Any, settings: ServiceSettings) -> None:
    """Refuse a model whose own ``max_tokens`` / ``temperature`` differ from the
    settings': the cache scope holds the settings' values, so a model built apart
    (``ChatOpenAI(temperature=1.0)`` beside the default 0.0) had its answers served as
    another setting's, and another service's as its own."""
    for name in ("max_tokens", "temperature"):
        own, said = getattr(llm, name, None), getattr(settings, name)
        if isinstance(own, (int, float)) and not isinstance(own, bool) and own != said:
            raise ConfigError(
                f"the model's {name} is {own!r} but ServiceSettings.{name} is {said!r}, "
                f"which the cache scope holds: build the model with {name}=settings.{name} "
                f"(or set ServiceSettings({name}={own!r}))"
            )


# -- the service (framework-free of FastAPI: the demo and tests call it too) --
@dataclass
class _Counters:
    requests: int = 0
    cache_hits: int = 0
    llm_calls: int = 0
    rate_limited: int = 0
    tokens_spent: int = 0
    tokens_saved: int = 0
    jobs_submitted: int = 0  # ingestion jobs queued
    documents_ingested: int = 0  # documents indexed inline or queued
    bus_events: int = 0  # chat events published on the bus
    hit_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))
    miss_ms: deque[float] = field(default_factory=lambda: deque(maxlen=1000))


@dataclass
class _Turn:
    """One /chat turn's state between its stages (before and after the model)."""

    user_id: str
    session_id: str
    message: str
    history: RedisChatMessageHistory
    past: list[BaseMessage]  # the window the model sees, not the whole session
    reservation: Any
    start: float
    prompt: str = ""  # the cache key's question and scope
    scope: str = ""
    vector: np.ndarray | None = None
    sources: list[Source] = field(default_factory=list)


def _source(hit: Hit) -> Source:
    # metadata is the client's: "source" may be any JSON value
    source = hit.metadata.get("source")
    return Source(
        id=hit.id,
        source=None if source is None else str(source),
        relevance=round(hit.score or 0.0, 3),
    )


def _warm_guards(verifier: Any) -> None:
    # every guard sees a pair it must look into (a lookup stops at the first rejection)
    query, candidate = "Is the big red car 2 miles long?", "Is the small blue car 3 km long?"
    for guard in getattr(verifier, "guards", None) or ():
        guard.check(query, candidate)
    features_of = getattr(verifier, "features_of", None)
    if features_of is not None:
        features_of(query)


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


class AgentService:
    """The chat flow on Redis: limits, semantic cache, history, RAG, queue, bus.

    Args:
        llm: the model: an :class:`~.llm.OpenAIChat` (what ``serve`` uses: the lightest
            client of an OpenAI-compatible endpoint) or any LangChain chat model.
        config: the pack's Redis config (default: the process-wide one).
        settings: service knobs.
        embeddings: LangChain embeddings for the cache and the vector store
            (default: the offline MiniLM model).
        model_name: identity of the model in cache scopes (default: read from ``llm``).

    ``llm``'s own ``max_tokens`` and ``temperature``, when it has them, must be the
    settings' (the cache scope's): :class:`ConfigError` otherwise.
    Construction does no I/O.
    """

    def __init__(
        self,
        llm: OpenAIChat | BaseChatModel,
        *,
        config: RedisAgentConfig | None = None,
        settings: ServiceSettings | None = None,
        embeddings: Any = None,
        model_name: str | None = None,
    ) -> None:
        self.llm = llm
        self.config = config or get_default_config()
        self.settings = settings or ServiceSettings()
        _check_model_settings(llm, self.settings)
        self.embeddings = embeddings or MiniLMEmbeddings()
        s = self.settings
        name = model_name or getattr(llm, "model_name", None) or type(llm).__name__
        self.model_name = str(name)
        # concurrent requests' questions share one model call, in the model's thread
        core_embedder = BatchingEmbedder(to_core_embedder(self.embeddings))
        self._embedder = core_embedder  # one embedding per question serves cache and RAG
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()  # recent questions'
        self._gate = ForegroundGate()  # questions' embeddings before ingestion batches
        # ingestion embeds and writes on a low-priority thread with its own model
        self._background = BackgroundThread("rap-ingest")
        self._background_model: Embedder | None = None
        # cache scope: a hit never crosses models, lengths, temperatures or prompts
        self.scope = make_scope(
            {
                "model": self.model_name,
                "max_tokens": s.max_tokens,
                "temperature": s.temperature,
                "system": hashlib.sha256(s.system_prompt.encode()).hexdigest(),
            }
        )
        # the core cache, called explicitly: the service keys it on the question (see
        # the module doc), which LangChain's prompt-level cache hook cannot do
        self.cache = SemanticCache(
            self.config,
            embedder=core_embedder,
            name=s.cache_name,
            distance_threshold=s.cache_distance_threshold,
            ttl=s.cache_ttl,
        )
        self.request_limit = RequestLimit.per_minute(s.requests_per_minute)
        self.token_budget = TokenBudget.daily(s.tokens_per_day)
        # one script decides both; fail_closed: Redis down means no unmetered LLM call
        self.limiter = RateLimiter(
            [self.request_limit, self.token_budget],
            config=self.config,
            name="svc-chat",
            on_unavailable="fail_closed",
        )
        self.vectors = VectorIndex(s.index_name, config=self.config, embedder=core_embedder)
        # trim="length" (the default): publish_command needs no server check. With
        # trim="acked" the startup would have to await self.bus.acheck_trim() (Redis >= 8.2)
        self.bus = AgentBus(self.config, sender="agent-service")
        # the user's session listing: a listing lost to eviction is told and rebuilt
        self.owned = OwnedSessions(self.config, ttl=s.history_ttl)
        self.keys = ApiKeys(self.config)
        self.counters = _Counters()
        self.loop_lag = LoopLagMonitor()
        self.admission = Admission(s.max_in_flight)
        # keep-alive connections stay where they were accepted: workers even them out
        self.balancer = ConnectionBalancer()
        self.processes = ProcessStats(
            self.config,
            self.config.keys.service_processes(s.cache_name),
            self._process_snapshot,
            on_read=lambda entries: self.balancer.rebalance(entries, process_label()),
        )
        self._has_docs = False
        self._docs_checked_at = -math.inf
        self._celery: Any = None

    async def awarm(self) -> None:
        """Load what the first requests would otherwise each wait for: the embedding
        model (one call in its thread) and the cache's search index. ``create_app``'s
        startup calls it."""
        await self._embedder.awarm()
        # the guards load their lexicon on first use: ~0.2 s that would hold the loop
        # of the first miss (issue 20: a 1.9 s loop-lag spike under load)
        await asyncio.to_thread(_warm_guards, self.cache.verifier)
        with contextlib.suppress(RedisUnavailableError):  # down: made on first use
            await self.cache.aensure_index()

    # -- roles --
    @staticmethod
    def owned_session(user: str, session_id: str) -> str:
        """The stored id of ``user``'s session ``session_id``: user names cannot hold a
        '/', so two users' sessions never share an id (the mapping is injective)."""
        return OwnedSessions.stored_id(user, session_id)

    def history(self, user: str, session_id: str) -> RedisChatMessageHistory:
        """The chat history of one of ``user``'s sessions (no I/O until used)."""
        return RedisChatMessageHistory(
            self.owned_session(user, session_id), config=self.config, ttl=self.settings.history_ttl
        )

    def window(self, past: Sequence[BaseMessage]) -> list[BaseMessage]:
        """The past messages the model sees with the next question."""
        n = self.settings.history_window
        return list(past[-n:]) if n else []

    def cache_key(
        self,
        message: str,
        window: Sequence[BaseMessage] = (),
        passages: Sequence[Hit] = (),
        *,
        user: str,
        session_id: str,
    ) -> tuple[str, str]:
        """(prompt, scope) under which an answer to ``message`` is cached.

        A first question is looked up semantically in the service's scope, shared by
        every user. A follow-up is looked up in a scope derived from the exact history
        the model sees (``window``) and, per ``settings.cache_share``, the user or the
        session: "where do I live?" after two different conversations are different
        questions that embeddings (and guards) cannot tell apart. The scope also holds
        the RAG ``passages`` that reach the prompt (ids and text, in order): an answer
        is never served after the corpus it was built on changed.
        """
        context = [(m.type, m.text) for m in window]
        scope = context_scope(
            self.scope,
            context,
            share=self.settings.cache_share,
            user=user,
            session=self.owned_session(user, session_id),
        )
        # always wrapped (None: no passages), so no entry of a scope that ignored the
        # corpus is ever served
        passages_digest = context_digest([(p.id, p.text) for p in passages])
        scope = make_scope({"base": scope, "passages": passages_digest})
        # the question as the model reads it: blanks can matter ("'a  b'.split(' ')")
        return message, scope

    def _estimate_tokens(self, message: str, past: Sequence[BaseMessage]) -> int:
        # ~4 characters a token, plus the answer's cap: an upper-ish bound to reserve
        chars = len(self.settings.system_prompt) + len(message)
        chars += sum(len(m.text) for m in past[-self.settings.history_window :])
        return chars // 4 + 16 + self.settings.max_tokens

    async def _docs_exist(self) -> bool:
        if not self._has_docs:
            # "no documents yet" is re-checked every few seconds (another worker may
            # ingest), not on every request: a count costs a thread hop and a search
            now = time.monotonic()
            if now < self._docs_checked_at + DOCS_RECHECK_S:
                return False
            self._docs_checked_at = now
            self._has_docs = await self.vectors.acount() > 0
        return self._has_docs

    async def _retrieve(self, vector: np.ndarray) -> list[Hit]:
        """The passages that reach the prompt: the ``rag_k`` nearest, relevant enough."""
        if not await self._docs_exist():
            return []
        hits = await self.vectors.asearch(vector, k=self.settings.rag_k)
        return [h for h in hits if (h.score or 0.0) >= self.settings.rag_min_relevance]

    def _prompt(
        self, message: str, window: Sequence[BaseMessage], docs: Sequence[Hit]
    ) -> list[tuple[str, str]]:
        """The model's messages as (OpenAI role, content) pairs."""
        system = self.settings.system_prompt
        if docs:
            context = "\n".join(d.text for d in docs)
            system = f"{system}\nUse this context:\n{context}"
        past = [(_ROLES.get(m.type, m.type), m.text) for m in window]
        return [("system", system), *past, ("user", message)]

    async def _embed(self, question: str) -> np.ndarray:
        """The question's vector; a repeated question's from this worker's recent ones
        (the same text gives the same vector), so a cache hit needs no model call."""
        recent = self._vectors
        # keyed by a digest: 1,024 questions of 8,000 characters would hold 8-32 MB
        key = hashlib.blake2b(question.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        vector = recent.get(key)
        if vector is not None:
            recent.move_to_end(key)
            return vector
        with self._gate.foreground():  # ingestion batches wait for it
            vector = (await self._embedder.aembed([question]))[0]
        vector.setflags(write=False)  # shared by the turns that ask the same
        recent[key] = vector
        if len(recent) > RECENT_VECTORS:
            recent.popitem(last=False)
        return vector

    async def _query_vector(self, question: str, vector: np.ndarray) -> np.ndarray:
        """The question's vector as a search query: ``vector`` itself for a model with
        one form (the default MiniLM), else the model's query form (one more call); the
        cache keeps comparing prompts in the form it stored them in."""
        if not self._embedder.query_form:
            return vector
        with self._gate.foreground():
            return (await self._embedder.aembed_query([question]))[0]

    async def _complete(self, prompt: Sequence[tuple[str, str]]) -> Completion:
        if isinstance(self.llm, OpenAIChat):
            return await self.llm.acomplete(prompt)
        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
        reply = await self.llm.ainvoke([kinds[role](text) for role, text in prompt])
        assert isinstance(reply, AIMessage)
        meta: Mapping[str, Any] | None = reply.usage_metadata
        return completion(reply.text, meta, "the chat model")

    # -- endpoints' logic --
    async def chat(self, user_id: str, session_id: str, message: str) -> ChatReply:
        """Answer one message of ``user_id`` (the authenticated principal) in one of
        their sessions; raises :class:`RateLimitExceeded` when over a limit.

        The CPU stages run under :attr:`admission` (a slot of this worker); the model
        call holds none (:mod:`.admission`)."""
        start = time.perf_counter()
        self.counters.requests += 1
        history = self.history(user_id, session_id)
        async with self.admission.slot():
            # the window only: the whole session was read and parsed on the event loop
            # each turn, and one user repeating a question (answered by the exact tier
            # once the window repeats: no tokens) made each /chat of the worker seconds
            past = await history.alast(self.settings.history_window)
            window = self.window(past)
            estimate = self._estimate_tokens(message, past)
            decision = await self._admit(user_id, tokens=estimate)
            turn = _Turn(user_id, session_id, message, history, past, decision.reservation, start)
            async with self._refunding(turn.reservation):
                # the passages the prompt would hold are part of the cache scope, so
                # they are retrieved first; without documents nothing is embedded and
                # a repeated question stays one round trip (issue 20)
                docs: list[Hit] = []
                if await self._docs_exist():
                    turn.vector = await self._embed(message)
                    docs = await self._retrieve(await self._query_vector(message, turn.vector))
                turn.sources = [_source(d) for d in docs]  # a hit cites them too
                turn.prompt, turn.scope = self.cache_key(
                    message, window, docs, user=user_id, session_id=session_id
                )
                hit = await self.cache.alookup_exact(turn.prompt, turn.scope)
                if hit is None:
                    if turn.vector is None:
                        turn.vector = await self._embed(message)
                    # the question's vector serves the semantic lookup, RAG and the store
                    hit = await self.cache.alookup(turn.prompt, turn.scope, vector=turn.vector)
                if hit is not None:
                    answer = json.loads(hit.payload)["answer"]
                    usage = Usage(saved_tokens=int((hit.usage or {}).get("total_tokens", 0)))
                    hit_reply = (answer, usage)  # _finish settles 0: a hit spends no tokens
                else:
                    model_prompt = self._prompt(message, window, docs)
            if hit is not None:
                # its round trip holds the settle: failing, the turn is refunded
                async with self._refunding(turn.reservation):
                    return await self._finish(turn, *hit_reply, cached=True)
        async with self._refunding(turn.reservation):
            reply = await self._complete(model_prompt)  # waiting: no slot held
        # usage the model did not report usably: the estimate stays charged
        spent = reply.total_tokens if reply.known else getattr(turn.reservation, "tokens", 0)
        # the model spent them: a failure from here on (waiting for a slot, the cache
        # store, the turn's round trip, which holds the settle) settles them and the
        # request stays counted (a settle is applied once: a second one is a no-op)
        async with self._refunding(turn.reservation, spent=spent), self.admission.slot(resume=True):
            answer = reply.text.strip()
            usage = Usage(
                input_tokens=reply.input_tokens,
                output_tokens=reply.output_tokens,
                total_tokens=reply.total_tokens,
            )
            await self.cache.aupdate(
                turn.prompt,
                turn.scope,
                json.dumps({"answer": answer}),
                usage=usage.model_dump(include={"input_tokens", "output_tokens", "total_tokens"})
                if reply.known
                else None,
                vector=turn.vector,
            )
            return await self._finish(turn, answer, usage, cached=False, spent=spent)

    async def _admit(self, user_id: str, *, tokens: int) -> Decision:
        """Count a request of ``user_id`` and reserve ``tokens``; the decision, or
        :class:`RateLimitExceeded` (counted in ``rate_limited``)."""
        try:
            return await self.limiter.aacquire(user=user_id, tokens=tokens, blocking=False)
        except RateLimitExceeded:
            self.counters.rate_limited += 1
            raise

    @contextlib.asynccontextmanager
    async def _refunding(
        self, reservation: Any, *, spent: int | None = None
    ) -> AsyncIterator[None]:
        """A failed turn or request gives back what it reserved; the caller sees the
        original error. Once the model answered (``spent``: its tokens), a failure after
        it settles those and the request stays counted."""
        try:
            yield
        except _PartlyQueued:
            raise  # part of the request ran: it stays counted
        except BaseException:
            if reservation is not None:
                with contextlib.suppress(Exception):
                    if spent is None:
                        await self.limiter.asettle(reservation, 0, refund_requests=True)
                    else:
                        await self.limiter.asettle(reservation, spent)
            raise

    async def _finish(
        self, turn: _Turn, answer: str, usage: Usage, *, cached: bool, spent: int | None = None
    ) -> ChatReply:
        """Settle the tokens (``spent``, else the usage's), store the turn in the
        session, list the session, publish the event (one round trip); count it; the
        reply."""
        event = {
            "user_id": turn.user_id,
            "session_id": turn.session_id,
            "cached": cached,
            "tokens": usage.total_tokens,
        }
        # four writes, one round trip (issue 20: a hit took 7 round trips, a miss 10;
        # each costs the loop about 0.1 ms of redis-py's CPU)
        tokens = usage.total_tokens if spent is None else spent
        settle = self.limiter.settle_commands(turn.reservation, tokens)
        commands = [
            *turn.history.append_commands([HumanMessage(turn.message), AIMessage(answer)]),
            # a session with earlier messages missing from the listing tells it was
            # lost, with its marker too (OwnedSessions)
            *self.owned.add_commands(turn.user_id, turn.session_id, had_messages=bool(turn.past)),
        ]
        latency_ms = round((time.perf_counter() - turn.start) * 1000, 2)
        _, publish = self.bus.publish_command(
            self.settings.events_topic, {**event, "latency_ms": latency_ms}
        )
        with translate_errors(self.config, "store the turn"):
            replies = await asend_commands(
                self.config.get_async_client(),
                [*commands, publish, *settle],
                wait=self.config.backoff,
            )
        self._count(usage, latency_ms, cached)
        return ChatReply(
            answer=answer,
            cached=cached,
            usage=usage,
            latency_ms=latency_ms,
            sources=turn.sources,
            history_length=int(replies[0][0]),  # the append's [length, seq]
        )

    def _count(self, usage: Usage, latency_ms: float, cached: bool) -> None:
        """Count a stored turn in this worker's counters."""
        c = self.counters
        if cached:
            c.cache_hits += 1
            c.tokens_saved += usage.saved_tokens
            c.hit_ms.append(latency_ms)
        else:
            c.llm_calls += 1
            c.tokens_spent += usage.total_tokens
            c.miss_ms.append(latency_ms)
        c.bus_events += 1

    def prepare_documents(
        self, documents: Sequence[DocumentIn]
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """The documents' ids and index items (passages, :mod:`.ingest`), or a
        :class:`ServiceError`: 413 when they exceed the limits, 422 naming
        ``documents[i].<field>`` when one holds what the index would refuse (all are
        checked before anything is embedded, written or queued). CPU only: splitting
        8 MiB of text takes ~0.3 s, which :meth:`ingest` keeps off the event loop."""
        s = self.settings
        if len(documents) > s.max_documents:
            raise too_many_documents(len(documents), s.max_documents)
        for i, d in enumerate(documents):
            size = len(d.text.encode())
            if size > s.max_document_bytes:
                raise ServiceError(
                    413,
                    "document_too_large",
                    f"documents[{i}] is {size} bytes; the limit is {s.max_document_bytes} "
                    "bytes per document: split it into smaller documents",
                )
        bad = first_invalid(
            [d.id or "" for d in documents],
            [d.text for d in documents],
            [d.metadata for d in documents],
            self.vectors.schema,
        )
        if bad is not None:
            pos, name, reason = bad
            raise ServiceError(422, "invalid_request", f"documents[{pos}].{name}: {reason}")
        ids = [d.id or uuid.uuid4().hex for d in documents]
        passages = [split_passages(d.text, s.passage_chars) for d in documents]
        for i, (d, parts) in enumerate(zip(documents, passages, strict=True)):
            # every passage holds the id and the metadata: a 1 MB metadata over 114
            # passages stored 124 MB (review 13), so the client's count as often as stored
            meta = len(orjson.dumps(d.metadata)) if d.metadata else 0
            each = meta + (len(d.id.encode()) * min(len(parts), 2) if d.id else 0)
            size = sum(len(p.encode()) for p in parts) + len(parts) * each
            if size > s.max_document_bytes:
                raise ServiceError(
                    413,
                    "document_too_large",
                    f"documents[{i}] stores {size} bytes: its text, plus its id and metadata "
                    f"in each of its {len(parts)} passages; the limit is "
                    f"{s.max_document_bytes} bytes per document: shorten the metadata or "
                    "the id, or split the document",
                )
        try:
            items = to_passages(ids, passages, [dict(d.metadata) for d in documents])
        except ValueError as exc:
            raise ServiceError(422, "invalid_request", str(exc)) from exc
        return ids, items

    async def ingest(
        self, documents: Sequence[DocumentIn], user_id: str | None = None
    ) -> dict[str, Any]:
        """Embed and index documents in passages (:mod:`.ingest`): through the Celery
        queue (returns a job id) when ``settings.use_queue``, else inline, a few
        passages per model call. The job belongs to ``user_id``. Bad documents are
        refused whole first (:meth:`prepare_documents`)."""
        allowed = self.settings.ingest_users
        if user_id is not None and allowed is not None and user_id not in allowed:
            raise ServiceError(
                403,
                "forbidden",
                "this user may not add documents: they are every user's prompt context, "
                "so the operator names who may (serve --ingest-user USER, or "
                "ServiceSettings(ingest_users=[...]))",
            )
        ids, items = await asyncio.to_thread(self.prepare_documents, documents)
        decision = None
        if user_id is not None:
            # a request like /chat's, no tokens: ingestion embeds and writes up to
            # max_body_bytes a request, and was the one unmetered way to do so
            decision = await self._admit(user_id, tokens=0)
        # a failed request gives its slot back, as a failed /chat turn does: kept, each
        # failed owner write or submit (Redis refusing writes) spent one of the user's
        # requests for nothing
        async with self._refunding(None if decision is None else decision.reservation):
            return await self._ingest(ids, items, user_id)

    async def _ingest(
        self, ids: list[str], items: list[dict[str, Any]], user_id: str | None
    ) -> dict[str, Any]:
        """:meth:`ingest` once the documents are checked and the request admitted."""
        s = self.settings
        if s.use_queue:
            from redis_agent_core.tasks import submit_ingestion

            job_id = uuid.uuid4().hex
            if user_id is not None:
                # before the job exists: recorded after, a failed write answered an error
                # for a job that ran all the same (its id never told, a retry queued the
                # documents again); an owner of a job never queued names nothing
                with translate_errors(self.config, "record job owner"):
                    await self.config.get_async_client().set(
                        self.config.keys.job_owner(job_id), user_id, ex=JOB_TTL
                    )
            try:
                await asyncio.to_thread(
                    submit_ingestion,
                    self.vectors,
                    items,
                    batch_size=s.ingest_batch,
                    job_id=job_id,
                    job_ttl=JOB_TTL,  # the owner's
                    app=self.celery_app,
                    config=self.config,
                )
            except RedisUnavailableError:
                await self._raise_if_partly_queued(job_id)
                raise
            self._has_docs = False  # re-checked on the next chat
            self._docs_checked_at = -math.inf
            self.counters.jobs_submitted += 1
            self.counters.documents_ingested += len(ids)
            return {"job_id": job_id, "status": "queued", "count": len(ids), "passages": len(items)}
        # a model of its own on a low-priority thread: a question never waits for a
        # batch of passages, and the gate lets questions go first
        await index_passages(
            self.vectors,
            self.background_embedder(),
            items,
            s.ingest_batch,
            self._gate,
            self._background,
        )
        self._has_docs = True
        self.counters.documents_ingested += len(ids)
        return {
            "job_id": None,
            "status": "done",
            "count": len(ids),
            "passages": len(items),
            "ids": ids,
        }

    async def _raise_if_partly_queued(self, job_id: str) -> None:
        """:class:`_PartlyQueued` when the queue failed after some of a request's tasks
        (one per ``ingest_batch`` passages) were sent: the job is kept, its other
        passages marked failed. The 503 of a Redis fault did not name it, though its
        documents were being added, and the request was given back."""
        from redis_agent_core.tasks import JobNotFoundError, aget_job

        try:
            await aget_job(job_id, config=self.config)
        except (JobNotFoundError, RedisUnavailableError):
            return  # removed (nothing was queued), or unknown: the fault's own 503
        raise _PartlyQueued(job_id)

    def background_embedder(self) -> Embedder:
        """The embedder of ingestion: for the default model, an instance of its own
        (own weights and tokenizer, so neither waits for the other's lock; loaded on
        first use); any other embedder is shared."""
        if self._background_model is None:
            inner = getattr(self._embedder, "inner", self._embedder)
            if isinstance(inner, (SentenceTransformerEmbedder, OnnxEmbedder)):
                self._background_model = inner.sibling()
            else:
                self._background_model = inner
        return self._background_model

    @property
    def celery_app(self) -> Any:
        """The Celery app of this service's Redis (built on first use, no I/O)."""
        if self._celery is None:
            from redis_agent_core.tasks import create_app as create_celery_app

            self._celery = create_celery_app(self.config)
        return self._celery

    def start_worker(self) -> Worker | None:
        """Run a Celery worker in a thread of this process (demo, ``serve``); ``None``
        when the queue is off. Production runs ``celery -A ... worker`` instead."""
        if not self.settings.use_queue:
            return None
        from redis_agent_core.tasks import register_embedder

        # the in-process worker embeds with the background model, on a low-priority thread
        model = self.background_embedder()
        register_embedder(model.name, lambda: model, replace=True)
        return Worker(self.celery_app, low_priority=True)

    async def job(self, job_id: str, user_id: str | None = None) -> dict[str, Any] | None:
        """Progress of an ingestion job, or ``None`` if unknown, expired or submitted by
        another user than ``user_id`` (``None``: do not check)."""
        from redis_agent_core.tasks import JobNotFoundError, aget_job

        if user_id is not None:
            with translate_errors(self.config, "read job owner"):
                owner = await self.config.get_async_client().get(self.config.keys.job_owner(job_id))
            if owner is None or _text(owner) != user_id:
                return None

        try:
            progress = await aget_job(job_id, config=self.config)
        except JobNotFoundError:
            return None
        return progress.as_dict()

    async def session(
        self, user_id: str, session_id: str, *, limit: int = SESSION_PAGE, offset: int = 0
    ) -> dict[str, Any] | None:
        """A page of one of ``user_id``'s sessions: its ``length`` and the newest
        ``limit`` messages after skipping the newest ``offset``, oldest first; ``None`` if
        they have no session of that id (whether another user has one is not revealed)."""
        history = self.history(user_id, session_id)
        messages, length = await asyncio.gather(
            history.alast(limit, offset=offset), history.store.acount(history.session_id)
        )
        if not length:
            return None
        return {
            "session_id": session_id,
            "length": length,
            "messages": [{"role": m.type, "content": m.text} for m in messages],
        }

    async def sessions(self, user_id: str, limit: int = 100) -> list[str]:
        """``user_id``'s live session ids, most recently active first (a listing lost to
        eviction is rebuilt; 503 ``sessions_lost`` when it cannot be yet)."""
        try:
            return await self.owned.asessions(user_id, limit)
        except DataCorruptionError as exc:
            logger.warning("GET /sessions: %s", exc)
            raise ServiceError(503, "sessions_lost", _SESSIONS_LOST) from None

    def _process_snapshot(self) -> dict[str, Any]:
        c = self.counters
        return {
            "requests": c.requests,
            "cache_hits": c.cache_hits,
            "llm_calls": c.llm_calls,
            "rate_limited": c.rate_limited,
            "tokens_spent": c.tokens_spent,
            "tokens_saved": c.tokens_saved,
            "jobs_submitted": c.jobs_submitted,
            "documents_ingested": c.documents_ingested,
            "bus_events": c.bus_events,
            "hit_latency_ms_p50": _median(c.hit_ms),
            "miss_latency_ms_p50": _median(c.miss_ms),
            "loop_lag_ms": self.loop_lag.summary(),
            "admission": self.admission.stats(),
            "connections": self.balancer.connections(),
            "connections_closed": self.balancer.closed,
            "embedding": self._embedder.stats(),
        }

    async def stats(self) -> dict[str, Any]:
        """Cache hit rate and tokens saved (shared, from Redis), this process's counters
        and every live worker process's (each publishes its own through Redis)."""
        cache_stats = await self.cache.astats()
        processes = await self.processes.read_all()
        return {
            "cache": cache_stats.as_dict(),
            "limits": {
                "requests_per_minute": self.settings.requests_per_minute,
                "tokens_per_day": self.settings.tokens_per_day,
            },
            "process": {"process": process_label(), **self._process_snapshot()},
            "processes": processes,
            "model": self.model_name,
        }


class Worker:
    """An in-process Celery worker (solo pool, one thread), stopped with :meth:`stop`."""

    def __init__(self, celery_app: Any, *, low_priority: bool = False) -> None:
        from celery.contrib.testing.worker import start_worker
        from celery.signals import task_prerun

        if low_priority:
            lowered: set[int] = set()

            def lower(sender: Any = None, **_: Any) -> None:
                # tasks of this app run on the worker's thread: lower it once
                if getattr(sender, "app", None) is celery_app:
                    tid = threading.get_native_id()
                    if tid not in lowered and lower_thread_priority():
                        lowered.add(tid)

            self._on_task = lower  # the signal holds it weakly
            task_prerun.connect(lower)

        self._cm = start_worker(
            celery_app,
            pool="solo",
            perform_ping_check=False,
            loglevel="WARNING",
            shutdown_timeout=30,
        )
        self._cm.__enter__()

    def stop(self) -> None:
        self._cm.__exit__(None, None, None)


# -- HTTP --
def create_app(service: AgentService) -> FastAPI:
    """The FastAPI app of ``service`` (``redis-agent serve`` runs it with uvicorn).

    Every endpoint but ``/stats``, ``/metrics``, ``/dashboard`` and ``/health`` needs
    ``Authorization: Bearer <key>`` unless ``service.settings.auth`` is off.
    """

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # the first requests must not each wait for the model to load (issue 20)
        await service.awarm()
        # what is loaded by now lives as long as the process: keep it out of GC passes
        gc.freeze()
        service.loop_lag.start()
        service.processes.start()
        try:
            yield
        finally:
            await service.processes.stop()
            await service.loop_lag.stop()
            service._background.close()
            if isinstance(service.llm, OpenAIChat):
                await service.llm.aclose()

    app = FastAPI(
        title="redis-agent-pack reference service",
        description="Chat with a semantic cache, history, RAG, rate limits, queue and bus "
        "on Redis.",
        lifespan=lifespan,
        # no /docs, /redoc, /openapi.json: they answered without a key and load CDN assets
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    settings = service.settings
    install_error_handlers(app)
    app.add_middleware(BalanceConnections, balancer=service.balancer)
    check_key = principal_dependency(service.keys, required=settings.auth)
    principal = Depends(check_key)
    if settings.auth:
        keyed: list[APIRoute] = []  # the routes that depend on the key, filled below

        def needs_key(scope: Scope) -> bool:
            return any(route.matches(scope)[0] is not Match.NONE for route in keyed)

        # inside BodyLimit: a body over the limit is refused without a Redis call
        app.add_middleware(RequireKey, keys=service.keys, needs_key=needs_key)
    else:
        warn_insecure()
    chat_limit = min(settings.max_body_bytes, CHAT_MAX_BODY_BYTES)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, paths={"/chat": chat_limit})

    @app.post("/chat", response_model=ChatReply)
    async def chat(body: ChatRequest, user: str = principal) -> ChatReply:
        if body.user_id is not None and body.user_id != user:
            raise ServiceError(
                422,
                "invalid_request",
                "user_id does not match the API key's user: the key alone says who is "
                "calling; leave user_id out",
            )
        return await service.chat(user, body.session_id, body.message)

    async def documents(body: DocumentsRequest, user: str = principal) -> dict[str, Any]:
        return await service.ingest(body.documents, user_id=user)

    # this app's limit is in the body's type; FastAPI reads annotations as strings of
    # the module's globals, so the class made here is set as an object
    documents.__annotations__["body"] = documents_request(settings.max_documents)
    app.post("/documents", status_code=202)(documents)

    @app.get("/jobs/{job_id}")
    async def job(job_id: str, user: str = principal) -> Any:
        state = await service.job(job_id, user_id=user)
        if state is None:
            return error_response(404, "unknown_job", "no such job (finished jobs expire)")
        return state

    @app.get("/sessions")
    async def sessions(user: str = principal) -> dict[str, Any]:
        return {"sessions": await service.sessions(user)}

    @app.get("/sessions/{session_id}")
    async def session(
        session_id: str,
        user: str = principal,
        limit: int = Query(SESSION_PAGE, ge=1, le=SESSION_PAGE_MAX),
        offset: int = Query(0, ge=0, le=2**40),
    ) -> Any:
        state = await service.session(user, session_id, limit=limit, offset=offset)
        if state is None:
            return error_response(404, "unknown_session", "no such session")
        return state

    @app.get("/stats")
    async def stats() -> dict[str, Any]:
        return await service.stats()

    @app.get("/dashboard", response_class=HTMLResponse)
    async def dashboard() -> HTMLResponse:
        """Live charts of ``/stats`` (a static page, assets shipped in the package;
        open like /stats: it shows counters only, no user data)."""
        page = resources.files(__package__).joinpath("data/dashboard.html").read_text()
        return HTMLResponse(page)

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """The counters of ``/stats`` in Prometheus text format (open, like /stats)."""
        from .metrics import CONTENT_TYPE_LATEST, render_metrics

        return Response(render_metrics(await service.stats()), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health")
    async def health() -> dict[str, str]:
        await service.config.get_async_client().ping()
        return {"status": "ok"}

    if settings.auth:
        keyed.extend(
            route
            for route in app.routes
            if isinstance(route, APIRoute)
            and any(d.call is check_key for d in route.dependant.dependencies)
        )
    return app
