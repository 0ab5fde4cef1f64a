"""Calibration: pure evaluation functions, the pairs loader, the CLI, and the guards on
fow-cache's labelled pairs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from redis_agent_core.cache.calibrate import (
    DEFAULT_DISTANCE_THRESHOLD,
    LabelledPair,
    ThresholdResult,
    by_category,
    calibrate,
    default_pairs_path,
    evaluate,
    format_evaluation,
    format_report,
    load_pairs,
    pair_distances,
    recommend_threshold,
    verifier_passes,
)
from redis_agent_core.cache.guards import GUARDS_DISTANCE_THRESHOLD, Verifier
from redis_agent_core.cli import main
from redis_agent_core.embeddings import CallableEmbedder, default_embedder
from redis_agent_core.errors import ConfigError

PAIRS = [
    LabelledPair("Cancel my order", "How do I cancel my order?", True, "paraphrase"),
    LabelledPair("Cancel my order", "Don't cancel my order", False, "negation"),
    LabelledPair("Convert 5 miles", "Convert 50 miles", False, "number"),
    LabelledPair("Open hours?", "When are you open?", True, "paraphrase"),
]
DISTANCES = np.array([0.08, 0.05, 0.12, 0.30])


def test_evaluate_counts_served_pairs_per_threshold() -> None:
    rows = evaluate(PAIRS, DISTANCES, [0.05, 0.1, 0.2, 0.4])
    assert [r.served for r in rows] == [1, 2, 3, 4]
    assert [r.correct for r in rows] == [0, 1, 1, 2]
    assert rows[0].precision == 0.0 and rows[0].wrong_by_category == {"negation": 1}
    assert rows[2].wrong_by_category == {"negation": 1, "number": 1}
    assert rows[3].recall == 1.0 and rows[3].precision == 0.5


def test_evaluate_with_verifier_serves_only_passing_pairs() -> None:
    passes, guards = verifier_passes(PAIRS, Verifier())
    assert passes.tolist() == [True, False, False, True]
    assert guards == [None, "negation", "number", None]
    rows = evaluate(PAIRS, DISTANCES, [0.2, 0.4], passes)
    assert (rows[0].served, rows[0].wrong, rows[0].precision) == (1, 0, 1.0)
    assert rows[1].recall == 1.0


def test_nothing_served_has_undefined_precision() -> None:
    (row,) = evaluate(PAIRS, DISTANCES, [0.0])
    assert row.served == 0 and math.isnan(row.precision)
    assert recommend_threshold([row], 0.9) is None


def test_recommendation_is_the_highest_recall_reaching_the_target() -> None:
    def row(t: float, p: float, r: float) -> ThresholdResult:
        return ThresholdResult(t, 10, int(10 * p), 10 - int(10 * p), p, r)

    rows = [row(0.1, 1.0, 0.3), row(0.2, 0.96, 0.5), row(0.3, 0.9, 0.7), row(0.4, 0.95, 0.6)]
    # precision is not monotonic: 0.4 reaches the target again, but it still serves the
    # wrong answers that pulled 0.3 under it
    assert recommend_threshold(rows, 0.95).threshold == 0.2
    assert recommend_threshold(rows, 0.9).threshold == 0.3
    assert recommend_threshold(rows, 0.99).threshold == 0.1
    assert recommend_threshold(rows, 1.0).threshold == 0.1
    with pytest.raises(ConfigError, match="target precision"):
        recommend_threshold(rows, 95)


def test_recommendation_takes_the_middle_of_thresholds_serving_the_same_pairs() -> None:
    def row(t: float, served: int, correct: int) -> ThresholdResult:
        return ThresholdResult(t, served, correct, served - correct, correct / served, correct / 8)

    rows = [row(0.1, 4, 4), row(0.2, 6, 6), row(0.3, 6, 6), row(0.4, 6, 6), row(0.5, 9, 7)]
    assert recommend_threshold(rows, 0.95).threshold == 0.3  # 0.2-0.4 serve the same
    assert recommend_threshold(rows[:3], 0.95).threshold == 0.2  # two: the lower
    assert recommend_threshold([*rows[:2], row(0.3, 7, 6)], 0.8).threshold == 0.2


def test_thresholds_are_cosine_distances() -> None:
    with pytest.raises(ConfigError, match="cosine distance"):
        evaluate(PAIRS, DISTANCES, [2.5])


def test_pair_distances_embed_each_text_once_and_normalise() -> None:
    seen: list[str] = []

    def embed(texts: list[str]) -> list[list[float]]:
        seen.extend(texts)
        # unnormalised vectors: the distance must not depend on their length
        return [[3.0, 0.0] if "cancel" in t.lower() else [0.0, 2.0] for t in texts]

    distances = pair_distances(PAIRS, CallableEmbedder(embed))
    assert len(seen) == len(set(seen)) == 7  # "Cancel my order" appears twice, embedded once
    np.testing.assert_allclose(distances, [0.0, 0.0, 0.0, 0.0], atol=1e-6)
    far = pair_distances([LabelledPair("cancel", "other", False)], CallableEmbedder(embed))
    np.testing.assert_allclose(far, [1.0], atol=1e-6)


def test_report_shows_both_sides_and_the_recommendation() -> None:
    report = calibrate(PAIRS, distances=DISTANCES, thresholds=[0.1, 0.3], target_precision=0.95)
    assert report.recommended_without is None  # a trap sits nearest
    assert report.recommended_with is not None and report.recommended_with.precision == 1.0
    assert report.rejected_traps == {"negation": 1, "number": 1}
    text = format_report(report)
    assert "Embedding only:" in text and "With the verifier" in text
    assert "| 0.10 | 2 | 0.500 | 0.500 | 1 | 1 / 0 |" in text  # negation / number
    assert "embedding only: no threshold reaches precision 0.95" in text
    without = calibrate(PAIRS, distances=DISTANCES, use_verifier=False)
    assert without.with_verifier is None and "With the verifier" not in format_report(without)


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_load_pairs_reads_labels_and_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            json.dumps({"a": "x", "b": "y", "same_answer": True}),
            "",
            json.dumps({"a": "x", "b": "z", "same_answer": False, "category": "negation"}),
        ],
    )
    pairs = load_pairs(path)
    assert [(p.cached, p.query, p.same_answer, p.category) for p in pairs] == [
        ("x", "y", True, "match"),
        ("x", "z", False, "negation"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", r"pairs.jsonl:2: expected a JSON object"),
        (json.dumps({"a": "x", "same_answer": True}), r":2: expected .* 'b'"),
        (json.dumps({"a": "x", "b": "y", "same_answer": "yes"}), r":2: .*must be .* a boolean"),
        # attack28: counted as category "3" (or "True"), beside a "3" written as a string
        (
            json.dumps({"a": "x", "b": "y", "same_answer": True, "category": 3}),
            r":2: 'category' must",
        ),
        (
            json.dumps({"a": "x", "b": "y", "same_answer": True, "category": ["a"]}),
            r":2: 'category' must be a string .*got \['a'\]; quote it",
        ),
    ],
)
def test_load_pairs_names_the_bad_line(tmp_path: Path, line: str, message: str) -> None:
    path = _write(tmp_path, [json.dumps({"a": "x", "b": "y", "same_answer": True}), line])
    with pytest.raises(ConfigError, match=message):
        load_pairs(path)


def test_load_pairs_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_pairs(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="is not a file"):  # said "does not exist"
        load_pairs(tmp_path)
    with pytest.raises(ConfigError, match="holds no pairs"):
        load_pairs(_write(tmp_path, [""]))


def _fow_pairs() -> list[LabelledPair]:
    if default_pairs_path() is None:
        pytest.skip("fow-cache is not installed")
    return load_pairs()


def test_guards_on_fow_cache_pairs() -> None:
    """Independent of distances: the guards let true pairs through and stop traps."""
    pairs = _fow_pairs()
    assert len(pairs) == 600
    passes, _ = verifier_passes(pairs, Verifier())
    labels = np.array([p.same_answer for p in pairs])
    assert passes[labels].mean() >= 0.9  # paraphrases and near repeats still hit
    assert (~passes[~labels]).mean() >= 0.8  # traps rejected
    # minimal-edit traps (one word changed) are the ones embeddings cannot separate
    minimal = np.array([not p.same_answer and p.style == "minimal" for p in pairs])
    assert minimal.sum() >= 100
    assert (~passes[minimal]).mean() >= 0.9


@pytest.mark.slow
def test_calibrate_with_the_default_model_on_own_pairs(own_pairs: list[LabelledPair]) -> None:
    report = calibrate(own_pairs, embedder=default_embedder(), target_precision=0.95)
    at_default = {r.threshold: r for r in report.with_verifier or []}[DEFAULT_DISTANCE_THRESHOLD]
    plain = {r.threshold: r for r in report.without_verifier}[DEFAULT_DISTANCE_THRESHOLD]
    # our traps sit as close as paraphrases: embeddings alone serve many wrong answers
    assert plain.precision < 0.8 and plain.wrong >= 20
    assert at_default.precision >= 0.95 and at_default.recall >= 0.8
    assert report.recommended_with is not None


@pytest.mark.slow
def test_cli_cache_calibrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default_embedder()  # the CLI uses the process-wide model; load it once
    path = _write(
        tmp_path,
        [
            json.dumps(
                {"a": p.cached, "b": p.query, "same_answer": p.same_answer, "category": p.category}
            )
            for p in PAIRS
        ],
    )
    code = main(["cache", "calibrate", "--pairs", str(path), "--thresholds", "0.1,0.3"])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0
    # the summary line of a long command (the bar itself shows on a terminal only)
    assert f"evaluated {len(PAIRS)} pairs in " in captured.err
    assert "| 0.10 |" in out and "| 0.30 |" in out and "| 0.20 |" not in out
    assert "Recommended threshold for precision ≥ 0.95" in out


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cache", "calibrate", "--pairs", str(tmp_path / "missing.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cache", "calibrate", "--thresholds", "a,b"])
    assert "comma-separated cosine distances" in capsys.readouterr().err


def test_cli_bad_pairs_line_is_named_before_any_embedding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import redis_agent_core.embeddings as embeddings

    def no_model() -> None:
        raise AssertionError("the model must not load for a bad file")

    monkeypatch.setattr(embeddings, "default_embedder", no_model)
    good = json.dumps({"a": "x", "b": "y", "same_answer": True})
    bad_lines = [
        '{"a": "x", "b": "y"',  # truncated JSON
        json.dumps(["x", "y", True]),  # not an object
        json.dumps({"a": "x", "b": 3, "same_answer": True}),
    ]
    for bad in bad_lines:
        path = _write(tmp_path, [good, "", bad])
        assert main(["cache", "calibrate", "--pairs", str(path)]) == 2
        err = capsys.readouterr().err
        assert f"{path}:3:" in err, err
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(good.encode() + b"\n" + '{"a": "caf\xe9"}'.encode("latin-1") + b"\n")
    assert main(["cache", "calibrate", "--pairs", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:2:" in err and "UTF-8" in err, err


def test_load_pairs_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_text(json.dumps({"a": "x", "b": "y", "same_answer": True}) + "\n", "utf-8-sig")
    assert [(p.cached, p.query) for p in load_pairs(path)] == [("x", "y")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-precision", "95"], "between 0 and 1"),
        (["--thresholds", "0.1,5"], "cosine distances"),
        (["--thresholds", "nan"], "cosine distances"),
    ],
)
def test_cli_rejects_bad_options_up_front(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["cache", "calibrate", *args])
    assert message in capsys.readouterr().err


def test_load_pairs_reads_the_stored_asked_same_spelling(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            json.dumps({"stored": "x", "asked": "y", "same": True, "category": "paraphrase"}),
            json.dumps({"stored": "x", "asked": "z", "same_answer": False}),
        ],
    )
    with pytest.raises(ConfigError, match=r":2: expected .*'stored', 'asked' and 'same'"):
        load_pairs(path)
    path.write_text(path.read_text().splitlines()[0] + "\n")
    (pair,) = load_pairs(path)
    assert (pair.cached, pair.query, pair.same_answer, pair.category) == (
        "x",
        "y",
        True,
        "paraphrase",
    )


def test_by_category_counts_each_category_and_the_total() -> None:
    passes, _ = verifier_passes(PAIRS, Verifier())
    rows = {r.category: r for r in by_category(PAIRS, DISTANCES, 0.2, passes)}
    assert list(rows) == ["negation", "number", "paraphrase", "all"]
    assert (rows["paraphrase"].served, rows["paraphrase"].recall) == (1, 0.5)
    assert rows["negation"].wrong == 0 and math.isnan(rows["negation"].recall)
    assert (rows["all"].pairs, rows["all"].served, rows["all"].precision) == (4, 1, 1.0)
    unguarded = {r.category: r for r in by_category(PAIRS, DISTANCES, 0.2)}
    assert unguarded["all"].wrong == 2 and unguarded["number"].precision == 0.0


def test_evaluate_and_calibrate_share_one_report() -> None:
    report = calibrate(PAIRS, distances=DISTANCES, evaluate_at=0.4, target_precision=0.9)
    assert report.evaluated_at == 0.4
    assert report.categories == by_category(
        PAIRS, DISTANCES, 0.4, verifier_passes(PAIRS, Verifier())[0]
    )
    text = format_evaluation(report)
    assert "threshold 0.40" in text and "| **all** | 4 | 2 | 2 | 1.000 | 1.000 | 0 |" in text
    assert "Per category at" in format_report(report)


@pytest.mark.slow
def test_cli_cache_evaluate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    default_embedder()
    path = _write(
        tmp_path,
        [
            json.dumps(
                {
                    "stored": p.cached,
                    "asked": p.query,
                    "same": p.same_answer,
                    "category": p.category,
                }
            )
            for p in PAIRS
        ],
    )
    assert main(["cache", "evaluate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"threshold {DEFAULT_DISTANCE_THRESHOLD:.2f} (cosine distance), with the" in out
    assert "| negation | 1 | 0 | 0 |" in out and "| **all** | 4 | 2 |" in out
    assert main(["cache", "evaluate", str(path), "--no-guards", "--threshold", "0.3"]) == 0
    assert "threshold 0.30 (cosine distance), embedding only" in capsys.readouterr().out
    # the guards alone: their own default threshold, no pair scorer
    assert main(["cache", "evaluate", str(path), "--no-scorer"]) == 0
    assert f"threshold {GUARDS_DISTANCE_THRESHOLD:.2f} (cosine distance)" in capsys.readouterr().out
    assert main(["cache", "evaluate", str(path), "--no-guards", "--no-scorer"]) == 2
    assert "--no-guards turns off the scorer too" in capsys.readouterr().err
    # a scorer of your own must come with its .json (as the training script writes it)
    (tmp_path / "mine.safetensors").write_bytes(b"")
    assert (
        main(["cache", "evaluate", str(path), "--scorer", str(tmp_path / "mine.safetensors")]) == 2
    )
    assert "mine.json" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["cache", "evaluate", str(path), "--threshold", "0.1,0.2"])
    assert "one cosine distance" in capsys.readouterr().err


def test_cli_evaluate_judges_a_scorer_of_your_own_at_its_own_threshold(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--scorer``: the weights run at the threshold the training script chose for them
    (the ``.json`` beside them), not at the shipped scorer's; a file without one is named."""
    import shutil

    from redis_agent_core.cache.guards.scorer import META_FILE, WEIGHTS_FILE

    default_embedder()
    path = _write(
        tmp_path,
        [json.dumps({"stored": p.cached, "asked": p.query, "same": p.same_answer}) for p in PAIRS],
    )
    own = tmp_path / "mine.safetensors"
    shutil.copy(WEIGHTS_FILE, own)  # the shipped layers: only the cut differs
    meta = json.loads(META_FILE.read_text())
    own.with_suffix(".json").write_text(json.dumps(meta))
    assert main(["cache", "evaluate", str(path), "--scorer", str(own), "--no-band"]) == 0
    assert "| **all** | 4 | 2 | 1 |" in capsys.readouterr().out
    # a cut of 1.0 refuses every pair the scorer is asked about
    own.with_suffix(".json").write_text(json.dumps({**meta, "threshold": 1.0}))
    assert main(["cache", "evaluate", str(path), "--scorer", str(own)]) == 0
    assert "| **all** | 4 | 2 | 0 |" in capsys.readouterr().out
    own.with_suffix(".json").write_text(json.dumps({**meta, "threshold": "high"}))
    assert main(["cache", "evaluate", str(path), "--scorer", str(own)]) == 2
    assert '"threshold" must be a probability' in capsys.readouterr().err


