"""Each default guard on its own, the verifier around them, and our own labelled pairs."""

from __future__ import annotations

import asyncio

import pytest

from redis_agent_core.cache.calibrate import LabelledPair, load_pairs
from redis_agent_core.cache.guards import (
    AntonymGuard,
    ConstraintGuard,
    EntityGuard,
    Guard,
    NegationGuard,
    NumberGuard,
    OrderGuard,
    Rejection,
    ScopeGuard,
    Verifier,
    default_guards,
    features,
)

from .conftest import OWN_PAIRS_PATH


def rejects(guard: Guard, a: str, b: str) -> bool:
    """Whether ``guard`` refuses in both directions (guards must be symmetric)."""
    one, other = guard.check(a, b), guard.check(b, a)
    assert (one is None) == (other is None), f"asymmetric: {one!r} / {other!r}"
    return one is not None


# --- negation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Cancel my order", "Don't cancel my order"),
        ("Can I park here?", "Can I not park here?"),
        ("Is it safe to swim here?", "Is it never safe to swim here?"),
        ("Do I need a visa?", "Can I go without a visa?"),
        ("Is the fee refundable?", "Is the fee non-refundable?"),
        ("Is this mushroom safe?", "Is this mushroom unsafe?"),
        ("How do I subscribe to alerts?", "How do I unsubscribe from alerts?"),
        ("How do I enable cookies?", "How do I disable cookies?"),
        ("Which items are included?", "Which items are excluded?"),
        ("What should I eat before a run?", "What should I eat after a run?"),
        ("How do I turn the alarm on?", "How do I turn the alarm off?"),
        ("How do I opt in to emails?", "How do I opt out of emails?"),
        ("Is the shop open on holidays?", "Is the shop closed on holidays?"),
        ("Which stocks should I buy?", "Which stocks should I sell?"),
        ("What are the pros of renting?", "What are the cons of renting?"),
        # a negated auxiliary typed without its apostrophe ("dont", "cant") is one negator
        ("why does the heater turn on at night", "why doesnt the heater turn on at night"),
        ("plants that need lots of light", "plants that dont need lots of light"),
        ("my laptop shouldnt get this hot right?", "my laptop should get this hot right?"),
    ],
)
def test_negation_guard_rejects_flipped_polarity(a: str, b: str) -> None:
    assert rejects(NegationGuard(), a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Is this mushroom unsafe?", "Is this mushroom not safe?"),  # balanced negation
        ("I can't log in, what should I do?", "I cannot log in, what should I do?"),
        ("How do I turn on dark mode?", "How can I switch dark mode on?"),
        ("Which items are included?", "What do I get included?"),
        ("What's the price for non-members?", "How much is it if I'm not a member?"),
        ("why doesnt the heater turn on at night", "why doesn't the heater turn on at night"),
        ("my phone wont charge overnight, any idea", "my phone won't charge overnight, any idea"),
        ("I cant find the receipt, can I return it?", "I can't find the receipt, can I return it?"),
    ],
)
def test_negation_guard_passes_same_polarity(a: str, b: str) -> None:
    assert not rejects(NegationGuard(), a, b)


def test_negation_guard_accepts_custom_opposites() -> None:
    guard = NegationGuard(opposites=[("north", "south")])
    assert rejects(guard, "Trains heading north", "Trains heading south")
    assert not rejects(guard, "How do I enable sync?", "How do I disable sync?")


# --- numbers, dates, times --------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Convert 5 miles to km", "Convert 50 miles to km"),
        ("Wake me at 7am", "Wake me at 7pm"),
        ("Is the 9:15 bus late?", "Is the 9:45 bus late?"),
        ("Send $20 to Ana", "Send €20 to Ana"),
        ("Is 2 weeks of notice enough?", "Is 3 weeks of notice enough?"),
        ("Are you open on Saturday?", "Are you open on Sunday?"),
        ("What was my bill in March?", "What was my bill?"),  # a date on one side only
        ("Can I book for tomorrow?", "Can I book for today?"),
        ("Who won the league in 1999?", "Who won the league?"),
        ("Is 15% a good tip?", "Is 20% a good tip?"),
        ("Who wrote the 3rd Harry Potter book?", "Who wrote the 5th Harry Potter book?"),
        ("What happened in the 18th century?", "What happened in the 19th century?"),
    ],
)
def test_number_guard_rejects_different_quantities(a: str, b: str) -> None:
    assert rejects(NumberGuard(), a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Convert five miles to km", "Convert 5 miles to km"),
        ("Send $20 to Ana", "Send 20 dollars to Ana"),
        ("Is 2 weeks of notice enough?", "Is 14 days of notice enough?"),
        ("Is a 2kg bag too heavy?", "Is a 2000 g bag too heavy?"),
        ("Wake me at 7pm", "Wake me at seven this evening"),
        ("How many calories in one apple?", "How many calories in an apple?"),
        ("How much is £1,200 in euros?", "How much is £1200 in euros?"),
        ("Can a 16-year-old vote?", "Can you vote at sixteen?"),
        ("What's twenty-one squared?", "What is 21 squared?"),
        ("Is the café open Monday to Friday?", "Is the café open on weekdays?"),
        ("What's the weather on mondays?", "What's the weather on Mondays?"),
        ("How do I set up 2FA?", "How do I set up 2FA on my account?"),  # an identifier
    ],
)
def test_number_guard_normalises_equal_quantities(a: str, b: str) -> None:
    assert not rejects(NumberGuard(), a, b)


