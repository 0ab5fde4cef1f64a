"""What the guards' cheap paths rely on: a shortcut must give the answer the long way
would (scripts/guard_decisions.py compares every decision on the pair sets with the code
before a change; these tests keep the assumptions behind the shortcuts true)."""

from __future__ import annotations

import random
from collections import Counter

from redis_agent_core.cache.calibrate import LabelledPair
from redis_agent_core.cache.guards import Verifier, _features, _minus, features, relations
from redis_agent_core.cache.guards._features import Memo
from redis_agent_core.cache.guards._wordnet import wordnet


def test_wordnet_antonymy_is_symmetric() -> None:
    # The antonym guard asks whether a word of the candidate alone has an antonym among
    # the query's words, instead of collecting every antonym of every query word.
    antonyms = wordnet().antonyms
    one_way = [(k, o) for k, others in antonyms.items() for o in others if k not in antonyms[o]]
    assert one_way == []


def test_a_full_memo_drops_its_oldest_64th_and_cache_clear_empties_every_memo() -> None:
    # a few entries at a time: freeing a quarter of a full memo's analyses at once
    # stalled one lookup by milliseconds
    memo: Memo[str, int] = Memo(128)
    for i in range(128):
        memo.put(str(i), i)
    assert memo.put("new", 128) == 128
    assert list(memo) == [*map(str, range(2, 128)), "new"]
    tiny: Memo[str, int] = Memo(8)
    for i in range(9):
        tiny.put(str(i), i)
    assert list(tiny) == [*map(str, range(1, 9))]  # at least one leaves
    features("Is the museum open on Mondays?")
    relations.keys("Is the museum open on Mondays?")
    features.cache_clear()  # type: ignore[attr-defined]
    assert not memo and not _features._PARSED and not relations._KEYS


def test_stored_features_equal_parsed_ones_on_our_pairs(own_pairs: list[LabelledPair]) -> None:
    # a lookup reads the candidates' analysis from their entries: it must be the parse's
    texts = {t for p in own_pairs for t in (p.cached, p.query)}
    blobs = {t: Verifier.features_of(t) for t in texts}
    parsed = {t: features(t) for t in texts}
    features.cache_clear()  # type: ignore[attr-defined]
    for text, blob in blobs.items():
        assert Verifier.remember(text, blob)
        assert features(text) == parsed[text], text


def test_the_parse_skips_no_possessive_person_or_quote_it_would_find() -> None:
    # The owner scan runs only when a person word (or a hyphen part of one) is in the
    # vocabulary or another apostrophe glues a word; the quote scan only with two quotes.
    parse = _features._parse
    assert parse("Move my co-worker's-desk upstairs").persons == {"co-worker"}
    assert parse("Ask x'colleague's view").persons == {"colleague"}
    assert parse("Ask my colleague's view").persons == {"colleague"}
    assert parse("What's the bank's rate?").persons == frozenset()
    assert parse("Say 'hi' to them").quotes == {"hi"}
    assert parse("Don't say hi").quotes == frozenset()


def test_the_parse_asks_its_cue_words_and_still_reads_whole_words() -> None:
    # negators, particles, dates and periods are looked for in the cue words (vocabulary
    # and hyphen parts): what they find is then read from the words themselves
    parse = _features._parse
    assert parse("Book it for a day").quantities == {"duration:86400": 1}
    assert parse("Book a tour for a day-trip").quantities == {}
    assert parse("Turn it off, not on").particles == {"turn_off"}
    assert parse("Is the non-stop flight on Friday?").dates == {"friday"}
    assert parse("I never said no").negations == 2


