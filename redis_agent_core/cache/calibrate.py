"""Choose a semantic-cache threshold knowingly: precision, recall and wrong answers per
category on labelled prompt pairs, with and without the verifier.

Pure functions shared by ``redis-agent cache calibrate``, ``redis-agent cache evaluate``,
the benchmark and the tests: both commands run :func:`calibrate` and differ only in what
they print. A pairs file is JSON Lines with ``stored`` (the cached prompt), ``asked`` (the
new prompt), ``same`` (true if one reply answers both) and optional ``id``, ``category``;
fow-cache's spelling ``a`` / ``b`` / ``same_answer`` is read too, and its
``data/pairs.jsonl`` (600 pairs, CC BY 4.0) is the default when installed.

Evaluating pairs directly approximates the cache: a pair counts as *served* when its
cosine distance is within the threshold and the verifier passes it, or when the cache's
second pass on a miss serves it (:mod:`.respell_pass`, the same decision the cache makes:
on by default with the pair scorer, as in the cache; ``respell=False`` turns it off), or
when the cache's band past the threshold serves it (:mod:`.band_pass`: the guards, and the
scorer at a higher cut; ``band=False`` turns it off). A
real cache compares a prompt with every stored entry, so its hit rate also depends on
what else is stored.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..embeddings import Embedder, default_embedder
from ..errors import ConfigError
from .band_pass import (
    DEFAULT_BAND_THRESHOLD,
    band_cut,
    band_rejection,
    band_verifier,
    default_band_threshold,
)
from .guards import DEFAULT_DISTANCE_THRESHOLD, Verifier, default_verifier
from .respell_pass import Respelling, default_respell_threshold, respell

__all__ = [
    "DEFAULT_DISTANCE_THRESHOLD",
    "DEFAULT_THRESHOLDS",
    "Band",
    "CalibrationReport",
    "CategoryResult",
    "LabelledPair",
    "SecondPass",
    "ThresholdResult",
    "band_pass",
    "by_category",
    "calibrate",
    "check_target_precision",
    "default_pairs_path",
    "evaluate",
    "format_evaluation",
    "format_report",
    "load_pairs",
    "pair_distances",
    "recommend_threshold",
    "second_pass",
    "verifier_passes",
]

#: Thresholds shown in the report table (cosine distance).
DEFAULT_THRESHOLDS: tuple[float, ...] = tuple(
    sorted({0.05, 0.1, 0.15, 0.2, 0.22, DEFAULT_DISTANCE_THRESHOLD, 0.25, 0.3, 0.35, 0.4})
)
#: The finer grid searched for the recommendation.
SEARCH_GRID: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(1, 61))


@dataclass(frozen=True, slots=True)
class LabelledPair:
    """``cached`` is the stored prompt, ``query`` the new one; ``same_answer`` the label."""

    cached: str
    query: str
    same_answer: bool
    category: str = "unlabelled"
    id: str = ""
    style: str = ""  # fow-cache: "minimal" (one edit) or "reworded"


@dataclass(frozen=True, slots=True)
class ThresholdResult:
    """What a cache at ``threshold`` would serve on the pairs."""

    threshold: float
    served: int
    correct: int
    wrong: int
    precision: float  # NaN when nothing is served
    recall: float  # served true pairs / all true pairs
    wrong_by_category: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CategoryResult:
    """One category's pairs at one threshold (``category == "all"`` for the total)."""

    category: str
    pairs: int
    true_pairs: int
    served: int
    correct: int
    wrong: int
    precision: float  # NaN when nothing is served
    recall: float  # NaN when the category has no true pairs


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """Both sides of the comparison plus the recommendation for ``target_precision``."""

    pairs: int
    true_pairs: int
    trap_categories: tuple[str, ...]
    target_precision: float
    without_verifier: list[ThresholdResult]
    with_verifier: list[ThresholdResult] | None
    recommended_without: ThresholdResult | None
    recommended_with: ThresholdResult | None
    # rejections by guard among pairs within the recommended (or default) threshold
    rejected_traps: Counter[str] = field(default_factory=Counter)
    rejected_true: Counter[str] = field(default_factory=Counter)
    # per category at ``evaluated_at`` (the recommended threshold, or the one asked for)
    evaluated_at: float = DEFAULT_DISTANCE_THRESHOLD
    categories: list[CategoryResult] = field(default_factory=list)
    # the second pass's reach (at a threshold t the cache's is max(it, t)); None: not run
    respell_threshold: float | None = None
    # the band's reach at ``evaluated_at``; None: not run, or no band at that threshold
    band_threshold: float | None = None
    band_cut: float | None = None  # the pair scorer's cut in the band


