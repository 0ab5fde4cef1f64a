"""The ``redis-agent`` command.

Core subcommands live here; other packages add theirs through the entry-point
group ``redis_agent.commands`` (a callable that receives the subparsers object),
so the core never imports an adapter.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from .capabilities import get_capabilities
from .config import ENV_URL, RedisAgentConfig, check_url
from .embedded import SharedServer, embedded_mode
from .errors import ConfigError, RedisAgentError
from .redis_errors import REPLY, describe_url, translate_errors
from .server import EmbeddedRedis

if TYPE_CHECKING:  # the cache modules load numpy: imported by the commands that use them
    from .cache.guards import Verifier

__all__ = ["build_parser", "main"]


def _print_shared(info: dict[str, object]) -> None:
    print(f"embedded Redis (shared): {info['state']}")
    for key in ("url", "pid", "data_dir", "log", "redis_version", "uptime_s", "memory"):
        if info.get(key) is not None:
            print(f"  {key.ljust(13)}  {info[key]}")
    if "aof" in info:
        persistence = "AOF, fsync every second" if info["aof"] else "none"
        print(f"  {'persistence'.ljust(13)}  {persistence}")
    clients = info.get("clients")
    if isinstance(clients, list):
        print(f"  {'clients'.ljust(13)}  {len(clients)} connected besides this command")
        for c in clients:
            print(
                f"    id {c['id']} {c['name'] or '?'}: connected {c['age_s']} s, "
                f"idle {c['idle_s']} s, last command {c['cmd']}"
            )


def _cmd_server(args: argparse.Namespace) -> int:
    if args.action is not None:
        shared = SharedServer.from_env()
        if args.action == "start":
            shared.ensure()
            _print_shared(shared.status())
            print(f"export REDIS_URL={shared.url}   # optional: without it the pack finds it")
            return 0
        if args.action == "stop":
            pid = shared.stop()
            print(f"stopped the shared embedded Redis (pid {pid})" if pid else "not running")
            return 0
        info = shared.status()
        _print_shared(info)
        return 0 if info["state"] == "up" else 3
    stop = threading.Event()
    # before the URL is printed: whoever reads it may send SIGTERM at once
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    server = EmbeddedRedis(data_dir=args.data_dir, port=args.port)
    server.start()
    print(f"embedded Redis running: {server.url}", flush=True)
    if args.port:
        print(f"also on TCP: redis://127.0.0.1:{args.port}", flush=True)
    print(f"export REDIS_URL={server.url}   # Ctrl-C stops it", flush=True)
    try:
        while not stop.wait(0.5):
            if not server.is_running():
                print("the server exited", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    config = RedisAgentConfig.from_env(url=args.url) if args.url else RedisAgentConfig.from_env()
    url = config.resolve_url()
    if not args.url and not os.environ.get(ENV_URL) and embedded_mode() == "shared":
        _print_shared(SharedServer.from_env().status())
    caps = get_capabilities(config)
    print(f"server: {describe_url(url)}")
    width = max(len(name) for name, _ in caps.table())
    for name, value in caps.table():
        print(f"  {name.ljust(width)}  {value}")
    _print_memory_policy(config)
    if not caps.search or not caps.json:
        missing = [n for n, ok in (("search", caps.search), ("json", caps.json)) if not ok]
        print(
            f"\nERROR: this server lacks {', '.join(missing)}. The vector store, semantic cache "
            "and semantic recall need the Redis Query Engine: use Redis 8, Redis Stack or "
            "Redis Cloud, or unset REDIS_URL to use the embedded server.",
            file=sys.stderr,
        )
        return 2
    print("\nok: search and JSON are available")
    _print_timeout_policy(config)
    _print_tunings(config)
    return 0


def _memory_policy(client: Any) -> tuple[str | None, int | None]:
    """(``maxmemory-policy``, ``maxmemory`` in bytes) of the server, ``None`` where it
    will not say (CONFIG refused: a managed service, an ACL user)."""
    out: dict[str, str] = {}
    for name in ("maxmemory-policy", "maxmemory"):
        try:
            reply = client.config_get(name)
        except REPLY:
            continue
        value = reply.get(name, reply.get(name.encode()))
        if value is not None:
            out[name] = value.decode() if isinstance(value, bytes) else str(value)
    limit = out.get("maxmemory")
    return out.get("maxmemory-policy"), int(limit) if limit is not None else None


def _print_memory_policy(config: RedisAgentConfig) -> None:
    """What a full server does to each role (docs/operations.md, Memory)."""
    policy, limit = _memory_policy(config.get_client())
    shown = "unknown" if limit is None else (f"{limit} bytes" if limit else "0 (no limit)")
    print(f"memory: maxmemory {shown}, maxmemory-policy {policy or 'unknown'}")
    if policy is not None and policy != "noeviction":
        print(
            f"WARNING: maxmemory-policy {policy} evicts keys without telling any client: "
            "rate limits would admit calls past their limits, and checkpoints, history, bus "
            "messages and workflow runs would be lost. Use noeviction (CONFIG SET "
            "maxmemory-policy noeviction) unless this server holds caches only.",
            file=sys.stderr,
        )


def _print_timeout_policy(config: RedisAgentConfig) -> None:
    """What a search that passes the server's TIMEOUT does (docs/operations.md)."""
    from .search.capabilities import timeout_policy

    policy = timeout_policy(config.get_client())
    on_timeout, ms = policy["on_timeout"], policy["timeout_ms"]
    print(f"search timeout: ON_TIMEOUT {on_timeout or 'unknown'}, TIMEOUT {ms or 'unknown'} ms")
    if on_timeout == "fail":
        return
    if on_timeout == "return" and policy["resp3"] is False:
        print(
            "WARNING: this server answers a search that passes its TIMEOUT with partial "
            "results, and this RESP2 connection cannot see the warning that says so: such "
            "results would look complete. Set ON_TIMEOUT FAIL (CONFIG SET search-on-timeout "
            "fail on Redis 8) or connect with RESP3 (the default; drop protocol=2).",
            file=sys.stderr,
        )
    else:
        print(
            "note: searches that pass the TIMEOUT return partial results here (or the policy "
            "is unknown); the pack detects them and raises SearchTimeoutError. ON_TIMEOUT "
            "FAIL (search-on-timeout fail on Redis 8) makes the server refuse them itself."
        )