def test_the_quantity_pass_reads_times_money_and_numbers_past_its_hint() -> None:
    # one scan (a currency sign, or a digit then a letter or ":") decides whether the time
    # and money passes run; a whole number of up to 6 digits is keyed without a float
    parse = _features._parse
    assert parse("Meet at 7pm with $20").quantities == {"time:1140": 1, "money:usd:20": 1}
    assert parse("Meet at 10:30 for 5 dollars").quantities == {"time:630": 1, "money:usd:5": 1}
    assert parse("Meet at 10:30 [2]").quantities == {"time:630": 1, "num:2": 1}
    assert parse("Pay £5 [2]").quantities == {"money:gbp:5": 1, "num:2": 1}
    # the scans start at the first digit or sign, and still see what stands before it
    assert parse("Use x7 or 2").quantities == {"num:2": 1}
    assert parse("Cost in $ or £").quantities == {}
    # (an ASCII text's first digit or "$" is found by a byte table, another's by _NUMERIC)
    assert parse("Use x7 or 2 at the café").quantities == {"num:2": 1}
    assert parse("Pay $ 5 or 6 in cash").quantities == {"money:usd:5": 1, "num:6": 1}
    assert parse("No digits here, nor a dollar").quantities == {}
    assert parse("Order 12 [0012], 1234567 or 1,000").quantities == {
        "num:12": 2,
        "num:1.23457e+06": 1,
        "num:1000": 1,
    }


def test_the_money_hint_led_by_its_class_finds_what_its_plain_form_finds(
    own_pairs: list[LabelledPair],
) -> None:
    # one class leads the pattern (the engine skips ahead to a sign or digit) instead of an
    # alternation whose branch starts with a class (tried at every character)
    import re

    plain = (
        rf"[$£€¥₹]|(?<=\b(?:{_features._CODES}) )\d|\d\s*(?:k|m|bn|thousand|million|billion)?\s*"
        rf"(?:{_features._CURRENCY_ALT})"
    )
    texts = [t.lower() for p in own_pairs for t in (p.cached, p.query)] + [
        "pay $5, 5 dollars, 5k euros, 3 bn yen, 2  million pounds, £, 7usd, 9 am, 1:2",
        "€ ¥ ₹ 5\teur 6\nusd 10 k gbp 4 thousand rupees x9dollars 8 bnusd",
        "gbp 1,200 or usd 5, eur 7m, 9.99 eur 2 times, inr 2.5",
        "",
    ]
    for text in texts:
        found = [m.span() for m in _features._MONEY_HINT.finditer(text)]
        assert found == [m.span() for m in re.finditer(plain, text)], text


def test_the_quantity_hint_is_where_the_time_or_the_money_hint_matches(
    own_pairs: list[LabelledPair],
) -> None:
    # one scan decides whether the time and money passes run: it must find a text that
    # either pass's hint finds, and no other ("48 hours" and "7 days" run neither)
    hints = _features._HINTS
    texts = [t.lower() for p in own_pairs for t in (p.cached, p.query)] + [
        "pay $5, 5 dollars, 5k euros, 3 bn yen, 2  million pounds, £, 7usd, 9 am, 1:2",
        "7 a.m, 8p.m, 9 o'clock in the morning, 10 this evening, 11 tonight, 12 at night",
        "5 today 6tomorrow 7 o'clock  pm 8 amazing 9 thousand rupees 1 : 2 3:x €",
        "48 hours, 7 days, 2fa, 10 min, 3 k, 4 bn, 5 millions, x9 y",
        "",
    ]
    for text in texts:
        either = _features._TIME_HINT.search(text) or _features._MONEY_HINT.search(text)
        assert (hints.search(text) is None) == (either is None), text
    assert hints.search("take the pill 48 hours after, or 7 days") is None


def test_the_prefixed_word_pattern_finds_what_its_plain_form_finds() -> None:
    # led by the prefixes' initials (each checked for a word start by a look-behind)
    # instead of a look-ahead and \b tried at every position
    import re

    from redis_agent_core.cache.guards import _lexicon as lex

    plain = re.compile(
        rf"\b({'|'.join(sorted(lex.NEGATING_PREFIXES, key=len, reverse=True))})"
        r"([a-z][a-z-]{3,})\b(?!')"
    )
    texts = [
        "an unsafe, non-refundable and non-stop dis-order",
        "well-informed x9informal _undone nonsense noninvasive 'improper' irregular's",
        "decide deice innnn disdain un-done imim il-legal",
    ]
    for text in texts:
        assert _features._PREFIXED_WORD.findall(text) == plain.findall(text), text