# --- entities and quoted strings ----------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I export data from Salesforce?", "How do I export data from HubSpot?"),
        ("What's the capital of Austria?", "What's the capital of Australia?"),
        ("Call Maria tomorrow", "Call Marta tomorrow"),
        ('What does "exit code 137" mean?', 'What does "exit code 139" mean?'),
        ("Explain `git rebase`", "Explain `git merge`"),
        ("Does Jet2 fly to Faro?", "Does easyJet fly to Faro?"),
    ],
)
def test_entity_guard_rejects_swaps(a: str, b: str) -> None:
    assert rejects(EntityGuard(), a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Who runs it?", "Who runs Microsoft?"),  # added on one side: a paraphrase may do that
        ("what is the capital of france", "What is the capital of France?"),
        ("WHAT IS THE CAPITAL OF FRANCE?", "What is the capital of France?"),
        ("Do You Accept Apple Pay?", "Do you accept Apple Pay?"),
        ("What's the legal drinking age in the US?", "How old must you be to drink in America?"),
        ("Which trains go to Oxford on Sundays?", "Which trains go to Oxfrod on Sundays?"),
        ('What does "exit code 137" mean?', "What does exit code 137 mean?"),
    ],
)
def test_entity_guard_passes_same_entities(a: str, b: str) -> None:
    assert not rejects(EntityGuard(), a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What does 'a  b'.split(' ') return?", "What does 'a b'.split(' ') return?"),
        ("Is 'x\ty' == 'x y' in Python?", "Is 'x y' == 'x y' in Python?"),
        ("What does `ls  -la` print?", "What does `ls -la` print?"),
    ],
)
def test_entity_guard_compares_the_blanks_inside_quotes(a: str, b: str) -> None:
    # in code and literals blanks change the answer, and embeddings ignore them
    assert rejects(EntityGuard(), a, b) and rejects(EntityGuard(), b, a)
    assert not rejects(EntityGuard(), a, a)
    assert not rejects(EntityGuard(), a, "Hi! " + a)  # the same quotes, reworded around


def test_entity_guard_treats_a_changed_letter_in_a_short_name_as_another_name() -> None:
    # The trade-off, stated: "Maria"/"Marta" are two people, so a one-letter typo in a
    # short name ("Ubunto") is a miss too. A swapped pair of letters is a typo.
    assert rejects(EntityGuard(), "Install Docker on Ubuntu", "Install Docker on Ubunto")
    assert not rejects(EntityGuard(), "Install Docker on Ubuntu", "Install Dokcer on Ubuntu")


# --- order --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Flights from Paris to London", "Flights from London to Paris"),
        ("Move $50 from savings to checking", "Move $50 from checking to savings"),
        ("Convert Markdown to HTML", "Convert HTML to Markdown"),
        ("Is Rust faster than Go?", "Is Go faster than Rust?"),
        # ranges and arrows: the marks are not words, the order still matters
        ("What changed in release-2.1..release-2.3?", "What changed in release-2.3..release-2.1?"),
        ("Migration path mysql -> postgres", "Migration path postgres -> mysql"),
        ("Rows for weeks 3...9 only", "Rows for weeks 9...3 only"),
        (
            "Move my money from my ISA into my current account",
            "Put my current account money into my ISA",
        ),
    ],
)
def test_order_guard_rejects_reversed_direction(a: str, b: str) -> None:
    assert rejects(OrderGuard(), a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Flights from Paris to London", "Cheap flights from Paris to London"),
        ("How long from Paris to London by train?", "Paris to London: how long is the train?"),
        ("How do I export my data from HubSpot?", "What's the way to download my HubSpot data?"),
        ("Compare Rust and Go", "Compare Go and Rust"),  # symmetric: order carries no meaning
        ("Explain the migration path mysql -> postgres", "How do I migrate mysql to postgres?"),
        ("Hmm... what does this mean", "what does this mean"),
    ],
)
def test_order_guard_passes_same_direction(a: str, b: str) -> None:
    assert not rejects(OrderGuard(), a, b)


# --- scope -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Paracetamol dose for adults", "Paracetamol dose for children"),
        ("Symptoms of measles", "Symptoms of measles in babies"),
        ("How do I reset my password?", "How do I reset my colleague's password?"),
        ("Holiday allowance for full-time staff", "Holiday allowance for part-time staff"),
        ("How do I update the app on iPhone?", "How do I update the app on Android?"),
        ("What does my home insurance cover?", "What does my car insurance cover?"),
        ("What's my account balance?", "What's my joint account balance?"),
        ("Can I work remotely?", "Can contractors work remotely?"),
        ("How do I see my schedule?", "How do I see my family's schedule?"),  # a group's
        ("Where is my parcel?", "Where is my roommate's parcel?"),
    ],
)
def test_scope_guard_rejects_other_audience_or_object(a: str, b: str) -> None:
    assert rejects(ScopeGuard(), a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Is breakfast included for kids?", "Do children get breakfast included?"),
        (
            "How do I apply for a school place for my child?",
            "How do I aply for a school place for my chlid?",
        ),
        ("How do I reset my password?", "I forgot my password, help"),
        ("Do you deliver on weekends?", "Is weekend delivery available?"),
        ("Where is the user guide?", "Where is the user's guide?"),  # a thing's name
    ],
)
def test_scope_guard_passes_same_scope(a: str, b: str) -> None:
    assert not rejects(ScopeGuard(), a, b)