def _print_tunings(config: RedisAgentConfig) -> None:
    from .vectors.recall import saved_tunings

    tunings = saved_tunings(config)
    if tunings:
        print(f"\nvector indexes in namespace {config.namespace!r}:")
    for name, state in tunings.items():
        if "recall" not in state:  # the hash also notes the index and its model
            print(f"  {name}: recall not measured (redis-agent vectors recall {name} --tune)")
            continue
        verdict = "" if state.get("reached") == "1" else f" BELOW the target {state['target']}"
        judged = f", judged on {state['sample']} queries" if state.get("sample") else ""
        print(
            f"  {name}: recall@10 {state['recall']} at ef_runtime {state['ef_runtime']} "
            f"({state['size']} documents when tuned{judged}){verdict}"
        )


def _cmd_vectors_recall(args: argparse.Namespace) -> int:
    from .vectors import VectorIndex
    from .vectors.checks import check_target

    # before the index is looked up and sampled (a bad --target was refused after it)
    target = check_target(args.target)
    overrides = {k: v for k, v in (("url", args.url), ("namespace", args.namespace)) if v}
    config = RedisAgentConfig.from_env(**overrides)
    index = VectorIndex.from_existing(args.index, config=config)
    if args.tune:
        report = index.tune_recall(args.target, sample=args.sample, k=args.k, seed=args.seed)
    else:
        report = index.measure_recall(
            sample=args.sample, k=args.k, seed=args.seed, ef_runtime=args.ef_runtime
        )
        if target is not None:  # a check (CI): it was ignored, exit 0 below it
            report = dataclasses.replace(report, target=target, reached=report.recall >= target)
    print(json.dumps(report.to_dict()))
    return 0 if report.reached is not False else 4


