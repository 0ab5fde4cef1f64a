"""The filter representation and its compilation (pure; no server needed)."""

from __future__ import annotations

import pytest
from redisvl.query.filter import Tag

from redis_agent_core.vectors import F, FilterError, Not, Or, compile_filter, from_dict

FIELDS = {
    "tenant": ("tag", True),
    "year": ("numeric", False),
    "body": ("text", False),
    "loc": ("geo", False),
    "ci": ("tag", False),
}


def c(filter: object) -> str | None:
    return compile_filter(filter, FIELDS)  # type: ignore[arg-type]


def test_dict_form_equals_builder_form() -> None:
    spec = {
        "tenant": "acme",
        "year": {"$gte": 2020, "$lt": 2024},
        "$or": [{"body": "x"}, {"ci": ["a", "b"]}],
    }
    built = (
        (F("tenant") == "acme")
        & (F("year") >= 2020)
        & (F("year") < 2024)
        & ((F("body") == "x") | F("ci").is_in(["a", "b"]))
    )
    assert c(spec) == c(built)
    assert c({"year": {"$exists": False}}) == "ismissing(@year)"


def test_values_are_escaped() -> None:
    # tag values are compared in their indexed form (tag_value): letters and digits
    # kept, every other byte as _hh, so nothing reaches the query as syntax
    assert c(F("tenant") == "a|b c") == "@tenant:{a_7cb_20c}"
    assert c(F("tenant") == "x}|{y") == "@tenant:{x_7d_7c_7by}"
    assert c(F("tenant") == " ") == "@tenant:{_20}"
    assert c(F("tenant").is_in(["a b", "é"])) == "@tenant:{a_20b|_c3_a9}"
    assert c(F("tenant").text_match("a*")) == "@tenant:{*a_2a*}"
    # case-insensitive tags fold case before escaping ("É" is "é")
    assert c(F("ci") == "É") == c(F("ci") == "é") == "@ci:{_c3_a9}"
    assert c(F("ci") == "Acme") == "@ci:{Acme}"  # ASCII: the server folds it
    # text fields are not tags: a text value is the words it is indexed as
    assert c(F("body") == "x|b") == '@body:("x b")'
    assert c(F("body") == "a|b") == '@body:("b")'  # "a" is a stop word: not indexed
    assert c(F("body") == "costs $5 each") == '@body:("costs 5 each")'
    assert c(F("body") == "C:\\path\\file") == '@body:("C pathfile")'


def test_nothing_and_everything_are_exact() -> None:
    assert c(None) == "*"
    assert c(F("tenant").is_in([])) is None
    assert c(F("tenant").not_in([])) == "*"
    assert c(Not(F("tenant").is_in([]))) == "*"
    # OR with "everything" is everything (redisvl's own `|` would drop the "*").
    assert c(Or((F("tenant") == "a", F("tenant").not_in([])))) == "*"
    assert c(F("tenant").is_in([]) & (F("year") > 1)) is None


def test_a_dict_filter_nested_too_deep_is_refused() -> None:
    # a user's filter nested thousands deep raised RecursionError, not a FilterError
    for wrap in ({"$and": [{}]}, {"$or": [{}]}, {"$not": {}}):
        spec: dict[str, object] = {"tenant": "a"}
        for _ in range(5000):
            op, inner = next(iter(wrap.items()))
            spec = {op: [spec] if isinstance(inner, list) else spec}
        with pytest.raises(FilterError, match="more than 32 deep"):
            c(spec)
    spec = {"tenant": "a"}
    for _ in range(32):
        spec = {"$and": [spec]}
    assert c(spec) == c({"tenant": "a"})  # 32 levels still compile


def test_refusals() -> None:
    with pytest.raises(FilterError, match="not an indexed field"):
        c(F("unknown") == 1)
    with pytest.raises(FilterError, match="empty value"):
        c(F("tenant") == "")
    with pytest.raises(FilterError, match="numeric"):
        c(F("year") == "2020")
    with pytest.raises(FilterError, match="raw query strings"):
        c("@tenant:{a}")
    with pytest.raises(FilterError, match="case-sensitive"):
        c(F("tenant").text_match("x", case_sensitive=False))
    with pytest.raises(FilterError, match="not supported on numeric"):
        c(F("year").text_match("x"))
    with pytest.raises(FilterError, match="unknown operator"):
        from_dict({"year": {"$regex": "x"}})
    # review 18: a NaN bound raised redisvl's bare ValueError, not the typed error
    for form in (F("year") == float("nan"), F("year") >= float("nan")):
        with pytest.raises(FilterError, match="NaN"):
            c(form)
    with pytest.raises(FilterError, match="NaN"):
        c(from_dict({"year": {"$in": [2020, float("nan")]}}))


def test_redisvl_expression_passes_through() -> None:
    assert c(Tag("tenant") == "a") == "@tenant:{a}"


def test_geo() -> None:
    assert c(F("loc").within(2.35, 48.85, 10, "km")) == "@loc:[2.35 48.85 10 km]"