# --- output constraints ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Explain recursion", "Explain recursion briefly"),
        ("Explain recursion", "Explain recursion in detail"),
        ("Summarise the report in 3 sentences", "Summarise the report in 5 sentences"),
        ("List the G7 countries", "List the G7 countries as JSON"),
        ("Compare cats and dogs", "Compare cats and dogs in a table"),
        ("Describe Rome", "Describe Rome in French"),
        ("Give me tips for sleep", "Give me tips for sleep as bullet points"),
        # "short" elsewhere than the length: brevity asked on one side only
        ("I'm short on time, explain how DNS works", "I'm short on time, explain DNS briefly"),
    ],
)
def test_constraint_guard_rejects_different_output_constraints(a: str, b: str) -> None:
    assert rejects(ConstraintGuard(), a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Summarise the report in 3 sentences", "Give a three-sentence summary of the report"),
        ("Book me a table for two", "Reserve a table for two"),  # a table is not a format
        ("Describe Rome in French", "Décris Rome in French please"),
        # "short" against "brief" in the same request is that length
        ("Write a short note to my neighbour", "Write a brief note to my neighbour"),
    ],
)
def test_constraint_guard_passes_same_constraints(a: str, b: str) -> None:
    assert not rejects(ConstraintGuard(), a, b)


def test_a_brief_is_a_short_note_but_the_best_is_not_the_first() -> None:
    verifier = Verifier()
    assert (
        verifier.verify("Write a brief note to my neighbour", "Write a short note to my neighbour")
        is None
    )
    assert (
        verifier.verify("Give me a short overview of Kafka", "Give me a brief overview of Kafka")
        is None
    )
    refused = verifier.verify("What's the first album by Adele?", "What's the best album by Adele?")
    assert refused is not None


# --- conversations ------------------------------------------------------------------------


def test_role_prefixes_are_ignored() -> None:
    verifier = Verifier()
    assert verifier.verify("human: How do I reset my router?", "How do I reset my router?") is None
    # role names never become entities, even when capitalised
    assert (
        verifier.verify(
            "System: Be brief.\nHuman: What is the capital of Peru?",
            "system: Be brief.\nhuman: what's the capital of Peru?",
        )
        is None
    )


def test_conversation_checks_the_whole_context() -> None:
    verifier = Verifier()
    history = (
        "system: You answer billing questions.\nhuman: My plan costs $10 a month.\nai: Noted.\n"
    )
    other = history.replace("$10", "$30")
    question = "human: How much will I pay in a year?"
    rejection = verifier.verify(history + question, other + question)
    assert rejection is not None and rejection.guard == "number"
    assert verifier.verify(history + question, history + question) is None


# --- verifier -----------------------------------------------------------------------------


def test_default_guards_cover_every_category() -> None:
    names = [g.name for g in default_guards()]
    assert set(names) == {
        "negation",
        "antonym",
        "argument",
        "substitution",
        "number",
        "entity",
        "order",
        "scope",
        "constraint",
        "task",
        "asks",
    }
    assert all(isinstance(g, Guard) for g in default_guards())


def test_verifier_reports_the_first_guard_that_rejects() -> None:
    rejection = Verifier().verify("Don't cancel my order", "Cancel my order")
    assert rejection == Rejection("negation", rejection.reason)
    assert "negat" in rejection.reason


def test_verifier_with_custom_guards() -> None:
    class NoSwearing:
        name = "custom"

        def check(self, query: str, candidate: str) -> str | None:
            return "banned word" if "darn" in query else None

    assert Verifier([]).verify("Don't cancel", "Cancel") is None  # no guards at all
    verifier = Verifier([NoSwearing()])
    assert verifier.verify("darn it", "oh no") == Rejection("custom", "banned word")
    assert verifier.verify("Don't cancel", "Cancel") is None


def test_extra_verifier_runs_after_the_guards() -> None:
    calls: list[tuple[str, str]] = []

    def judge(query: str, candidate: str) -> bool:
        calls.append((query, candidate))
        return "blue" not in query

    verifier = Verifier(extra=judge)
    assert verifier.verify("Is the sky blue?", "Is the sky blue today?") is not None
    assert verifier.verify("Cancel my order", "Don't cancel my order").guard == "negation"
    assert calls == [("Is the sky blue?", "Is the sky blue today?")]  # not called after a guard
    assert verifier.verify("How do I bake bread?", "How can I bake bread?") is None


async def test_async_extra_verifier() -> None:
    async def judge(query: str, candidate: str) -> bool:
        await asyncio.sleep(0)
        return query.endswith("?")

    verifier = Verifier(extra=judge)
    assert await verifier.averify("Bake bread?", "Bake bread?") is None
    assert await verifier.averify("Bake bread", "Bake bread") == Rejection(
        "custom", "rejected by the extra verifier"
    )
    with pytest.raises(TypeError, match="averify"):
        verifier.verify("Bake bread?", "Bake bread?")


def test_degenerate_and_long_texts() -> None:
    verifier = Verifier()
    assert verifier.verify("", "") is None
    assert verifier.verify("", "???") is None
    # parsing is linear: a 100 kB conversation is handled, and its numbers compared
    long = "human: " + "Move 13 boxes from Paris to London. " * 2800
    assert verifier.verify(long, long.replace("13 boxes", "31 boxes", 1)).guard == "number"


