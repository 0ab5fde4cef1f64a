"""The semantic cache's band past its distance threshold, where the pair scorer must be surer.

Many prompts that share an answer sit a little past the distance threshold: reworded
("How do I stop my dog pulling on the lead?" / "My dog keeps tugging on the leash on
walks, how do I fix it?"), a question said as a request, a preface. The embedding alone
cannot tell them from the traps out there, but the guards and the pair scorer read the
two prompts themselves. So between ``distance_threshold`` and ``band_threshold`` a
candidate is served only when the guards pass it **and** the scorer gives it at least
the band's cut (a higher one than its own: ``DEFAULT_BAND_CUT``, or the ``"band_cut"``
of the scorer's ``.json`` when a scorer states one), and, for long prompts, the spans
they differ by are within ``band_threshold`` too.

One decision, :func:`band_rejection` / :func:`aband_rejection`, used by the cache's
lookups and by ``redis-agent cache evaluate`` / ``calibrate`` (:mod:`.calibrate`).
"""

from __future__ import annotations

import copy
from typing import Any

from ..embeddings import Embedder
from .guards import Rejection, Verifier
from .guards.scorer import read_meta
from .respell_pass import long_spans, pair_distance

__all__ = [
    "BAND_CUT_KEY",
    "DEFAULT_BAND_CUT",
    "DEFAULT_BAND_THRESHOLD",
    "aband_rejection",
    "band_cut",
    "band_rejection",
    "band_verifier",
    "default_band_threshold",
]

#: How far past the distance threshold the cache looks when the scorer is surer (cosine
#: distance), and the scorer's cut there. Chosen on our blind dev sets by true pairs served
#: minus ten times the wrong ones (tuned on: docs/cache-guards.md, "The band").
DEFAULT_BAND_THRESHOLD = 0.45
DEFAULT_BAND_CUT = 0.95
#: The key of a scorer's ``.json`` that overrides ``DEFAULT_BAND_CUT`` (a retrained scorer
#: states its own, chosen with it).
BAND_CUT_KEY = "band_cut"


def default_band_threshold(verifier: object, distance_threshold: float) -> float | None:
    """The band a cache uses by default: up to ``DEFAULT_BAND_THRESHOLD`` with a verifier
    that has an installed pair scorer, else None (the guards alone are not strict enough
    out there); None too when the distance threshold already reaches it."""
    scorer = getattr(verifier, "scorer", None)
    if verifier is None or scorer is None or not getattr(scorer, "installed", True):
        return None
    return DEFAULT_BAND_THRESHOLD if DEFAULT_BAND_THRESHOLD > distance_threshold else None


def band_cut(scorer: object) -> float:
    """The scorer's cut in the band: the ``"band_cut"`` of its weights' ``.json`` when it
    states one, else ``DEFAULT_BAND_CUT``; never below the scorer's own threshold."""
    cut = DEFAULT_BAND_CUT
    weights = getattr(scorer, "_weights", None)  # a PairScorer's file (its .json beside it)
    if weights is not None:
        stated = read_meta(weights).get(BAND_CUT_KEY)
        if isinstance(stated, (int, float)) and 0.0 <= stated <= 1.0:
            cut = float(stated)
    return max(cut, float(getattr(scorer, "threshold", 0.0)))


class _Surer:
    """A pair scorer asked at a higher cut (the band's): the same model, so nothing is
    loaded twice."""

    name = "scorer"

    def __init__(self, scorer: Any, cut: float) -> None:
        self._scorer = scorer
        self.threshold = cut

    @property
    def installed(self) -> bool:
        return bool(getattr(self._scorer, "installed", True))

    def rejects(self, stored: str, asked: str) -> str | None:
        if not getattr(self._scorer, "available", True):
            # a scorer that cannot run passes every pair (the guards alone decide within
            # the threshold); out here the guards alone are not strict enough
            return (
                "the pair scorer cannot run here (see the warning it logged), and past the "
                "distance threshold nothing is served without it"
            )
        p = self._scorer.probability(stored, asked)
        if p >= self.threshold:
            return None
        return (
            f"the pair model gives {p:.2f} that one answer serves both (needs {self.threshold:g} "
            "past the distance threshold)"
        )


def band_verifier(verifier: Verifier) -> Verifier:
    """``verifier`` with its pair scorer asked at the band's cut (:func:`band_cut`): the
    same guards, the same ``extra`` judge, the same model."""
    surer = copy.copy(verifier)
    surer.scorer = _Surer(verifier.scorer, band_cut(verifier.scorer))  # type: ignore[assignment]
    return surer


def band_rejection(
    prompt: str, candidate: str, embedder: Embedder, surer: Verifier, band: float
) -> Rejection | None:
    """Why the band does not serve ``candidate`` to ``prompt`` (None: served): ``surer``
    (from :func:`band_verifier`) refuses it, or the two long prompts' differing spans are
    farther apart than ``band``."""
    rejection = surer.verify(prompt, candidate)
    spans = long_spans(prompt, candidate) if rejection is None else None
    if spans is None:
        return rejection
    return _span(pair_distance(embedder.embed(list(spans))), band)


async def aband_rejection(
    prompt: str, candidate: str, embedder: Embedder, surer: Verifier, band: float
) -> Rejection | None:
    """Async :func:`band_rejection`."""
    rejection = await surer.averify(prompt, candidate)
    spans = long_spans(prompt, candidate) if rejection is None else None
    if spans is None:
        return rejection
    return _span(pair_distance(await embedder.aembed(list(spans))), band)


def _span(distance: float, band: float) -> Rejection | None:
    if distance <= band:
        return None
    return Rejection(
        "span",
        f"the parts the prompts differ by are {distance:.2f} apart (band {band}): a shared "
        "context made the whole prompts near",
    )