def _cmd_migrate_vectors(args: argparse.Namespace) -> int:
    from .migrate import migrate_vectors
    from .migrate.vectors import SKIP_REASONS

    overrides = {k: v for k, v in (("url", args.url), ("namespace", args.namespace)) if v}
    config = RedisAgentConfig.from_env(**overrides)
    with _progress_bar(f"migrating {args.index}", unit="doc") as progress:
        report = migrate_vectors(
            args.index, peer=args.source, to=args.to, config=config,
            text_field=args.text_field, batch_size=args.batch_size, progress=progress,
            overwrite=args.overwrite,
        )  # fmt: skip
    print(json.dumps(report.to_dict()))
    for reason, ids in report.skipped.items():
        shown = ", ".join(repr(i) for i in ids[:5]) + (", ..." if len(ids) > 5 else "")
        print(
            f"note: {len(ids)} document(s) skipped, {SKIP_REASONS[reason]}: {shown} "
            "(--overwrite writes the source's version)",
            file=sys.stderr,
        )
    if not report.verified:
        print(f"error: {report.advice}", file=sys.stderr)
        return 3
    return 0


def _cmd_migrate_history(args: argparse.Namespace) -> int:
    from .migrate import migrate_history

    overrides = {k: v for k, v in (("url", args.url), ("namespace", args.namespace)) if v}
    config = RedisAgentConfig.from_env(**overrides)
    with _progress_bar("migrating chat history", unit="message") as progress:
        report = migrate_history(
            peer=args.source, config=config, index=args.index, key_prefix=args.key_prefix,
            keys=args.keys, ttl=args.ttl, progress=progress,
        )  # fmt: skip
    print(json.dumps(report.to_dict()))
    if not report.verified:
        print("error: a migrated session does not hold its source's messages", file=sys.stderr)
        return 3
    return 0


def _cmd_acl(args: argparse.Namespace) -> int:
    from .acl import acl_setuser_command, server_commands

    namespace = args.namespace or os.environ.get("REDIS_AGENT_NAMESPACE") or "rap"
    known = None
    if not args.offline:  # ACL SETUSER refuses commands the server lacks: ask it
        config = RedisAgentConfig(url=args.url) if args.url else RedisAgentConfig.from_env()
        with translate_errors(config, "listing the server's commands"):
            known = server_commands(config.get_client())
    line = acl_setuser_command(
        args.user,
        namespace,
        search=not args.no_search,
        index_admin=not args.no_index_admin,
        server_commands=known,
    )
    print(f"# least privilege for namespace {namespace!r}; add a password: >secret")
    print(line)
    return 0


def _keys_config(args: argparse.Namespace) -> RedisAgentConfig:
    # keys must land where the service reads them: the shared embedded server is the
    # one a service without REDIS_URL uses; a private one would vanish with the new key
    if not args.url and not os.environ.get(ENV_URL) and embedded_mode() == "private":
        raise ConfigError(
            "API keys live in the service's Redis: set REDIS_URL (or pass --url) to it, and "
            "REDIS_AGENT_NAMESPACE if the service uses one (REDIS_AGENT_EMBEDDED=private gives "
            "this command a throwaway server of its own)"
        )
    return RedisAgentConfig.from_env(**({"url": args.url} if args.url else {}))


def _cmd_keys(args: argparse.Namespace) -> int:
    from .apikeys import ApiKeys

    config = _keys_config(args)
    keys = ApiKeys(config)
    if args.keys_command == "create":
        key = keys.create(args.user)
        print(f"new API key for {args.user} (shown once; send 'Authorization: Bearer <key>'):")
        print(key)  # last line of stdout: scripts take it with `| tail -n 1`
    elif args.keys_command == "list":
        infos = keys.list()
        if not infos:
            print("no API keys")
        for info in infos:
            created = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(info.created))
            print(f"{info.user}\t{info.key_id}\t{created} UTC")
    else:
        n = keys.revoke(args.user, args.key_id)
        print(f"revoked {n} key(s) of {args.user}")
        if not n:
            # a mistyped id or user, or another namespace than the service's, must not
            # read as done: the leaked key is still valid
            which = f"key {args.key_id}" if args.key_id is not None else "key"
            print(
                f"no {which} of {args.user} in namespace {config.namespace!r}: see "
                "`redis-agent keys list` (and set REDIS_AGENT_NAMESPACE to the service's)",
                file=sys.stderr,
            )
            return 1
    return 0


