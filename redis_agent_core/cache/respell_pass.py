"""The semantic cache's second pass on a miss, for one (prompt, candidate) pair.

A misspelt word or a short name moves a short prompt's embedding a lot ("reset password"
/ "resett pasword": 0.56; "What is the history of the National Aeronautics and Space
Administration?" / "...of NASA?": 0.45). On a miss, :class:`~.semantic.SemanticCache`
looks again at the candidates its search returned (those the verifier refused, then those
past the distance threshold up to ``respell_threshold``) and serves one only when the pair,
its misspelt words and short names written as the other side writes them, is the same
words, or is within the distance threshold embedded again, passes the verifier and, for
long prompts, its differing spans are near too.

One decision, :func:`respell` / :func:`arespell` (sync and async drive the same pure steps,
:func:`_steps`), used by the cache's lookups and by ``redis-agent cache evaluate`` /
``calibrate`` (:mod:`.calibrate`), so that the figures they print describe what the cache
serves.
"""

from __future__ import annotations

import inspect
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..embeddings import Embedder
from .guards import Rejection, Verifier, narrowed, respelt

__all__ = [
    "RESPELL_DISTANCE_THRESHOLD",
    "Respelling",
    "arespell",
    "default_respell_threshold",
    "long_spans",
    "pair_distance",
    "respell",
]

# How far the second pass of a miss reaches (``respell_threshold``). Chosen on
# benchmarks/data/guards_dev_wide23.jsonl (tuned on: see docs/cache-guards.md).
RESPELL_DISTANCE_THRESHOLD = 0.45
_RESPELL_ROUNDS = 3


def default_respell_threshold(verifier: object, distance_threshold: float) -> float | None:
    """The second pass's reach a cache uses by default: ``RESPELL_DISTANCE_THRESHOLD``
    (or the distance threshold when wider) with a verifier that has an installed pair
    scorer, else None (without the scorer the second pass is not strict enough)."""
    scorer = getattr(verifier, "scorer", None)
    if verifier is None or scorer is None or not getattr(scorer, "installed", True):
        return None
    return max(RESPELL_DISTANCE_THRESHOLD, distance_threshold)


def respelt_pair(prompt: str, candidate: str) -> tuple[str, str] | None:
    """``(prompt, candidate)`` with misspelt words and short names written as the other
    side writes them, or None when there is none (the second pass skips the pair).
    Respelt again while that changes something: a word misspelt next to a short name is
    aligned with its own once the name is written out ("the SEC reguate" / "the
    Securities and Exchange Commission regulate")."""
    fixed = (candidate, prompt)
    for _ in range(_RESPELL_ROUNDS):
        again = respelt(*fixed)
        if again == fixed:
            break
        fixed = again
    return None if fixed == (candidate, prompt) else (fixed[1], fixed[0])


def long_spans(prompt: str, candidate: str) -> tuple[str, str] | None:
    """The spans two long prompts differ by (with a few words around them), or None
    when they share too little at their ends to be narrowed (short prompts)."""
    if prompt == candidate:
        return None
    spans = narrowed(prompt, candidate)
    return None if spans == (prompt, candidate) else spans


def pair_distance(vectors: Any) -> float:
    """Cosine distance of the two embeddings in ``vectors`` (1 when one is zero)."""
    a, b = np.asarray(vectors[0], np.float64), np.asarray(vectors[1], np.float64)
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 1.0 - float(a @ b) / norms if norms else 1.0


@dataclass(frozen=True, slots=True)
class Respelling:
    """What the second pass found for one pair. ``distance``: the respelt pair's, embedded
    again (0 for the same words); ``rejection``: the verifier's on the respelt pair (None:
    passed; not asked when the distance already refused it, see :func:`respell`);
    ``verified``: whether the verifier was asked; ``span``: the distance of the long
    prompts' differing spans (None: short prompts, or not reached)."""

    pair: tuple[str, str]
    same_words: bool
    distance: float
    verified: bool = False
    rejection: Rejection | None = None
    span: float | None = None

    def serves(self, threshold: float) -> bool:
        """Whether the cache at ``threshold`` serves the candidate in its second pass."""
        if self.same_words:
            return self.rejection is None  # only the verifier's extra judge can refuse
        return (
            self.distance <= threshold
            and self.verified
            and self.rejection is None
            and (self.span is None or self.span <= threshold)
        )