def test_the_possessive_word_patterns_find_what_their_plain_forms_find(
    own_pairs: list[LabelledPair],
) -> None:
    # Python 3.10's ``re`` has no possessive repeats: there the patterns are built plain,
    # so the parse must not depend on which form it got (on 3.11+ this compares them)
    import re

    plain = {
        "_WORD": r"[A-Za-z0-9]+(?:[-'][A-Za-z0-9]+)*",
        "_MARKED_WORD": r"(?=[A-Za-z0-9])\b[a-z]*[A-Z0-9][A-Za-z0-9]*(?:[-'][A-Za-z0-9]+)*",
    }
    texts = [t for p in own_pairs for t in (p.cached, p.query)] + [
        "Mary's part-time job at IBM's R&D lab costs $40k a year, 9 am - 5pm: don't-stop",
        "x9Y--'a 12:30 3  pm £5 iPhone15 e-mail ''quoted'' 4 th",
    ]
    for name, pattern in plain.items():
        compiled = getattr(_features, name)
        assert compiled.pattern.replace("+", "").replace("*", "") == pattern.replace(
            "+", ""
        ).replace("*", ""), name  # the same pattern but its repeats' form
        for text in texts + [t.lower() for t in texts]:
            found = [m.span() for m in compiled.finditer(text)]
            assert found == [m.span() for m in re.finditer(pattern, text)], (name, text)


def test_the_word_runs_are_the_word_pattern_s_words(own_pairs: list[LabelledPair]) -> None:
    # an ASCII text's words are found by a byte table and str.split; the pattern decides
    # when a joiner ends a word or two stand together, and for any other text
    texts = [t for p in own_pairs for t in (p.cached, p.query)] + [
        "don't stop part-time x9y_z 'quoted' -lead trail- a--b o'-k it''s",
        "tab\there\nnew-line: (a) [b] {c} 5.5 $40k #1 a@b.c mary's",
        "café naïve ùn-done ÉCOLE straße",  # not ASCII: the pattern
        "",
        "'",
        "-a-",
    ]
    for text in texts + [t.lower() for t in texts]:
        assert _features._tokens(text) == _features._WORD.findall(text), text


def test_the_marked_words_are_the_marked_word_pattern_s_matches(
    own_pairs: list[LabelledPair],
) -> None:
    # an ASCII text's names are found from their capital or digit back to the lower-case
    # letters before it; a text with "_" or not ASCII is scanned with the pattern
    texts = [t for p in own_pairs for t in (p.cached, p.query)] + [
        "iPhone15 x9Y--'a abc-Def e'Bar MacBook's 3.5GB (Foo) [bar]Baz end.Qux",
        "x_Foo-Bar snake_Case a1b2 A B c9 'Q' 4k mid-Word-Here -Lead Trail-",
        "éFoo café-Bar naïve ÉCOLE straßeX",
        "",
        "A",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaZ",
    ]
    for text in texts:
        expected = [(m.start(), m.group(0)) for m in _features._MARKED_WORD.finditer(text)]
        assert _features._marked(text) == expected, text


def test_the_collapsed_text_is_its_words_joined_by_single_spaces(
    own_pairs: list[LabelledPair],
) -> None:
    # a printable ASCII text with single spaces and none at its ends is its own collapsed
    # form (no split into words); any other blank, run or end takes the split
    texts = [t.lower() for p in own_pairs for t in (p.cached, p.query)]
    blanks = [" ", "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u3000"]
    rng = random.Random(19)
    edited = []
    for text in texts[:300]:
        at = rng.randrange(len(text) + 1)
        edited.append(text[:at] + rng.choice(blanks) + text[at:])
        edited.append(rng.choice(blanks) + text + rng.choice(blanks))
    for text in texts + edited + ["", " ", "a", "a b", "\x00a", "\x7f b", "café au lait"]:
        assert _features._collapsed(text) == " ".join(text.split()), repr(text)


def test_the_number_guard_s_count_difference_is_counter_subtraction() -> None:
    # the number guard subtracts a pair's quantity counts as plain dicts (Counter's own
    # steps are Python-level); stored counts may be anything JSON holds, so Counter's
    # whole rule is kept: the same keys, counts and order, zero and negative counts too
    rng = random.Random(17)
    for _ in range(20_000):
        a = {f"num:{rng.randrange(6)}": rng.randrange(-2, 4) for _ in range(rng.randrange(5))}
        b = {f"num:{rng.randrange(6)}": rng.randrange(-2, 4) for _ in range(rng.randrange(5))}
        assert list(_minus(a, b).items()) == list((Counter(a) - Counter(b)).items())