def _thresholds(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected comma-separated cosine distances, e.g. 0.1,0.2,0.3"
        ) from exc
    if not values:
        raise argparse.ArgumentTypeError("expected at least one threshold")
    bad = [v for v in values if not 0.0 <= v <= 2.0]  # also catches nan
    if bad:
        raise argparse.ArgumentTypeError(
            f"{bad[0]} is out of range: thresholds are cosine distances from 0 (identical) "
            "to 2 (opposite); a similarity s is the distance 1 - s"
        )
    return values


def _threshold(text: str) -> float:
    (value,) = _thresholds(text) if "," not in text else (None,)
    if value is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give one cosine distance, e.g. 0.2")
    return value


def _precision(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: the target precision is a share between 0 and 1, e.g. 0.95"
        )
    return value


def _verifier(args: argparse.Namespace) -> Verifier | None:
    """The verifier ``cache calibrate`` / ``evaluate`` judge: the cache's default (guards
    and pair scorer), the guards alone (``--no-scorer``), a scorer of your own
    (``--scorer PATH``), or none (``--no-guards``)."""
    from .cache.guards import PairScorer, Verifier, default_verifier

    if args.no_guards:
        if args.no_scorer or args.scorer or args.no_respell or args.no_band:
            raise ConfigError(
                "--no-guards turns off the scorer too, the second pass and the band: drop "
                "--no-scorer / --scorer / --no-respell / --no-band"
            )
        return None
    if args.no_scorer:
        if args.scorer:
            raise ConfigError("--no-scorer and --scorer contradict each other: choose one")
        return Verifier()
    if args.scorer:
        # judged at the cut the training script chose for it (its .json): a scorer measured
        # at another cut is measured where it will not run; read now, before the slow part
        scorer = PairScorer(weights=args.scorer)
        _ = scorer.threshold
        return Verifier(scorer=scorer)
    return default_verifier()