def default_pairs_path() -> Path | None:
    """fow-cache's ``data/pairs.jsonl`` when the package is installed, else ``None``."""
    try:
        from importlib.resources import files

        path = Path(str(files("fow_cache") / "data" / "pairs.jsonl"))
    except (ImportError, ModuleNotFoundError):
        return None
    return path if path.is_file() else None


def load_pairs(path: str | Path | None = None) -> list[LabelledPair]:
    """Read a JSON Lines pairs file (default: fow-cache's); errors name the line."""
    if path is None:
        path = default_pairs_path()
        if path is None:
            raise ConfigError(
                "no pairs file given and fow-cache is not installed: pass --pairs FILE.jsonl "
                "(lines with a, b, same_answer) or pip install fow-cache"
            )
    path = Path(path)
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"  # a directory: not "missing"
        raise ConfigError(f"pairs file {str(path)!r} {what}; pass an existing .jsonl")
    pairs: list[LabelledPair] = []
    try:
        handle = path.open("rb")
    except OSError as exc:  # unreadable (permissions): a message, not a traceback
        raise ConfigError(f"pairs file {str(path)!r} cannot be read: {exc.strerror}") from exc
    with handle:
        for number, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigError(
                    f"{path}:{number}: not UTF-8 ({exc.reason} at byte {exc.start}); "
                    "save the file as UTF-8"
                ) from exc
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if "stored" in row or "asked" in row or "same" in row:
                    a, b, same = row["stored"], row["asked"], row["same"]
                else:
                    a, b, same = row["a"], row["b"], row["same_answer"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ConfigError(
                    f"{path}:{number}: expected a JSON object with 'stored', 'asked' and "
                    f"'same' (or fow-cache's 'a', 'b', 'same_answer') "
                    f"({exc.__class__.__name__}: {exc})"
                ) from exc
            if not isinstance(a, str) or not isinstance(b, str) or not isinstance(same, bool):
                raise ConfigError(
                    f"{path}:{number}: the two prompts must be strings and the label "
                    "('same' / 'same_answer') a boolean (true or false)"
                )
            category = row.get("category")
            if category is not None and not isinstance(category, str):
                # 3 and "3" (or true and "True") would count as one category unseen
                raise ConfigError(
                    f"{path}:{number}: 'category' must be a string such as \"negation\" "
                    f"(or left out), got {category!r}; quote it"
                )
            pairs.append(
                LabelledPair(
                    a,
                    b,
                    same,
                    category or ("match" if same else "trap"),
                    str(row.get("id", number)),
                    str(row.get("style", "")),
                )
            )
    if not pairs:
        raise ConfigError(f"pairs file {str(path)!r} holds no pairs")
    return pairs


ProgressCallback = Callable[[int, int], object]  # (texts embedded so far, all texts)


def pair_distances(
    pairs: Sequence[LabelledPair],
    embedder: Embedder,
    progress: ProgressCallback | None = None,
    chunk: int = 64,
) -> np.ndarray:
    """Cosine distance (0 = identical, 2 = opposite) of each pair; each text embedded once,
    ``chunk`` at a time, reporting to ``progress(done, total)`` after each chunk."""
    texts = list(dict.fromkeys(t for p in pairs for t in (p.cached, p.query)))
    parts = []
    for start in range(0, len(texts), chunk):
        parts.append(np.asarray(embedder.embed(texts[start : start + chunk]), dtype=np.float32))
        if progress is not None:
            progress(min(start + chunk, len(texts)), len(texts))
    vectors: np.ndarray = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors / np.where(norms == 0, 1, norms)
    row = {t: i for i, t in enumerate(texts)}
    a = vectors[[row[p.cached] for p in pairs]]
    b = vectors[[row[p.query] for p in pairs]]
    return np.clip(1.0 - np.einsum("ij,ij->i", a, b), 0.0, 2.0)


def verifier_passes(
    pairs: Sequence[LabelledPair], verifier: Verifier
) -> tuple[np.ndarray, list[str | None]]:
    """Whether the verifier lets each pair through, and the rejecting guard's name."""
    guards: list[str | None] = []
    for p in pairs:
        rejection = verifier.verify(p.query, p.cached)
        guards.append(None if rejection is None else rejection.guard)
    return np.array([g is None for g in guards], dtype=bool), guards


@dataclass(frozen=True, slots=True)
class SecondPass:
    """The cache's second pass on a miss (:func:`.respell_pass.respell`) judged once on
    each pair, then applied at any threshold: at ``t`` it reaches ``max(band, t)``, as
    the cache's default ``respell_threshold`` does. ``found[i]`` is None for a pair with
    nothing to respell or farther than ``reach``."""

    band: float
    reach: float
    found: list[Respelling | None]

    def served(self, distances: np.ndarray, threshold: float) -> np.ndarray:
        """Which pairs the second pass serves at ``threshold``."""
        limit = max(self.band, threshold)
        if limit > self.reach + 1e-9:
            raise ConfigError(
                f"the second pass was judged up to {self.reach}, not {limit}: "
                "pass a wider reach to second_pass()"
            )
        return np.array(
            [
                r is not None and d <= limit and r.serves(threshold)
                for r, d in zip(self.found, distances, strict=True)
            ],
            dtype=bool,
        )


def second_pass(
    pairs: Sequence[LabelledPair],
    distances: np.ndarray,
    embedder: Embedder,
    verifier: Verifier,
    band: float,
    reach: float | None = None,
) -> SecondPass:
    """The second pass on each pair within ``reach`` (default ``band``): the asked
    prompt against the stored one, respelt, embedded again, verified, spans checked."""
    reach = band if reach is None else max(band, reach)
    found = [
        respell(p.query, p.cached, embedder, verifier) if d <= reach else None
        for p, d in zip(pairs, distances, strict=True)
    ]
    return SecondPass(band, reach, found)


@dataclass(frozen=True, slots=True)
class Band:
    """The cache's band past its threshold (:func:`.band_pass.band_rejection`) judged once
    on each pair within ``reach``, then applied at any threshold ``t``: it serves the pairs
    it passes past ``t`` up to the band a cache at ``t`` has by default
    (:func:`.band_pass.default_band_threshold`)."""

    verifier: Verifier
    reach: float
    passes: np.ndarray

    def served(self, distances: np.ndarray, threshold: float) -> np.ndarray:
        """Which pairs the band serves at ``threshold``."""
        limit = default_band_threshold(self.verifier, threshold)
        if limit is None:
            return np.zeros(len(distances), bool)
        d = np.asarray(distances)
        return (d > threshold) & (d <= min(limit, self.reach)) & self.passes


def band_pass(
    pairs: Sequence[LabelledPair],
    distances: np.ndarray,
    embedder: Embedder,
    verifier: Verifier,
    reach: float | None = None,
) -> Band | None:
    """The band on each pair within ``reach`` (default: the band of a cache at the
    narrowest threshold); None when ``verifier`` has no band (no pair scorer)."""
    widest = default_band_threshold(verifier, 0.0)
    if widest is None:
        return None
    reach = widest if reach is None else reach
    surer = band_verifier(verifier)
    passes = np.array(
        [
            d <= reach and band_rejection(p.query, p.cached, embedder, surer, reach) is None
            for p, d in zip(pairs, distances, strict=True)
        ],
        dtype=bool,
    )
    return Band(verifier, reach, passes)


def check_target_precision(value: float) -> float:
    """Validate a target precision (a share in (0, 1], e.g. 0.95)."""
    if not 0.0 < value <= 1.0:  # also refuses NaN
        raise ConfigError(f"target precision {value} must be between 0 and 1 (e.g. 0.95 for 95 %)")
    return float(value)


def _check_threshold(value: float) -> float:
    if not 0.0 <= value <= 2.0:  # also refuses NaN
        raise ConfigError(
            f"threshold {value} is not a cosine distance: use 0 (identical) to 2 (opposite); "
            "a similarity s corresponds to distance 1 - s"
        )
    return float(value)


def evaluate(
    pairs: Sequence[LabelledPair],
    distances: np.ndarray,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    passes: np.ndarray | None = None,
    second: SecondPass | None = None,
    band: Band | None = None,
) -> list[ThresholdResult]:
    """Precision, recall and wrong answers per category at each threshold.

    ``passes`` (from :func:`verifier_passes`) turns the verifier on; ``None`` is
    embedding-only. ``second`` (from :func:`second_pass`) adds what the cache's second
    pass on a miss serves, ``band`` (from :func:`band_pass`) what its band serves.
    """
    if len(distances) != len(pairs):
        raise ConfigError(f"{len(distances)} distances for {len(pairs)} pairs")
    labels = np.array([p.same_answer for p in pairs], dtype=bool)
    allowed = np.ones(len(pairs), dtype=bool) if passes is None else np.asarray(passes, bool)
    true_total = int(labels.sum())
    results = []
    for threshold in thresholds:
        served = (distances <= _check_threshold(threshold)) & allowed
        if second is not None:
            served |= second.served(distances, threshold)
        if band is not None:
            served |= band.served(distances, threshold)
        correct = int((served & labels).sum())
        wrong_idx = np.flatnonzero(served & ~labels)
        n = int(served.sum())
        results.append(
            ThresholdResult(
                threshold=float(threshold),
                served=n,
                correct=correct,
                wrong=len(wrong_idx),
                precision=correct / n if n else math.nan,
                recall=correct / true_total if true_total else math.nan,
                wrong_by_category=dict(Counter(pairs[int(i)].category for i in wrong_idx)),
            )
        )
    return results


def by_category(
    pairs: Sequence[LabelledPair],
    distances: np.ndarray,
    threshold: float,
    passes: np.ndarray | None = None,
    second: SecondPass | None = None,
    band: Band | None = None,
) -> list[CategoryResult]:
    """Precision, recall and wrong answers of each category at ``threshold``, then
    ``all``; ``passes``, ``second`` and ``band`` as in :func:`evaluate`."""
    served = np.asarray(distances) <= _check_threshold(threshold)
    if passes is not None:
        served &= np.asarray(passes, bool)
    if second is not None:
        served |= second.served(np.asarray(distances), threshold)
    if band is not None:
        served |= band.served(np.asarray(distances), threshold)
    labels = np.array([p.same_answer for p in pairs], dtype=bool)
    names = np.array([p.category for p in pairs], dtype=object)
    rows = []
    for name in [*sorted(set(names)), "all"]:
        mask = np.ones(len(pairs), bool) if name == "all" else names == name
        n_true, n_served = int((mask & labels).sum()), int((mask & served).sum())
        correct = int((mask & served & labels).sum())
        rows.append(
            CategoryResult(
                category=name,
                pairs=int(mask.sum()),
                true_pairs=n_true,
                served=n_served,
                correct=correct,
                wrong=n_served - correct,
                precision=correct / n_served if n_served else math.nan,
                recall=correct / n_true if n_true else math.nan,
            )
        )
    return rows


def recommend_threshold(
    results: Sequence[ThresholdResult], target_precision: float
) -> ThresholdResult | None:
    """The threshold with the highest recall whose precision reaches the target, among
    the thresholds below the first one where precision falls under it (``None`` if none
    does). Precision is cumulative: once a band of wrong answers pulls it under the target,
    a wider threshold only dilutes that band with easy pairs further out, and the wrong
    answers in it are still served. When neighbouring thresholds serve exactly the same
    pairs' counts, the middle of that run is taken: its lower end sits just above the last
    pair it gained, its upper end just below the next change."""
    check_target_precision(target_precision)
    ordered = sorted(results, key=lambda r: r.threshold)
    ok: list[ThresholdResult] = []
    for r in ordered:
        if r.served and r.precision < target_precision:
            break
        if r.served:
            ok.append(r)
    if not ok:
        return None
    best = max(ok, key=lambda r: (r.recall, -r.threshold))
    start = end = ordered.index(best)
    same = (best.served, best.correct, best.precision, best.recall)
    while end + 1 < len(ordered) and same == (
        (n := ordered[end + 1]).served,
        n.correct,
        n.precision,
        n.recall,
    ):
        end += 1
    return ordered[(start + end) // 2]


def calibrate(
    pairs: Sequence[LabelledPair],
    *,
    embedder: Embedder | None = None,
    verifier: Verifier | None = None,
    use_verifier: bool = True,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    target_precision: float = 0.95,
    distances: np.ndarray | None = None,
    evaluate_at: float | None = None,
    progress: ProgressCallback | None = None,
    respell: bool = True,
    band: bool = True,
) -> CalibrationReport:
    """Embed the pairs (unless ``distances`` are given) and evaluate both ways.

    With the verifier, a pair is also served when the cache's second pass on a miss
    serves it (:func:`second_pass`), run as the cache runs it by default (with a verifier
    that has the pair scorer, reaching ``max(0.45, threshold)``); ``respell=False`` leaves
    it out, as ``SemanticCache(respell_threshold=None)`` does. So is the cache's band past
    the threshold (:func:`band_pass`, with a verifier that has the pair scorer); ``band=False``
    leaves it out, as ``SemanticCache(band_threshold=None)`` does.

    The per-category breakdown is taken at ``evaluate_at`` when given (what ``cache
    evaluate`` reports for the threshold in use), else at the recommended threshold
    with the verifier (or the default one when none reaches the target)."""
    check_target_precision(target_precision)  # before the slow part
    for t in thresholds:
        _check_threshold(t)
    if evaluate_at is not None:
        _check_threshold(evaluate_at)
    embedder = embedder or default_embedder()
    if distances is None:
        distances = pair_distances(pairs, embedder, progress)
    grid = sorted(set(SEARCH_GRID) | {float(t) for t in thresholds})
    without = evaluate(pairs, distances, grid)
    with_rows: list[ThresholdResult] | None = None
    rec_with = None
    rejected_traps: Counter[str] = Counter()
    rejected_true: Counter[str] = Counter()
    passes = None
    second = None
    surer = None
    limit = evaluate_at
    if use_verifier:
        verifier = verifier or default_verifier()
        passes, guards = verifier_passes(pairs, verifier)
        respelt = default_respell_threshold(verifier, 0.0) if respell else None
        if respelt is not None:
            reach = max([*grid, *([] if limit is None else [limit])])
            second = second_pass(pairs, distances, embedder, verifier, respelt, reach)
        surer = band_pass(pairs, distances, embedder, verifier) if band else None
        with_rows = evaluate(pairs, distances, grid, passes, second, surer)
        rec_with = recommend_threshold(with_rows, target_precision)
        if limit is None:
            limit = rec_with.threshold if rec_with else DEFAULT_DISTANCE_THRESHOLD
        again = np.zeros(len(pairs), bool) if second is None else second.served(distances, limit)
        if surer is not None:
            again |= surer.served(distances, limit)
        for p, d, g, served in zip(pairs, distances, guards, again, strict=True):
            if g is not None and d <= limit and not served:
                (rejected_true if p.same_answer else rejected_traps)[g] += 1
    if limit is None:
        rec = recommend_threshold(without, target_precision)
        limit = rec.threshold if rec else DEFAULT_DISTANCE_THRESHOLD
    shown = {float(t) for t in thresholds}
    return CalibrationReport(
        pairs=len(pairs),
        true_pairs=sum(p.same_answer for p in pairs),
        trap_categories=tuple(sorted({p.category for p in pairs if not p.same_answer})),
        target_precision=target_precision,
        without_verifier=[r for r in without if r.threshold in shown],
        with_verifier=None if with_rows is None else [r for r in with_rows if r.threshold in shown],
        recommended_without=recommend_threshold(without, target_precision),
        recommended_with=rec_with,
        rejected_traps=rejected_traps,
        rejected_true=rejected_true,
        evaluated_at=float(limit),
        categories=by_category(pairs, distances, limit, passes, second, surer),
        respell_threshold=None if second is None else second.band,
        band_threshold=None if surer is None else default_band_threshold(verifier, limit),
        band_cut=None if surer is None else band_cut(surer.verifier.scorer),
    )


def _fmt(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.3f}"


def _table(rows: Sequence[ThresholdResult], categories: Sequence[str]) -> list[str]:
    head = "| threshold | served | precision | recall | wrong | " + " / ".join(categories) + " |"
    lines = [head, "|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        per = " / ".join(str(r.wrong_by_category.get(c, 0)) for c in categories)
        lines.append(
            f"| {r.threshold:.2f} | {r.served} | {_fmt(r.precision)} | {_fmt(r.recall)} | "
            f"{r.wrong} | {per} |"
        )
    return lines


def _recommendation(label: str, r: ThresholdResult | None, target: float) -> str:
    if r is None:
        return f"- {label}: no threshold reaches precision {target:.2f}"
    return (
        f"- {label}: **{r.threshold:.2f}** (precision {_fmt(r.precision)}, "
        f"recall {_fmt(r.recall)}, {r.wrong} wrong of {r.served} served)"
    )


def format_report(report: CalibrationReport) -> str:
    """The report as Markdown: one table per side, then the recommendations."""
    cats = report.trap_categories
    out = [
        f"{report.pairs} labelled pairs ({report.true_pairs} that share an answer); "
        f"cosine distance (0 = identical, 2 = opposite). Wrong answers served per trap "
        f"category: {' / '.join(cats) or 'none'}.",
        "",
        "Embedding only:",
        "",
        *_table(report.without_verifier, cats),
    ]
    if report.with_verifier is not None:
        band = report.respell_threshold
        side = "With the verifier" + (
            " (no second pass on a miss)"
            if band is None
            else " and the cache's second pass on a miss (typos and short names respelt, "
            f"up to max({band:.2f}, threshold))"
        )
        if report.band_cut is not None:
            side += (
                f" and its band past the threshold (up to {DEFAULT_BAND_THRESHOLD:.2f}: the "
                f"guards, and the pair scorer at {report.band_cut:g})"
            )
        side += ":"
        out += ["", side, "", *_table(report.with_verifier, cats)]
    out += [
        "",
        f"Recommended threshold for precision ≥ {report.target_precision:.2f} "
        "(highest recall on a 0.01 grid):",
        _recommendation("embedding only", report.recommended_without, report.target_precision),
    ]
    if report.with_verifier is not None:
        out.append(
            _recommendation("with the verifier", report.recommended_with, report.target_precision)
        )
        if report.rejected_traps or report.rejected_true:
            out.append(
                f"- within {report.evaluated_at:.2f} the guards rejected traps: "
                + (", ".join(f"{g} {n}" for g, n in report.rejected_traps.most_common()) or "none")
                + "; true pairs: "
                + (", ".join(f"{g} {n}" for g, n in report.rejected_true.most_common()) or "none")
            )
    out += [
        "",
        f"Per category at {report.evaluated_at:.2f}:",
        "",
        *_category_table(report.categories),
    ]
    return "\n".join(out)


def _category_table(rows: Sequence[CategoryResult]) -> list[str]:
    lines = [
        "| category | pairs | should hit | served | precision | recall | wrong answers |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        name = f"**{r.category}**" if r.category == "all" else r.category
        lines.append(
            f"| {name} | {r.pairs} | {r.true_pairs} | {r.served} | {_fmt(r.precision)} | "
            f"{_fmt(r.recall)} | {r.wrong} |"
        )
    return lines


def format_evaluation(report: CalibrationReport, *, guards: bool = True) -> str:
    """Per-category precision, recall and wrong answers served at ``evaluated_at``."""
    side = "with the verifier" if guards else "embedding only"
    if guards:
        band = report.respell_threshold
        side += (
            " and no second pass on a miss"
            if band is None
            else f" and the second pass on a miss (typos and short names respelt, up to "
            f"{max(band, report.evaluated_at):.2f})"
        )
        if report.band_threshold is not None and report.band_cut is not None:
            side += (
                f" and the band past the threshold (up to {report.band_threshold:.2f}: the "
                f"guards, and the pair scorer at {report.band_cut:g})"
            )
    out = [
        f"{report.pairs} labelled pairs ({report.true_pairs} that share an answer); "
        f"threshold {report.evaluated_at:.2f} (cosine distance), {side}.",
        "",
        *_category_table(report.categories),
    ]
    if guards and (report.rejected_traps or report.rejected_true):
        out += [
            "",
            "Rejections within the threshold: traps "
            + (", ".join(f"{g} {n}" for g, n in report.rejected_traps.most_common()) or "none")
            + "; pairs that should hit "
            + (", ".join(f"{g} {n}" for g, n in report.rejected_true.most_common()) or "none")
            + ".",
        ]
    return "\n".join(out)
