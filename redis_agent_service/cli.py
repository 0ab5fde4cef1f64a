"""``redis-agent serve`` and ``redis-agent demo``, registered through the entry-point
group ``redis_agent.commands`` (the core CLI never imports this package)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["register"]


def ingest_users(args: argparse.Namespace) -> tuple[str, ...] | None:
    """``serve``'s users who may POST /documents: the ``--ingest-user`` names (none by
    default), or ``None`` (every user with a key) for ``--ingest-any-user``."""
    from redis_agent_core.errors import ConfigError

    if args.ingest_any_user and args.ingest_user:
        raise ConfigError("serve: give --ingest-user USER or --ingest-any-user, not both")
    return None if args.ingest_any_user else tuple(args.ingest_user or ())


def _cmd_serve(args: argparse.Namespace) -> int:
    import dataclasses

    from redis_agent_core.config import ENV_URL, RedisAgentConfig, describe_url
    from redis_agent_core.embedded import embedded_mode
    from redis_agent_core.errors import ConfigError

    from .app import AgentService, ServiceSettings
    from .auth import LOCAL_USER, is_loopback
    from .llm import OpenAIChat, model_endpoint
    from .startup import LateWorker, redis_ready
    from .workers import ServeSpec, available_cores, run, torch_threads

    workers = args.workers if args.workers is not None else available_cores()
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    if args.insecure_no_auth and not is_loopback(args.host):
        print(
            f"serve: --insecure-no-auth only binds a loopback address, not {args.host!r}: "
            "issue API keys with `redis-agent keys create USER` to serve other machines",
            file=sys.stderr,
        )
        return 2
    private = not (args.redis_url or os.environ.get(ENV_URL)) and embedded_mode() == "private"
    ingest = ingest_users(args)
    if ingest == () and (private or args.insecure_no_auth):
        ingest = (LOCAL_USER,)  # a local run's one user loads its documents
    config = RedisAgentConfig.from_env(**({"url": args.redis_url} if args.redis_url else {}))
    settings = ServiceSettings(
        requests_per_minute=args.requests_per_minute,
        tokens_per_day=args.tokens_per_day,
        max_tokens=args.max_tokens,
        use_queue=not args.no_queue,
        cache_share=args.share,
        auth=not args.insecure_no_auth,
        max_body_bytes=args.max_body_bytes,
        max_document_bytes=args.max_document_bytes,
        max_documents=args.max_documents,
        max_in_flight=args.max_in_flight,
        ingest_users=ingest,
    )
    # Redis without search is a setting to fix (CapabilityError: one line, exit 2); Redis
    # down is not: serve starts and answers 503 until it is back
    up = redis_ready(config, "the reference service")
    with model_endpoint() as endpoint:
        # the embedded server (if any) starts here, once: every worker uses its URL
        url = config.resolve_url()
        # a proxy's URL may carry its credentials (https://user:key@host/v1)
        where = "local model" if endpoint.local else describe_url(endpoint.base_url)
        print(f"model: {endpoint.model} ({where})", flush=True)
        down = "" if up else " (unreachable: answering 503 until it is back)"
        print(f"redis: {describe_url(url)}{down}", flush=True)
        print(f"workers: {workers}", flush=True)
        # the queue's worker runs once, in this (parent) process
        llm = OpenAIChat(endpoint, max_tokens=settings.max_tokens)
        service = AgentService(llm, config=config, settings=settings, model_name=endpoint.model)
        if private and settings.auth:
            # nobody else can reach this process's own Redis to issue a key: issue one here
            key = service.keys.create("local")
            print("private embedded Redis (gone at exit): API key of user 'local' for this run:")
            print(f"  Authorization: Bearer {key}", flush=True)
        elif settings.auth:
            print("auth: on (issue API keys with `redis-agent keys create USER`)", flush=True)
        who = "every user" if ingest is None else ", ".join(ingest) or "nobody (--ingest-user USER)"
        print(f"may add documents: {who}", flush=True)
        worker = LateWorker(service) if settings.use_queue else None
        spec = ServeSpec(
            redis_url=url,
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            model=endpoint.model,
            settings=dataclasses.asdict(settings),
            threads=torch_threads(workers),
        )
        try:
            run(spec, host=args.host, port=args.port, workers=workers, access_log=args.access_log)
        finally:
            if worker is not None:
                worker.stop()
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(quiet=args.quiet)


def _port(text: str) -> int:
    # uvicorn took 99999 and said it was running on it
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is 0-65535, got {port}")
    return port


def register(subparsers: Any) -> None:
    """Add ``serve`` and ``demo`` to the ``redis-agent`` command."""
    p = subparsers.add_parser(
        "serve", help="run the reference chat service (FastAPI) on Redis and an LLM"
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    p.add_argument("--port", type=_port, default=8000)
    p.add_argument("--redis-url", help="Redis to use (default: REDIS_URL, else embedded)")
    p.add_argument("--requests-per-minute", type=int, default=20, help="per user")
    p.add_argument("--tokens-per-day", type=int, default=50_000, help="per user")
    p.add_argument("--max-tokens", type=int, default=48, help="answer length cap")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes sharing the port (default: the number of cores)",
    )
    p.add_argument(
        "--max-in-flight",
        type=int,
        default=8,
        help="requests of one worker doing CPU work at once; more wait in line (default 8)",
    )
    p.add_argument(
        "--access-log", action="store_true", help="log every request (off: it costs the loop)"
    )
    p.add_argument(
        "--share",
        choices=("user", "session", "global"),
        default="user",
        help="who may be served a cached answer that depended on the conversation history: "
        "the same user (default), the same session, or anyone with the identical history",
    )
    p.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="no API keys: every caller is one user (loopback only, for local experiments)",
    )
    p.add_argument("--max-body-bytes", type=int, default=8 * 1024 * 1024, help="per request")
    p.add_argument(
        "--max-document-bytes",
        type=int,
        default=1024 * 1024,
        help="per document as stored: text + id and metadata in each passage",
    )
    p.add_argument("--max-documents", type=int, default=1000, help="per request")
    p.add_argument(
        "--ingest-user",
        action="append",
        metavar="USER",
        help="may POST /documents (repeat for several; default: nobody, the documents "
        "being every user's prompt context)",
    )
    p.add_argument(
        "--ingest-any-user",
        action="store_true",
        help="every user with a key may POST /documents (a corpus users share and trust)",
    )
    p.add_argument(
        "--no-queue",
        action="store_true",
        help="ingest documents inline instead of through Celery (no in-process worker)",
    )
    p.set_defaults(func=_cmd_serve)

    d = subparsers.add_parser(
        "demo",
        help="run the end-to-end demo: embedded Redis, local model, scripted users, report",
    )
    d.add_argument("--quiet", action="store_true", help="print only the report")
    d.set_defaults(func=_cmd_demo)
