"""True pairs the number, negation and scope guards refused (recall24), on pairs written for
these tests, each beside traps of the same look that must still be refused: a number said in
another form ("four-year-old" / "4 year old", "every fortnight" / "every 2 weeks", "twice" /
"two times", "9.45 am" / "9:45", "noon" / "12:00", "half a kilo" / "500 g", "v2.4" /
"version 2.4"), a "not" said in the word ("forgot" / "don't remember", "broken" / "isn't
working", "closed" / "doesn't open", "rather than" / "not"), a turned-round question whose
subject is a bare noun, and "pupils" for "students"."""

from __future__ import annotations

from redis_agent_core.cache.guards import NumberGuard, Verifier

from .test_relations import rejects


def _served(a: str, b: str) -> bool:
    """Whether the guards (no scorer) serve ``b``'s answer to ``a``, asked both ways."""
    one, other = Verifier().verify(a, b), Verifier().verify(b, a)
    assert (one is None) == (other is None), f"asymmetric: {one!r} / {other!r}"
    return one is None


NUMBER_FORMS = [
    # a unit a word apart or hyphenated: the same count of the same unit
    (
        "My 4 year old won't eat vegetables, any tips?",
        "My four-year-old won't eat vegetables, any tips?",
        True,
    ),
    (
        "My 4 year old won't eat vegetables, any tips?",
        "My fourteen-year-old won't eat vegetables, any tips?",
        False,
    ),
    (
        "I get 30 paid days off a year, can I sell some?",
        "I get 30 days of paid leave a year, can I sell some?",
        True,
    ),
    (
        "I get 30 paid days off a year, can I sell some?",
        "I get 20 days of paid leave a year, can I sell some?",
        False,
    ),
    # a period's unit said once without a number
    (
        "Should I descale the kettle every fortnight?",
        "Should I descale the kettle every 2 weeks?",
        True,
    ),
    (
        "Should I descale the kettle every week?",
        "Should I descale the kettle every 2 weeks?",
        False,
    ),
    # one period said with "one" (not a rate: "twice a week" is no length)
    (
        "Is 1 month notice enough to leave my job?",
        "Is one month notice enough to leave my job?",
        True,
    ),
    (
        "Is 1 month notice enough to leave my job?",
        "Is one week notice enough to leave my job?",
        False,
    ),
    (
        "Can I swim twice a week while pregnant?",
        "Can I swim twice in 7 days while pregnant?",
        False,
    ),
    # counts of times in one word
    (
        "I was charged twice for one order, why?",
        "I was charged two times for one order, why?",
        True,
    ),
    (
        "I was charged twice for one order, why?",
        "I was charged three times for one order, why?",
        False,
    ),
    # a clock time with a dot, and a 12-hour clock without its "pm"
    (
        "Can I book the court at 9.45 am on Friday?",
        "Can I book the court at 9:45 am on Friday?",
        True,
    ),
    (
        "Can I book the court at 9.45 am on Friday?",
        "Can I book the court at 10:45 am on Friday?",
        False,
    ),
    (
        "Is the pool open from 1:30 to 5:30 on Sundays?",
        "Is the pool open from 1.30 pm to 5.30 pm on Sundays?",
        True,
    ),
    (
        "Is the pool open from 1:30 to 5:30 on Sundays?",
        "Is the pool open from 1.30 pm to 6.30 pm on Sundays?",
        False,
    ),
    (
        "Is the pool open from 1:30 am to 5:30 am?",
        "Is the pool open from 1:30 pm to 5:30 pm?",
        False,
    ),
    # the hours with a name
    (
        "Does the bakery stay open until noon on Saturday?",
        "Does the bakery stay open until 12:00 on Saturday?",
        True,
    ),
    (
        "Does the bakery stay open until noon on Saturday?",
        "Does the bakery stay open until 11:00 on Saturday?",
        False,
    ),
    # half of any unit in words
    (
        "Is half a kilo of flour enough for two loaves?",
        "Is 500 g of flour enough for two loaves?",
        True,
    ),
    (
        "Is half a kilo of flour enough for two loaves?",
        "Is 250 g of flour enough for two loaves?",
        False,
    ),
    # a decimal version glued to its letter
    ("What's new in v2.4 of the mobile app?", "What's new in version 2.4 of the mobile app?", True),
    (
        "What's new in v2.4 of the mobile app?",
        "What's new in version 2.5 of the mobile app?",
        False,
    ),
]


def test_numbers_said_in_another_form() -> None:
    got = [(a, b, rejects(NumberGuard(), a, b) is None) for a, b, _ in NUMBER_FORMS]
    assert got == NUMBER_FORMS