def test_features_are_parsed_once_per_text() -> None:
    text = "How do I cancel order 12345 from London?"
    assert features(text) is features(text)
    parsed = features(text)
    assert parsed.quantities == {"num:12345": 1}
    assert parsed.entities == ("london",)


# --- our own labelled pairs -----------------------------------------------------------------


def _pair_id(pair: LabelledPair) -> str:
    return pair.id


OWN_PAIRS = load_pairs(OWN_PAIRS_PATH)


@pytest.mark.parametrize("pair", OWN_PAIRS, ids=_pair_id)
def test_own_labelled_pairs(pair: LabelledPair) -> None:
    """Paraphrases and near repeats pass; each trap is rejected by the guard of its kind."""
    verifier = Verifier()
    rejection = verifier.verify(pair.query, pair.cached)
    if pair.same_answer:
        assert rejection is None, f"a true paraphrase was rejected: {rejection}"
    else:
        assert rejection is not None, "a trap was let through"
        assert rejection.guard == pair.category, rejection.reason
    # the cache may compare either way round; the decision must not depend on it
    assert (verifier.verify(pair.cached, pair.query) is None) == (rejection is None)


def test_own_pairs_cover_every_kind(own_pairs: list[LabelledPair]) -> None:
    kinds = {p.category for p in own_pairs}
    assert {"paraphrase", "near_repeat"} <= kinds
    assert {"negation", "number", "entity", "order", "scope", "constraint"} <= kinds
    assert sum(p.same_answer for p in own_pairs) >= 40


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "the parcel was not scanned but the app says shipped",
            "the parcel was scanned but the app says not shipped",
        ),
        ("my printer prints but does not scan", "my printer scans but does not print"),
    ],
)
def test_negation_moved_to_another_predicate_is_another_question(a: str, b: str) -> None:
    reason = NegationGuard().check(a, b)
    assert reason is not None and NegationGuard().check(b, a) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Why isn't my bread dough rising?", "Why is my bread dough not rising?"),
        ("my phone won't charge", "my phone does not charge"),
    ],
)
def test_negation_on_the_same_predicate_passes(a: str, b: str) -> None:
    assert NegationGuard().check(a, b) is None and NegationGuard().check(b, a) is None


def test_a_guard_that_raises_refuses_the_candidate_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        name = "broken"

        def check(self, query: str, candidate: str) -> str | None:
            raise ValueError("cannot read this text")

    with caplog.at_level("WARNING", logger="redis_agent_core.cache.guards"):
        rejection = Verifier([Broken()]).verify(
            "How do I reset my router?", "How to reset a router?"
        )
    assert rejection is not None and rejection.guard == "error" and "broken" in rejection.reason
    assert "cannot read this text" in caplog.text


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("I don't know how to set up a VPN on my phone", "How do I set up a VPN on my phone?"),
        ("We can't figure out why the build fails on CI", "Why does the build fail on CI?"),
        (
            "honestly I never understood what a mortgage offset account is",
            "What is a mortgage offset account?",
        ),
        (
            "I have no idea which fertiliser to use for tomatoes",
            "Which fertiliser should I use for tomatoes?",
        ),
        (
            "Hi, I'm not sure whether a 1099 contractor pays payroll tax",
            "Does a 1099 contractor pay payroll tax?",
        ),
    ],
)
def test_not_knowing_what_one_asks_negates_nothing(a: str, b: str) -> None:
    assert NegationGuard().check(a, b) is None and NegationGuard().check(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # inside the question, not opening it: the negator is the question's
        ("What if I don't remember where I parked?", "What if I remember where I parked?"),
        # a negator of the question after the opening one still counts
        ("I don't know why my code doesn't compile", "Why does my code compile?"),
        ("I can't log in to my bank", "How do I log in to my bank?"),
    ],
)
def test_a_negator_inside_the_question_still_counts(a: str, b: str) -> None:
    assert NegationGuard().check(a, b) is not None


_RENT = "can a landlord raise rent mid-lease?"


@pytest.mark.parametrize(
    "wrapped",
    [
        f"Not sure if this is the right subreddit for this, but {_RENT}",
        f"{_RENT} I've looked online and still can't find a straight answer",
        f"My colleague told me something else so I want to double-check: {_RENT}",
        f"Apologies if this is a basic question. {_RENT} Thanks in advance!",
    ],
)
def test_chatter_about_the_asking_is_not_part_of_the_question(wrapped: str) -> None:
    verifier = Verifier()
    assert verifier.verify(wrapped, _RENT) is None and verifier.verify(_RENT, wrapped) is None
    # what the question itself says still counts
    assert verifier.verify(wrapped, "Can a landlord not raise rent mid-lease?") is not None