# A step asks its driver to embed two texts ("embed") or to verify a pair ("verify").
_Step = tuple[str, tuple[str, str]]


def _steps(
    prompt: str, candidate: str, threshold: float | None
) -> Generator[_Step, Any, Respelling | None]:
    """The second pass's decision as pure steps (the drivers embed and verify). With
    ``threshold``, stops at the first step that refuses the pair at it (the cache: no
    scorer call for a pair already too far); with None, runs every step (calibrate, which
    judges one pair at many thresholds)."""
    fixed = respelt_pair(prompt, candidate)
    if fixed is None:
        return None
    if fixed[0].lower().split() == fixed[1].lower().split():
        # the same words: the guards and the scorer have nothing to compare, but the
        # verifier's extra judge (the user's own rule) is asked, as on every pair served
        rejection = yield ("judge", fixed)
        return Respelling(fixed, True, 0.0, rejection=rejection)
    distance = pair_distance((yield ("embed", fixed)))
    found = Respelling(fixed, False, distance)
    if threshold is not None and distance > threshold:
        return found
    rejection = yield ("verify", fixed)
    found = Respelling(fixed, False, distance, True, rejection)
    spans = long_spans(*fixed)
    if rejection is not None or spans is None:
        return found
    span = pair_distance((yield ("embed", spans)))
    return Respelling(fixed, False, distance, True, None, span)


def _advance(
    steps: Generator[_Step, Any, Respelling | None], reply: Any
) -> _Step | Respelling | None:
    """Send ``reply`` (the driver's answer to the last step) on: the next step, or the
    decision once the steps are done."""
    try:
        return steps.send(reply)
    except StopIteration as done:
        result: Respelling | None = done.value
        return result


def respell(
    prompt: str,
    candidate: str,
    embedder: Embedder,
    verifier: Verifier,
    threshold: float | None = None,
) -> Respelling | None:
    """The second pass on one pair (None: nothing to respell, skipped); ``threshold`` as
    in :func:`_steps`. ``verifier`` sees the respelt pair, not the prompt as typed."""
    steps = _steps(prompt, candidate, threshold)
    step = _advance(steps, None)
    while isinstance(step, tuple):
        kind, pair = step
        reply: Any
        if kind == "embed":
            reply = embedder.embed(list(pair))
        elif kind == "judge":
            reply = _judged(_extra(verifier, pair))
        else:
            reply = verifier.verify(*pair)
        step = _advance(steps, reply)
    return step


def _extra(verifier: Verifier, pair: tuple[str, str]) -> Any:
    """What the verifier's ``extra`` judge says of ``pair`` (True with none)."""
    extra = getattr(verifier, "extra", None)
    return True if extra is None else extra(*pair)


def _judged(result: Any) -> Rejection | None:
    """The ``custom`` rejection of the extra judge's ``result`` (awaited already, or an
    awaitable a sync lookup cannot wait for: ``TypeError``, as ``Verifier.verify``)."""
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError(
            "the extra verifier is async: call averify() (the async cache paths do), or "
            "pass a sync function"
        )
    return None if result else Rejection("custom", "rejected by the extra verifier")


async def arespell(
    prompt: str,
    candidate: str,
    embedder: Embedder,
    verifier: Verifier,
    threshold: float | None = None,
) -> Respelling | None:
    """Async :func:`respell` (the embedder's and verifier's async methods)."""
    steps = _steps(prompt, candidate, threshold)
    step = _advance(steps, None)
    while isinstance(step, tuple):
        kind, pair = step
        reply: Any
        if kind == "embed":
            reply = await embedder.aembed(list(pair))
        elif kind == "judge":
            result = _extra(verifier, pair)
            reply = _judged(await result if inspect.isawaitable(result) else result)
        else:
            reply = await verifier.averify(*pair)
        step = _advance(steps, reply)
    return step