def _calibration(
    args: argparse.Namespace, evaluate_at: float | None, verifier: Verifier | None
):  # -> CalibrationReport
    """The one code path of ``cache calibrate`` and ``cache evaluate``."""
    # Imported here: numpy and the embedding model are not needed by other commands.
    from .cache.calibrate import DEFAULT_THRESHOLDS, calibrate, check_target_precision, load_pairs
    from .embeddings import SentenceTransformerEmbedder, default_embedder

    pairs = load_pairs(args.pairs)  # a bad file is refused before the model loads
    check_target_precision(args.target_precision)
    embedder = SentenceTransformerEmbedder(args.model) if args.model else default_embedder()
    print(f"embedding {len(pairs)} pairs with {embedder.name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    with _progress_bar("embedding texts") as progress:
        report = calibrate(
            pairs,
            embedder=embedder,
            verifier=verifier,
            use_verifier=verifier is not None,
            thresholds=getattr(args, "thresholds", None) or DEFAULT_THRESHOLDS,
            target_precision=args.target_precision,
            evaluate_at=evaluate_at,
            progress=progress,
            respell=not args.no_respell,
            band=not args.no_band,
        )
    print(
        f"evaluated {len(pairs)} pairs in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    return report


@contextlib.contextmanager
def _progress_bar(what: str, unit: str = "text") -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr (shown on a terminal only) fed ``(done, total)``."""
    from tqdm import tqdm

    bar = tqdm(desc=what, unit=unit, file=sys.stderr, disable=None, leave=False)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()


def _cmd_cache_warm(args: argparse.Namespace) -> int:
    """Load the default embedding model and the guards' pair scorer once, converting them
    into the model cache when missing: what a first lookup would otherwise wait for."""
    from .cache.guards import default_verifier
    from .embeddings import default_embedder

    started = time.monotonic()
    embedder = default_embedder()
    embedder.embed(["warm up"])
    where = getattr(embedder, "onnx_path", None)
    print(
        f"embedding model {embedder.name}: ready in {time.monotonic() - started:.1f} s"
        + (f" ({where()})" if where is not None else "")
    )
    started = time.monotonic()
    scorer = default_verifier().scorer
    if scorer is None or not scorer.available:
        print("pair scorer: off (onnxruntime and tokenizers are not installed: the 'onnx' extra)")
    else:
        print(f"pair scorer: ready in {time.monotonic() - started:.1f} s ({scorer.onnx_path()})")
    return 0


def _cmd_cache_calibrate(args: argparse.Namespace) -> int:
    from .cache.calibrate import format_report

    print(format_report(_calibration(args, None, _verifier(args))))
    return 0


def _cmd_cache_evaluate(args: argparse.Namespace) -> int:
    from .cache.calibrate import format_evaluation
    from .cache.semantic import default_threshold

    verifier = _verifier(args)
    threshold = args.threshold
    if threshold is None:  # what SemanticCache uses by default with this verifier
        threshold = default_threshold(verifier)
    print(format_evaluation(_calibration(args, threshold, verifier), guards=not args.no_guards))
    return 0


def _verifier_options(p: argparse.ArgumentParser) -> None:
    """``cache calibrate`` / ``evaluate``: which verifier and model they judge."""
    p.add_argument("--no-guards", action="store_true", help="embedding only")
    p.add_argument(
        "--no-scorer",
        action="store_true",
        help="the guards alone, without the pair scorer (and so without the second pass)",
    )
    p.add_argument(
        "--no-respell",
        action="store_true",
        help="without the cache's second pass on a miss (typos and short names respelt), "
        "as SemanticCache(respell_threshold=None)",
    )
    p.add_argument(
        "--no-band",
        action="store_true",
        help="without the cache's band past the threshold (guards, and the pair scorer at a "
        "higher cut), as SemanticCache(band_threshold=None)",
    )
    p.add_argument(
        "--scorer",
        metavar="WEIGHTS",
        help="a pair scorer of your own (scripts/train_pair_scorer.py --out), judged at the "
        "threshold in the .json beside it",
    )
    p.add_argument("--model", help="path of a sentence-transformers model (default: MiniLM)")


def build_parser(plugins: bool = True) -> argparse.ArgumentParser:
    """The argument parser; ``plugins=False`` leaves out the entry-point commands."""
    parser = argparse.ArgumentParser(
        prog="redis-agent", description="Redis for LangChain and LlamaIndex agents."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "server",
        help="the shared embedded Redis (start|stop|status), or a private one in the foreground",
        description=(
            "start / stop / status: the embedded Redis shared by this user's processes "
            "(persistent, outlives them). Without an action: a private server in the "
            "foreground until Ctrl-C or SIGTERM."
        ),
    )
    p.add_argument("action", nargs="?", choices=("start", "stop", "status"))
    p.add_argument("--data-dir", help="foreground server: persist data (AOF) in this directory")
    p.add_argument("--port", type=int, default=0, help="foreground server: also listen on TCP")
    p.set_defaults(func=_cmd_server)

    p = sub.add_parser("doctor", help="show the server, its modules and capabilities")
    p.add_argument("--url", help="Redis URL (default: REDIS_URL, else the embedded server)")
    p.set_defaults(func=_cmd_doctor)

    p = sub.add_parser("vectors", help="vector index tools")
    vectors_sub = p.add_subparsers(dest="vectors_command", required=True)
    p = vectors_sub.add_parser(
        "recall",
        help="recall@k of a vector index against exact KNN (--tune: save the ef_runtime "
        "reaching the target)",
    )
    p.add_argument("index", metavar="INDEX", help="the VectorIndex name")
    p.add_argument("--tune", action="store_true", help="tune ef_runtime to --target and save it")
    p.add_argument(
        "--target",
        type=float,
        help="recall to reach: --tune tunes to it (default 0.95); without --tune, the "
        "measured recall is judged against it (exit 4 below it)",
    )
    p.add_argument("--sample", type=int, default=100, help="stored vectors used as queries")
    p.add_argument("--k", type=int, default=10, help="neighbours compared per query")
    p.add_argument("--seed", type=int, help="seed of the sample (default: random)")
    p.add_argument(
        "--ef-runtime",
        type=int,
        help="measure at this ef_runtime (default: the tuned one, else 100)",
    )
    p.add_argument("--namespace", help="the pack's key namespace (default: REDIS_AGENT_NAMESPACE)")
    p.add_argument("--url", help="Redis URL (default: REDIS_URL, else the embedded server)")
    p.set_defaults(func=_cmd_vectors_recall)

    p = sub.add_parser("migrate", help="copy data of langchain-redis / LlamaIndex stores")
    migrate_sub = p.add_subparsers(dest="migrate_command", required=True)
    p = migrate_sub.add_parser(
        "vectors",
        help="copy a peer's vector index into the pack's layout, vectors included "
        "(resumable; counts verified)",
    )
    p.add_argument(
        "--from", dest="source", required=True, choices=("langchain-redis", "llama-index")
    )
    p.add_argument("--index", required=True, help="the peer's index name (as in FT._LIST)")
    p.add_argument("--to", help="the pack's vector index name (default: --index)")
    p.add_argument("--text-field", default="text", help="the field holding the text")
    p.add_argument("--batch-size", type=int, default=500, help="documents per batch")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="write every source document, also over ones changed or deleted in the pack "
        "since an earlier run copied them (default: keep the pack's and say so)",
    )
    p.add_argument("--namespace", help="the pack's key namespace (default: REDIS_AGENT_NAMESPACE)")
    p.add_argument("--url", help="Redis URL (default: REDIS_URL, else the embedded server)")
    p.set_defaults(func=_cmd_migrate_vectors)
    p = migrate_sub.add_parser(
        "history",
        help="copy langchain-redis chat histories or LlamaIndex chat lists into the pack's "
        "sessions (resumable; counts verified)",
    )
    p.add_argument(
        "--from", dest="source", required=True, choices=("langchain-redis", "llama-index")
    )
    p.add_argument("--index", default="idx:chat_history", help="langchain-redis: the history index")
    p.add_argument("--key-prefix", help="langchain-redis: the messages' key prefix instead")
    p.add_argument("--keys", help="llama-index: glob of the chat keys (e.g. 'user:*')")
    p.add_argument("--ttl", type=int, help="seconds before an idle migrated session expires")
    p.add_argument("--namespace", help="the pack's key namespace (default: REDIS_AGENT_NAMESPACE)")
    p.add_argument("--url", help="Redis URL (default: REDIS_URL, else the embedded server)")
    p.set_defaults(func=_cmd_migrate_history)

    p = sub.add_parser(
        "acl", help="print the ACL SETUSER line of a least-privilege user of the pack"
    )
    p.add_argument("user", metavar="USER")
    p.add_argument("--namespace", help="the pack's key namespace (default: rap)")
    p.add_argument("--no-search", action="store_true", help="no Query Engine commands")
    p.add_argument(
        "--no-index-admin",
        action="store_true",
        help="no FT.CREATE / FT.ALTER / FT.DROPINDEX: an admin creates the indexes",
    )
    p.add_argument("--url", help="Redis URL (default: REDIS_URL, else the embedded server)")
    p.add_argument("--offline", action="store_true", help="do not ask a server its commands")
    p.set_defaults(func=_cmd_acl)

    p = sub.add_parser("cache", help="semantic cache tools")
    cache_sub = p.add_subparsers(dest="cache_command", required=True)
    p = cache_sub.add_parser(
        "warm",
        help="build and load the embedding model and the pair scorer now (e.g. in an image)",
        description=(
            "Load the default embedding model and the cache guards' pair scorer, converting "
            "them to ONNX into the model cache (REDIS_AGENT_MODEL_DIR, else "
            "~/.cache/redis-agent/models) when missing: run it where the application will "
            "run (a container image's build step) so that no first lookup waits seconds."
        ),
    )
    p.set_defaults(func=_cmd_cache_warm)
    p = cache_sub.add_parser(
        "calibrate",
        help="precision/recall per threshold on labelled prompt pairs, with and without guards",
        description=(
            "Embed labelled prompt pairs (JSON Lines: a, b, same_answer, optional category) "
            "and report, per cosine-distance threshold, how many would be served, precision, "
            "recall of true pairs and wrong answers per category, with and without the "
            "default guards, plus the threshold recommended for the target precision."
        ),
    )
    p.add_argument("--pairs", help="pairs file (default: fow-cache's data/pairs.jsonl)")
    p.add_argument(
        "--target-precision",
        type=_precision,
        default=0.95,
        help="precision to reach (default 0.95)",
    )
    p.add_argument(
        "--thresholds",
        type=_thresholds,
        help="comma-separated cosine distances for the table (default 0.05 to 0.4)",
    )
    _verifier_options(p)
    p.set_defaults(func=_cmd_cache_calibrate)

    p = cache_sub.add_parser(
        "evaluate",
        help="precision, recall and wrong answers per category at the threshold in use",
        description=(
            "Embed labelled prompt pairs (JSON Lines: stored, asked, same, optional category; "
            "fow-cache's a, b, same_answer also work) and print, per category and overall, "
            "how many a cache with this threshold and the default guards would serve, its "
            "precision, its recall and the wrong answers it would serve. Same code path as "
            "'cache calibrate'."
        ),
    )
    p.add_argument("pairs", help="pairs file (.jsonl)")
    p.add_argument(
        "--threshold",
        type=_threshold,
        help="cosine distance (default: the cache's: 0.26 with the guards and pair scorer, "
        "0.22 with the guards alone, 0.05 without)",
    )
    p.add_argument(
        "--target-precision",
        type=_precision,
        default=0.95,
        help="only for the recommendation line of calibrate (default 0.95)",
    )
    _verifier_options(p)
    p.set_defaults(func=_cmd_cache_evaluate)

    p = sub.add_parser("keys", help="manage the API keys of the reference service")
    keys_sub = p.add_subparsers(dest="keys_command", required=True)
    for name, help_text in (
        ("create", "issue a new key for USER (printed once, as the last line)"),
        ("list", "list key ids and their users (never the keys)"),
        ("revoke", "revoke every key of USER, or one with --key-id"),
    ):
        k = keys_sub.add_parser(name, help=help_text)
        if name != "list":
            k.add_argument("user", metavar="USER")
        if name == "revoke":
            k.add_argument(
                "--key-id",
                help="revoke only this key of USER (its id in `keys list`): rotating a key, "
                "or one leaked, without cutting off the others",
            )
        k.add_argument("--url", help="Redis URL (default: REDIS_URL)")
        k.set_defaults(func=_cmd_keys)

    if plugins:
        _add_plugins(sub)
    return parser


_CORE_COMMANDS = frozenset({"server", "doctor", "cache", "keys", "acl", "vectors", "migrate"})


def _add_plugins(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the subcommands of the ``redis_agent.commands`` entry points.

    A plugin whose extra is not installed (ImportError) is skipped silently; one that
    fails otherwise is reported on stderr and skipped, so it never breaks the core
    commands.
    """
    for ep in sorted(entry_points(group="redis_agent.commands"), key=lambda e: e.name):
        try:
            ep.load()(sub)
        except ImportError:
            continue  # the extra that provides this command is not installed
        except Exception as exc:
            print(
                f"redis-agent: warning: skipping plugin {ep.name!r} ({ep.value}): "
                f"{type(exc).__name__}: {exc}",
                file=sys.stderr,
            )


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    # core commands do not load plugins (their imports cost ~1 s and may be broken)
    parser = build_parser(plugins=command not in _CORE_COMMANDS)
    args = parser.parse_args(argv)
    try:
        if getattr(args, "url", None) is not None:
            # named as typed (the config would say url=); an empty one is refused, not
            # read as "none given" (REDIS_URL or the embedded server instead)
            check_url(args.url, "--url")
        return int(args.func(args) or 0)
    except RedisAgentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