def test_a_passive_orders_its_doer_first() -> None:
    verifier = Verifier()
    active = "Did Lufthansa buy Eurowings from Germanwings?"
    assert verifier.verify("Was Eurowings bought from Germanwings by Lufthansa?", active) is None
    assert (
        OrderGuard().check(
            "Was the parcel sent to Anna by Ben?", "Did Ben send the parcel to Anna?"
        )
        is None
    )
    assert OrderGuard().check(
        "Was the parcel sent to Ben by Anna?", "Did Ben send the parcel to Anna?"
    )


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # a moved clause orders nothing: no direction word governs either entity
        (
            "On Windows, how do I copy a JSON file into a Docker container?",
            "How do I copy a JSON file into a Docker container on Windows?",
            True,
        ),
        # "to B from A" is "from A to B": each entity keeps its side of the flow
        (
            "How do I move my notes from Evernote to Notion?",
            "How do I move my notes to Notion from Evernote?",
            True,
        ),
        (
            "With the Stripe API, how do I convert a charge from GBP to USD?",
            "How do I convert a charge from GBP to USD with the Stripe API?",
            True,
        ),
        # a direction word governing either side still orders them (an alias included)
        ("Is Norway richer than Sweden?", "Is Sweden richer than Norway?", False),
        ("Is the US older than France?", "Is France older than the US?", False),
        ("Did Google buy YouTube before Android?", "Did Google buy Android before YouTube?", False),
        (
            "With the Stripe API, how do I convert a charge from GBP to USD?",
            "With the Stripe API, how do I convert a charge from USD to GBP?",
            False,
        ),
    ],
)
def test_only_entities_a_direction_word_governs_are_ordered(a: str, b: str, same: bool) -> None:
    assert rejects(OrderGuard(), a, b) != same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # words after the last flow's end trail it in either order: no direction of theirs
        (
            "Ship the parcel from Leeds to Glasgow next Monday morning.",
            "Ship the parcel to Glasgow from Leeds next Monday morning.",
            True,
        ),
        (
            "Ship the parcel from Leeds to Glasgow next Monday morning.",
            "Ship the parcel from Glasgow to Leeds next Monday morning.",
            False,
        ),
        (
            "Ship the parcel to Glasgow from Leeds next Monday morning.",
            "Ship the parcel from Glasgow to Leeds next Monday morning.",
            False,
        ),
    ],
)
def test_words_trailing_a_flow_are_not_its_ends(a: str, b: str, same: bool) -> None:
    assert rejects(OrderGuard(), a, b) != same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # "more" / "less" are opposite comparatives, not one inverted: turned round, the same
        ("Is Kotlin more popular than Scala?", "Is Scala less popular than Kotlin?", True),
        ("Is Kotlin less popular than Scala?", "Is Scala less popular than Kotlin?", False),
        ("Is Kotlin more popular than Scala?", "Is Scala more popular than Kotlin?", False),
    ],
)
def test_more_and_less_turn_a_comparison_round(a: str, b: str, same: bool) -> None:
    assert rejects(OrderGuard(), a, b) != same


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Isn't it rude to tip in Japan?", "Is it rude to tip in Japan?"),
        ("Don't you need a licence to fly a drone?", "Do you need a licence to fly a drone?"),
        ("Hi, shouldn't my landlord fix the boiler?", "Should my landlord fix the boiler?"),
        ("so can't I claim the tax back?", "can I claim the tax back?"),
        ("Aren't bananas high in potassium?", "Are bananas high in potassium?"),
        ("Is it not possible to undo a sent email?", "Is it possible to undo a sent email?"),
        # its other negator still counts on both sides
        (
            "Isn't it unsafe to drive without a spare tyre?",
            "Is it unsafe to drive without a spare tyre?",
        ),
    ],
)
def test_a_negated_yes_no_question_asks_what_the_plain_one_asks(a: str, b: str) -> None:
    assert Verifier().verify(a, b) is None and Verifier().verify(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # after a question word the negator is what is asked about
        ("Why isn't my dishwasher draining?", "Why is my dishwasher draining?"),
        # "should I not": about not doing it ("No" answers the other question)
        ("Should I not water succulents in winter?", "Should I water succulents in winter?"),
        # a statement whose subject was dropped, not a question turned round
        ("doesn't connect to the hotel wifi", "connects to the hotel wifi"),
        ("Don't reply to the phishing email", "reply to the phishing email"),
        ("aren't always accurate, why", "always accurate, why"),
        ("don't miss the deadline", "miss the deadline"),
    ],
)
def test_a_negator_outside_a_yes_no_question_still_counts(a: str, b: str) -> None:
    assert NegationGuard().check(a, b) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("my payment failed to go through", "my payment did not go through"),
        (
            "what is the penalty for failure to file a tax return",
            "what is the penalty for not filing a tax return",
        ),
        ("nut-free brownie recipe", "brownie recipe without nuts"),
        ("fat-free yoghurt calories", "calories in yoghurt with no fat"),
        ("a seedless grape variety for my garden", "a grape variety with no seeds for my garden"),
        (
            "I have never been vaccinated against tetanus, is it too late",
            "I haven't ever been vaccinated against tetanus, is it too late",
        ),
    ],
)
def test_negation_said_another_way_passes(a: str, b: str) -> None:
    assert Verifier().verify(a, b) is None and Verifier().verify(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("my payment went through", "my payment failed to go through"),
        ("nut-free brownie recipe", "brownie recipe with nuts"),
        ("fat-free yoghurt calories", "calories in yoghurt without sugar"),
        (
            "I have ever been vaccinated against tetanus",
            "I have never been vaccinated against tetanus",
        ),
    ],
)
def test_negation_said_another_way_still_differs_from_its_opposite(a: str, b: str) -> None:
    assert Verifier().verify(a, b) is not None and Verifier().verify(b, a) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("pension rules for Canadian residents", "pension rules for residents of Canada"),
        ("do Chinese citizens need a transit visa", "do citizens of China need a transit visa"),
        (
            "is my Italian driving licence valid in Spain",
            "is a driving licence from Italy valid in Spain",
        ),
        # an exception's class on one side, its message paraphrased with the language
        (
            "KeyError: 'user_id' when reading a dict",
            "reading a dict in Python raises a key error for 'user_id'",
        ),
    ],
)
def test_a_place_and_its_people_or_an_error_and_its_language_are_no_swap(a: str, b: str) -> None:
    assert EntityGuard().check(a, b) is None and EntityGuard().check(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("pension rules for Canadian residents", "pension rules for residents of Mexico"),
        ("weather in Indiana in May", "weather in India in May"),
        # the same people and place, in swapped roles
        ("can a Kenyan nurse register in the UK", "can a UK nurse register in Kenya"),
        ("KeyError: 'user_id' when reading a dict", "IndexError: 'user_id' when reading a dict"),
        ("KeyError in Django templates", "Templates in Flask raise an error"),
    ],
)
def test_other_places_and_other_errors_still_differ(a: str, b: str) -> None:
    assert EntityGuard().check(a, b) is not None and EntityGuard().check(b, a) is not None