def test_embedding_progress_is_reported_chunk_by_chunk() -> None:
    from redis_agent_core.cache.calibrate import pair_distances

    seen: list[tuple[int, int]] = []
    distances = pair_distances(PAIRS, default_embedder(), lambda d, t: seen.append((d, t)), 3)
    texts = len({t for p in PAIRS for t in (p.cached, p.query)})
    assert seen[-1] == (texts, texts) and len(seen) == -(-texts // 3)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert len(distances) == len(PAIRS)


@pytest.mark.slow
def test_cli_evaluate_says_whether_the_second_pass_ran(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo'd pair past the threshold: served with the cache's second pass on a miss
    (on by default, as in the cache), not with --no-respell; the header says which."""
    default_embedder()
    path = _write(
        tmp_path,
        [
            json.dumps({"stored": s, "asked": a, "same": True})
            for s, a in [
                ("How do I delete a branch in git?", "How do I delte a brnach in git?"),
                ("Cancel my order", "How do I cancel my order?"),
            ]
        ],
    )
    assert main(["cache", "evaluate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "and the second pass on a miss (typos and short names respelt, up to 0.45)" in out
    assert "| **all** | 2 | 2 | 2 |" in out
    # (without the band too: past the threshold it serves the typo'd pair as well)
    assert main(["cache", "evaluate", str(path), "--no-respell", "--no-band"]) == 0
    out = capsys.readouterr().out
    assert "with the verifier and no second pass on a miss" in out
    assert "| **all** | 2 | 2 | 1 |" in out
    assert main(["cache", "evaluate", str(path), "--no-guards", "--no-respell"]) == 2
    assert "--no-respell" in capsys.readouterr().err
