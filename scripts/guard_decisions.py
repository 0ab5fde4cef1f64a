"""The guards' decisions (serve, or the rejecting guard and its reason) on every pair set,
compared between this tree and a git ref: a change to how the guards compute (cost) must
not change one of them.

    python scripts/guard_decisions.py                 # this tree against where it left main
    python scripts/guard_decisions.py --against REF   # against another commit
    python scripts/guard_decisions.py --dump OUT.json # only write this tree's decisions
    SHOW=100 python scripts/guard_decisions.py        # print up to 100 changed decisions (20)

Cases: every pair of fow-cache, benchmarks/data/guards_*.jsonl (but the held-out sets in
HELD_OUT, which only bench_cache_guards scores, as aggregates) and tests/guards/pairs.jsonl
both ways round, and the cost benchmark's long-prompt lookups (10/30/100 words, 3
candidates); each judged with the candidate parsed here and with its features read back
from what a cache entry stores (a fresh process, as another cache client).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Sets this script never prints and the pair scorer is never trained on: the held-out sets
# nobody may look at pair by pair or tune on (printing their changed decisions here would leak
# them into the rules) and traps9 / traps10, whose misses were read by hand once they had been
# scored untouched (2026-12-05, 13:45 UTC), and traps12, whose wrong answers were read the same
# way (2026-12-06, 02:50 UTC): they still judge the scorer. --exclude adds more.
HELD_OUT = frozenset(
    {
        "guards_traps5",
        "guards_traps6",
        "guards_traps7",
        "guards_traps8",
        "guards_traps9",
        "guards_traps10",
        "guards_traps11",
        "guards_traps12",
        "guards_traps13",
        "guards_traps14",
        "guards_traps15",
        "guards_traps16",
        "guards_traps17",
        "guards_traps18",
        "guards_traps19",
        "guards_traps20",
        "guards_traps21",
        "guards_traps22",
        "guards_traps23",
        "guards_traps24",
        "guards_traps25",
        "guards_traps26",
        "guards_traps27",
        "guards_traps28",
        "guards_traps29",
        "guards_traps30",
        "guards_traps31",
        "guards_traps32",
        "guards_val20",
        "guards_val21",
    }
)


def _cases(exclude: frozenset[str] = HELD_OUT) -> list[tuple[str, str, str]]:
    from redis_agent_core.cache.calibrate import load_pairs

    sets = {"fow-cache": load_pairs()}
    for path in sorted((ROOT / "benchmarks" / "data").glob("guards_*.jsonl")):
        if path.stem not in exclude:
            sets[path.stem] = load_pairs(path)
    sets["unit-test pairs"] = load_pairs(ROOT / "tests" / "guards" / "pairs.jsonl")
    cases = []
    for name, pairs in sets.items():
        for p in pairs:
            cases.append((name, p.query, p.cached))
            cases.append((name + " reversed", p.cached, p.query))
    # the cost benchmark's lookups: long prompts sharing a context (narrowed spans)
    texts = [p.cached for p in sets["fow-cache"]]
    rng = random.Random(14)
    for n in (10, 30, 100):
        for p in sets["fow-cache"]:
            question = p.query.split()
            context: list[str] = []
            while len(context) + len(question) < n:
                context = rng.choice(texts).split() + context
            context = context[len(context) + len(question) - n :] if len(question) < n else []
            words = context + question
            i = rng.randrange(len(words))
            swapped = [*words[:i], rng.choice(rng.choice(texts).split()), *words[i + 1 :]]
            renumbered = [
                "7" if w.isdigit() else ("Tuesday" if w == "Monday" else w) for w in words
            ]
            for c in (context + p.cached.split(), swapped, renumbered):
                cases.append((f"bench {n} words", " ".join(words), " ".join(c)))
    return cases


def dump(exclude: frozenset[str] = HELD_OUT) -> dict[str, list[list[str | None]]]:
    from redis_agent_core.cache.guards import Verifier, features

    cases = _cases(exclude)
    verifier = Verifier()  # the guards alone: the pair scorer is a model, not rules
    out: dict[str, list[list[str | None]]] = {}
    for mode in ("parsed", "stored"):
        features.cache_clear()
        stored = {}
        if mode == "stored":
            stored = {c: Verifier.features_of(c) for _, _, c in cases}
            features.cache_clear()
        rows = []
        for name, query, candidate in cases:
            if mode == "stored":
                Verifier.remember(candidate, stored[candidate])
            r = verifier.verify(query, candidate)
            rows.append(
                [
                    name,
                    query,
                    candidate,
                    None if r is None else r.guard,
                    None if r is None else r.reason,
                ]
            )
        out[mode] = rows
    return out


def _tree_of(ref: str, into: Path) -> None:
    blob = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "redis_agent_core"],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=BytesIO(blob)) as tar:
        tar.extractall(into, filter="data")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", help="a git ref (default: the merge base with main)")
    parser.add_argument("--dump")
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="STEM",
        help="another data set to leave out (always left out: " + ", ".join(sorted(HELD_OUT)) + ")",
    )
    args = parser.parse_args()
    exclude = HELD_OUT | {Path(e).stem for e in args.exclude}
    if args.against is None:
        args.against = subprocess.run(
            ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    if args.dump:
        Path(args.dump).write_bytes(json.dumps(dump(exclude)).encode())
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        _tree_of(args.against, base)
        # one hash seed for both: a reason naming the first word of a set depends on it
        for tree, out in ((base, "before.json"), (ROOT, "after.json")):
            env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="14")
            excludes = [a for e in sorted(exclude) for a in ("--exclude", e)]
            subprocess.run(
                [sys.executable, __file__, "--dump", str(Path(tmp) / out), *excludes],
                check=True,
                env=env,
                cwd=tree,
            )
        before = json.loads((Path(tmp) / "before.json").read_bytes())
        after = json.loads((Path(tmp) / "after.json").read_bytes())
    differ = 0
    for mode in after:
        for b, a in zip(before[mode], after[mode], strict=True):
            if b != a:
                differ += 1
                if differ <= int(os.environ.get("SHOW", "20")):
                    print(f"[{mode}] {a[0]}: {a[1]!r} / {a[2]!r}")
                    print(f"  before {b[3:]}\n  after  {a[3:]}")
    total = sum(len(rows) for rows in after.values())
    print(f"{total} decisions compared with {args.against}: {differ} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
