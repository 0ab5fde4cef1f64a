"""Where a pairs file's true pairs go that the default cache does not serve: beyond the
distance threshold (no guard can help: their distances' spread) or refused inside it, by
guard and reason; the same path as ``redis-agent cache evaluate`` (embedding, the default
verifier, the second pass on a miss).

    python scripts/true_refusals.py PAIRS.jsonl              # counts and each refusal
    python scripts/true_refusals.py PAIRS.jsonl --beyond     # ... and the pairs beyond it
    python scripts/true_refusals.py PAIRS.jsonl --counts     # counts only
    python scripts/true_refusals.py PAIRS.jsonl --counts --judge-beyond
        # ... and how many pairs beyond it the verifier / the scorer alone would serve

Never on a held-out set (scripts/guard_decisions.py's HELD_OUT): it prints pairs.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from guard_decisions import HELD_OUT


def main() -> int:
    from redis_agent_core.cache.calibrate import load_pairs, pair_distances, second_pass
    from redis_agent_core.cache.guards import DEFAULT_DISTANCE_THRESHOLD, default_verifier
    from redis_agent_core.cache.respell_pass import default_respell_threshold
    from redis_agent_core.embeddings import default_embedder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs")
    parser.add_argument("--threshold", type=float, default=DEFAULT_DISTANCE_THRESHOLD)
    parser.add_argument("--beyond", action="store_true", help="print the pairs beyond it too")
    parser.add_argument("--counts", action="store_true", help="print the counts only")
    parser.add_argument(
        "--judge-beyond",
        action="store_true",
        help="count the pairs beyond it the verifier (guards + scorer) and the scorer alone pass",
    )
    args = parser.parse_args()
    if Path(args.pairs).stem in HELD_OUT:
        parser.error(f"{args.pairs} is held out: only bench_cache_guards scores it")
    pairs = load_pairs(args.pairs)
    embedder, verifier, limit = default_embedder(), default_verifier(), args.threshold
    distances = pair_distances(pairs, embedder)
    band = default_respell_threshold(verifier, 0.0)
    again = (
        np.zeros(len(pairs), bool)
        if band is None
        else second_pass(pairs, distances, embedder, verifier, band, limit).served(distances, limit)
    )
    beyond: list[float] = []
    inside: Counter[str] = Counter()
    rows = []
    for p, d, served in zip(pairs, distances, again, strict=True):
        if not p.same_answer or served:
            continue
        r = verifier.verify(p.query, p.cached) if d <= limit else None
        if d > limit:
            beyond.append(float(d))
            if args.beyond:
                rows.append(("beyond", p.category, float(d), "", p.cached, p.query))
        elif r is not None:
            inside[r.guard] += 1
            rows.append((r.guard, p.category, float(d), r.reason, p.cached, p.query))
    spread = np.percentile(beyond, [0, 25, 50, 75, 100]) if beyond else []
    print(
        f"{sum(p.same_answer for p in pairs)} true pairs; beyond {limit}: {len(beyond)} "
        f"(distance min / q1 / median / q3 / max: {' / '.join(f'{x:.3f}' for x in spread)}); "
        f"refused inside: {sum(inside.values())} "
        f"({', '.join(f'{g} {n}' for g, n in inside.most_common())})"
    )
    if args.judge_beyond:
        scorer = verifier.scorer
        for same, what in ((True, "true pairs"), (False, "traps")):
            far = [
                p
                for p, d, served in zip(pairs, distances, again, strict=True)
                if p.same_answer is same and d > limit and not served
            ]
            whole = sum(verifier.verify(p.query, p.cached) is None for p in far)
            alone = sum(scorer.rejects(p.cached, p.query) is None for p in far) if scorer else 0
            print(
                f"beyond {limit}, not served: {len(far)} {what}; the verifier would serve "
                f"{whole}, the scorer alone {alone}"
            )
    if not args.counts:
        for guard, category, d, reason, stored, asked in sorted(rows, key=lambda r: r[:2]):
            print(
                f"\n[{guard}] {category} d={d:.3f} {reason}\n  stored: {stored}\n  asked:  {asked}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