def test_synonyms_in_one_sense_are_no_opposites() -> None:
    # WordNet's antonyms, extended to the synonyms of both senses, pair "employ" with "hire"
    assert AntonymGuard().check("how to hire a freelancer", "how to employ a freelancer") is None
    assert AntonymGuard().check("how to employ a freelancer", "how to hire a freelancer") is None
    assert AntonymGuard().check("how to hire a freelancer", "how to fire a freelancer") is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Samsung Galaxy Watch strap size", "Galaxy Watch strap size"),
        ("Xbox Game Pass refund", "Game Pass refund"),
        ("Nintendo Switch joycon drift", "Switch joycon drift"),
    ],
)
def test_a_maker_before_its_products_name_narrows_nothing(a: str, b: str) -> None:
    assert ScopeGuard().check(a, b) is None and ScopeGuard().check(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("rent in central London", "rent in London"),
        ("the out-of-hours GP number", "the GP number"),
    ],
)
def test_a_qualifier_before_a_name_still_narrows_it(a: str, b: str) -> None:
    assert ScopeGuard().check(a, b) is not None and ScopeGuard().check(b, a) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("I'm unable to reset my router", "I can't reset my router"),
        ("I'm unable to reset my router", "I'm not able to reset my router"),
        ("is raw cookie dough unsafe to eat", "is raw cookie dough not safe to eat"),
        ("why do I get 404 Not Found on my Flask route", "why do I get a 404 on my Flask route"),
        ("my router shows 'Internet disconnected'", "router says internet is disconnected"),
    ],
)
def test_a_negation_or_a_message_said_another_way_passes(a: str, b: str) -> None:
    assert Verifier().verify(a, b) is None and Verifier().verify(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("I'm unable to reset my router", "I'm able to reset my router"),
        ("is raw cookie dough unsafe to eat", "is raw cookie dough safe to eat"),
        ("how do I unzip a folder on Linux", "how do I zip a folder on Linux"),
        ("my router shows 'Internet disconnected'", "my router shows internet connected"),
        ("what does 'card declined' mean", "what does card pending mean"),
    ],
)
def test_a_negation_or_a_message_said_another_way_still_differs(a: str, b: str) -> None:
    assert Verifier().verify(a, b) is not None and Verifier().verify(b, a) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("how do I stop biting my nails", "how do I quit biting my nails"),
        ("ways to stop a nosebleed", "ways to halt a nosebleed"),
        ("how to stop snoring", "how to get rid of snoring"),
    ],
)
def test_stopping_said_with_another_verb_of_ending_passes(a: str, b: str) -> None:
    assert NegationGuard().check(a, b) is None and NegationGuard().check(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("how do I stop biting my nails", "how do I start biting my nails"),
        ("how to stop my baby crying", "how to get my baby to cry"),
    ],
)
def test_stopping_against_doing_still_differs(a: str, b: str) -> None:
    assert NegationGuard().check(a, b) is not None and NegationGuard().check(b, a) is not None


_KETTLE = (
    "My kettle switches itself off after a few seconds even though the water {}. It is a "
    "two year old Bosch model and the base looks clean. What could cause this and can I fix it?"
)


def test_a_long_prompt_reworded_around_a_negator_passes() -> None:
    a = _KETTLE.format("isn't hot yet")
    b = (
        "Two-year-old Bosch kettle: it turns off a few seconds in while the water is still "
        "warming up, and the base seems clean. What's causing it and is it fixable?"
    )
    assert NegationGuard().check(a, b) is None and NegationGuard().check(b, a) is None


def test_a_long_prompt_negating_a_word_both_use_still_differs() -> None:
    a, b = _KETTLE.format("isn't boiling yet"), _KETTLE.format("is boiling already")
    assert NegationGuard().check(a, b) is not None and NegationGuard().check(b, a) is not None


# --- numbers in pasted texts and ordinals ---------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Which is the 5th planet from the sun?", "Which planet is fifth from the sun?"),
        ("Who sang the 2nd song at the concert?", "Who sang the second song at the concert?"),
    ],
)
def test_an_ordinal_in_digits_equals_it_in_words(a: str, b: str) -> None:
    assert NumberGuard().check(a, b) is None and NumberGuard().check(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Who sang the 14th song?", "Who sang the fourth song?"),
        ("Give me 2 ideas for a title", "Give me a second idea for a title"),  # not an ordinal
        ("Compare the 2nd and 3rd chapters", "Summarise the second chapter"),
    ],
)
def test_an_ordinal_in_words_is_no_other_number(a: str, b: str) -> None:
    assert rejects(NumberGuard(), a, b)