# a long ticket that says a time twice on one side and once on the other
_TICKET = (
    "Our depot takes returns dropped off before {one} on weekdays and processes them the "
    "same day. Returns dropped off after {two} are processed the next working day, and "
    "nothing is processed at weekends. If I drop a parcel off at 4 pm on Thursday, when "
    "will the refund be processed?"
)
_TICKET_AGAIN = (
    "Returns left at our depot by {one} on a weekday are processed that day; later ones "
    "wait for the next working day, and there is no processing at weekends. If I drop a "
    "parcel off at 4 pm on Thursday, when will the refund be processed?"
)


def test_a_time_said_again_in_a_long_prompt_is_no_other_time() -> None:
    stored = _TICKET.format(one="3 pm", two="3 pm")
    assert rejects(NumberGuard(), stored, _TICKET_AGAIN.format(one="15:00")) is None
    assert rejects(NumberGuard(), stored, _TICKET_AGAIN.format(one="17:00")) is not None
    # a bare number said again is a new condition ("over 25" on a table's column)
    table = "\nname,age\nAsha,25\nBen,31\nDev,25\nEmi,19\nKai,40\nLen,52\nMo,33"
    assert (
        rejects(
            NumberGuard(),
            "How many people are listed in this table?" + table,
            "How many people over 25 are listed in this table?" + table,
        )
        is not None
    )


NEGATION_FORMS = [
    (
        "I forgot my router password, how do I reset it?",
        "I don't remember my router password, how do I reset it?",
        True,
    ),
    (
        "I forgot my router password, how do I reset it?",
        "I didn't forget my router password, how do I reset it?",
        False,
    ),
    (
        "My kettle is broken, can I get it repaired?",
        "My kettle isn't working, can I get it repaired?",
        True,
    ),
    (
        "My kettle is broken, can I get it repaired?",
        "My kettle is working, can I get it repaired?",
        False,
    ),
    ("Why is the pharmacy closed on Mondays?", "Why doesn't the pharmacy open on Mondays?", True),
    ("Why is the pharmacy closed on Mondays?", "Why does the pharmacy open on Mondays?", False),
    (
        "Our policy forbids sharing logins, what should I tell the team?",
        "Our policy does not allow sharing logins, what should I tell the team?",
        True,
    ),
    (
        "Our policy forbids sharing logins, what should I tell the team?",
        "Our policy allows sharing logins, what should I tell the team?",
        False,
    ),
    (
        "Please send the invoice as a PDF, not a Word file.",
        "Please send the invoice as a PDF rather than a Word file.",
        True,
    ),
    (
        "Please send the invoice as a PDF, not a Word file.",
        "Please send the invoice as a Word file rather than a PDF.",
        False,
    ),
    (
        "Can I use the translator offline?",
        "Can I use the translator without an internet connection?",
        True,
    ),
    (
        "Can I use the translator offline?",
        "Can I use the translator with an internet connection?",
        False,
    ),
    # a turned-round question whose subject is a bare noun: the "not" is on the verb
    ("Why is Chrome not loading pages?", "Why won't Chrome load pages?", True),
    ("Why is Chrome not loading pages?", "Why does Chrome load pages?", False),
    # a refusal said with "not"
    (
        "What do I do if my card is not accepted at the hotel?",
        "What do I do if my card gets declined at the hotel?",
        True,
    ),
    (
        "What do I do if my card is accepted at the hotel?",
        "What do I do if my card gets declined at the hotel?",
        False,
    ),
]


def test_a_not_said_in_the_word() -> None:
    got = [(a, b, _served(a, b)) for a, b, _ in NEGATION_FORMS]
    assert got == NEGATION_FORMS


def test_no_longer_negates_its_verb_in_a_long_prompt() -> None:
    stored = (
        "Since the update to release 7 last night, the music app no longer plays downloaded "
        "songs on my tablet. The library shows them, the play button turns grey and then "
        "nothing happens at all. I have restarted the tablet twice. What should I try next?"
    )
    same = (
        "Since last night's update to release 7, the music app on my tablet has stopped playing "
        "downloaded songs: they show in the library, the play button goes grey, then nothing "
        "happens. I've restarted the tablet two times already. What should I try next?"
    )
    flipped = (
        "Since last night's update to release 7, the music app on my tablet still plays "
        "downloaded songs fine, but the library shows them twice and the play button "
        "goes grey for a second. I've restarted the tablet two times already. What should I "
        "try next?"
    )
    assert _served(stored, same)
    assert not _served(stored, flipped)


def test_pupils_are_students() -> None:
    assert _served(
        "Is there a maths app for pupils aged 10?", "Is there a maths app for students aged 10?"
    )
    assert not _served(
        "Is there a maths app for pupils aged 10?", "Is there a maths app for adults aged 40?"
    )