_LETTER = (
    "Please answer this letter from a tenant:\nDear landlord, the heater in flat 7 has been "
    "broken since Monday. The repair quote I got is £240 and I can pay it if you take it "
    "off the rent. Kind regards, Omar\n"
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "pandas: keep the rows where sales are above 1.5k",
            "pandas: keep rows with sales over 1,500",
        ),
        ("How long to walk 10k steps?", "How long does it take to walk 10,000 steps?"),
        ("Is a 4k monitor worth it?", "Is a 4K monitor worth it?"),
    ],
)
def test_a_number_with_a_k_is_thousands(a: str, b: str) -> None:
    assert NumberGuard().check(a, b) is None and NumberGuard().check(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Excel: highlight values above 1.5k", "Excel: highlight values above 15k"),
        ("SQL for accounts with more than 2.5k users", "SQL for accounts with more than 250 users"),
    ],
)
def test_thousands_with_a_k_differ_from_other_numbers(a: str, b: str) -> None:
    assert rejects(NumberGuard(), a, b)


def test_a_changed_cell_of_a_pasted_csv_differs() -> None:
    csv = "Which team scored most?\nteam,goals\nLeeds,{}\nHull,31\n"
    assert rejects(NumberGuard(), csv.format(40), csv.format(24))
    # a thousands comma still joins one number
    assert not rejects(NumberGuard(), csv.format("1,200"), csv.format("1200"))


# --- pasted emails and tables with the request reworded (recall17) ----------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Thanks for the note about the 3 invoices.",
            "Thanks for your message about the 3 invoices.",
        ),
        ("Add these notes to the table", "Add these comments to the table"),
        ("Noted: the call moved to Friday", "Understood: the call moved to Friday"),
    ],
)
def test_a_note_is_no_negator(a: str, b: str) -> None:
    assert NegationGuard().check(a, b) is None and NegationGuard().check(b, a) is None


def test_a_note_beside_a_negator_still_counts_it() -> None:
    assert rejects(NegationGuard(), "Reply to the note: do not pay", "Reply to the note: pay")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Which row has the highest total?", "Which line's total is largest?"),
        ("Which month had the highest sales?", "Which month had the biggest sales?"),
        ("Which row has the lowest total?", "Which row has the smallest total?"),
        ("Which team has the greatest score?", "Which team has the highest score?"),
    ],
)
def test_size_words_on_an_amount_pick_the_same_row(a: str, b: str) -> None:
    verifier = Verifier()
    assert verifier.verify(a, b) is None and verifier.verify(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Which row has the highest total?", "Which row has the smallest total?"),
        ("Which row has the highest total?", "Which row has the lowest total?"),
        ("Which city is the largest?", "Which city is the highest?"),  # no amount
    ],
)
def test_size_words_at_other_ends_or_on_no_amount_differ(a: str, b: str) -> None:
    verifier = Verifier()
    assert verifier.verify(a, b) is not None and verifier.verify(b, a) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Reply declining the invitation", "Reply saying no to the invitation"),
        ("Politely decline this offer", "Write a polite no to this offer"),
        ("Tell her we won't extend the deadline", "Tell her we're refusing the extension"),
        ("Answer that I turn down the job", "Answer that I won't take the job"),
    ],
)
def test_refusing_is_saying_no(a: str, b: str) -> None:
    assert NegationGuard().check(a, b) is None and NegationGuard().check(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("My card was declined, why?", "My card was not declined, why?"),
        ("Reply declining the offer", "Reply not declining the offer"),
        ("Write a polite no to the offer", "Write a polite yes to the offer"),
    ],
)
def test_a_refusal_negated_or_against_yes_still_differs(a: str, b: str) -> None:
    assert rejects(NegationGuard(), a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Which customers have no orders?", "Which customers have zero orders?"),
        ("List the products with no returns", "List the products with 0 returns"),
    ],
)
def test_no_things_are_zero_things(a: str, b: str) -> None:
    verifier = Verifier()
    assert verifier.verify(a, b) is None and verifier.verify(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Which customers have no orders?", "Which customers have 0 returns?"),
        ("Which customers have no orders?", "Which customers have 10 orders?"),
        ("Which customers have zero orders?", "Which customers have orders?"),
    ],
)
def test_no_things_are_not_zero_other_things(a: str, b: str) -> None:
    verifier = Verifier()
    assert verifier.verify(a, b) is not None and verifier.verify(b, a) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Sum the sales excluding refunds", "Sum the sales without refunds"),
        ("Count the guests except the children", "Count the guests, not the children"),
        ("Delete the rows that are missing a date", "Delete the rows with no date"),
        ("Answer in no more than 80 words", "Answer in at most 80 words"),
        ("Send it no later than noon", "Send it by noon at the latest"),
        ("Pick weeks with no fewer than 4 shifts", "Pick weeks with at least 4 shifts"),
    ],
)
def test_leaving_out_lacking_and_bounds_said_without_a_negator(a: str, b: str) -> None:
    assert NegationGuard().check(a, b) is None and NegationGuard().check(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Answer in no more than 80 words", "Answer in more than 80 words"),
        ("Answer in no more than 80 words", "Answer in at least 80 words"),
        ("Ask to go down to no more than 8 seats", "Ask to go up to more than 8 seats"),
        ("Delete the rows that are missing a date", "Delete the rows not missing a date"),
    ],
)
def test_a_bound_the_other_way_or_a_negated_lack_still_differs(a: str, b: str) -> None:
    assert rejects(NegationGuard(), a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Convert this list to YAML: a, b, c", "Turn this list into YAML: a, b, c"),
        ("Translate this note into Italian", "Put this note into Italian"),
        ("Rewrite this stored procedure for MySQL", "Convert this stored procedure to MySQL"),
    ],
)
def test_making_a_text_into_the_same_form_is_one_request(a: str, b: str) -> None:
    verifier = Verifier()
    assert verifier.verify(a, b) is None and verifier.verify(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Convert this list to YAML: a, b, c", "Turn this list into TOML: a, b, c"),
        ("Translate this note into Italian", "Summarize this note in Italian"),
        ("Rewrite this stored procedure for MySQL", "Rewrite this stored procedure for Oracle"),
    ],
)
def test_making_a_text_into_another_form_or_doing_else_differs(a: str, b: str) -> None:
    verifier = Verifier()
    assert verifier.verify(a, b) is not None and verifier.verify(b, a) is not None


_ROSTER = "Who is on the late shift?\nname,team,shift\nAnna,ops,{}\nRaj,support,early\n"
_STOCK = "Which wood is cheapest?\n| Item | Wood | Price |\n|---|---|---|\n| Desk | {} | 120 |\n"


def test_a_changed_word_cell_of_a_pasted_table_differs() -> None:
    assert rejects(EntityGuard(), _ROSTER.format("late"), _ROSTER.format("early"))
    assert rejects(EntityGuard(), _STOCK.format("oak"), _STOCK.format("pine"))


def test_the_same_table_under_a_reworded_request_passes() -> None:
    roster = _ROSTER.format("late")
    reworded = roster.replace("Who is on the late shift?", "Which person works the late shift?")
    assert EntityGuard().check(roster, reworded) is None
    assert EntityGuard().check(_ROSTER.format("Late"), _ROSTER.format("late")) is None


# --- the verifier hands each default guard the pair's features --------------------------


def test_the_verifier_fetches_a_pairs_features_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each default guard fetched both texts' features itself (nine memo probes and calls a
    pair); the verifier now fetches them once and hands them to each guard's judge, the
    entity guard's too (it reads the texts' table cells and code first: judged only after a
    guard that fetched them, so no parse can fail in it first)."""
    import redis_agent_core.cache.guards as guards_module
    from redis_agent_core.cache.guards import _features, relations

    asked: list[tuple[str, str]] = []
    real = _features.pair

    def counting(query: str, candidate: str):  # type: ignore[no-untyped-def]
        asked.append((query, candidate))
        return real(query, candidate)

    for module in (guards_module, relations, _features):
        monkeypatch.setattr(module, "pair", counting)
    query, candidate = "how do I reset my router password", "how can I reset my router password"
    assert Verifier().verify(query, candidate) is None  # every guard ran
    assert len(asked) == 1
    # alone, or first, the entity guard reads the cells and code before it fetches them
    asked.clear()
    table = ("Ben,31,Leeds,free", "Ben,31,Leeds,pro")
    assert Verifier([EntityGuard()]).verify(*table) == Rejection(
        "entity", "a cell of the pasted table differs ('free' vs 'pro')"
    )
    assert asked == []
    assert Verifier([EntityGuard(), OrderGuard()]).verify(query, candidate) is None
    assert len(asked) == 2  # its own fetch, then the order guard's


def test_a_default_guard_that_raises_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default guards run in one loop: a guard that raises is still the one named (and
    the pair refused), and a pair whose features cannot be fetched is the first guard's."""
    import redis_agent_core.cache.guards as guards_module
    from redis_agent_core.cache.guards import _features

    def broken(*args: object) -> None:
        raise RuntimeError("broken")

    pair = ("how do I reset my router password", "how can I reset my router password")
    monkeypatch.setattr(guards_module, "_diffs", broken)
    assert Verifier().verify(*pair) == Rejection("error", "guard 'scope' raised RuntimeError")
    monkeypatch.setattr(guards_module, "pair", broken)
    monkeypatch.setattr(_features, "pair", broken)
    assert Verifier().verify(*pair) == Rejection("error", "guard 'order' raised RuntimeError")


def test_a_subclass_or_a_replaced_guard_list_is_what_runs() -> None:
    """The verifier hands features only to the default guards' own classes: a subclass
    that overrides ``check`` is asked through it, and a list changed after the verifier
    was built is the one that runs."""

    class Strict(NegationGuard):
        def check(self, query: str, candidate: str) -> str | None:
            return "always"

    verifier = Verifier([OrderGuard(), Strict()])
    pair = ("convert 5 miles to km", "convert five miles to km")
    assert verifier.verify(*pair) == Rejection("negation", "always")
    verifier.guards[1] = NegationGuard()
    assert verifier.verify(*pair) is None
    verifier.guards = [Strict()]
    assert verifier.verify(*pair) == Rejection("negation", "always")
    # each default guard's check still works alone, outside any verifier
    assert all(guard.check(*pair) is None for guard in default_guards())
    refusing = [
        guard.name
        for guard in default_guards()
        if guard.check("cancel my subscription", "don't cancel my subscription")
    ]
    assert refusing == ["negation"]
