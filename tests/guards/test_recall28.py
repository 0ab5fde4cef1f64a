"""True pairs the guards refused for a quantity, a negation or a word said another way
(recall28), each beside traps of the same look that must still be refused. The guards
judge them alone (``Verifier()``): the pair scorer is another helper's."""

from __future__ import annotations

import pytest

from redis_agent_core.cache.guards._features import features

from .test_recall27 import _passed

CASES = [
    # a temperature in another scale or written another way
    (
        (
            "Is 25 °C too warm for a newborn's bedroom?",
            "Is 77 °F too warm for a newborn's bedroom?",
        ),
        [
            (
                "Is 25 °C too warm for a newborn's bedroom?",
                "Is 25 °F too warm for a newborn's bedroom?",
            ),
            (
                "Is 25 °C too warm for a newborn's bedroom?",
                "Is 28 °C too warm for a newborn's bedroom?",
            ),
        ],
    ),
    (
        (
            "Greenhouse bot: should I open the vents at 30 C?",
            "Greenhouse bot: should I open the vents at 30 degrees Celsius?",
        ),
        [
            (
                "Greenhouse bot: should I open the vents at 30 C?",
                "Greenhouse bot: should I open the vents at 30 degrees Fahrenheit?",
            ),
            (
                "Greenhouse bot: should I open the vents at 30 C?",
                "Greenhouse bot: should I open the vents at 35 degrees Celsius?",
            ),
        ],
    ),
    (
        (
            "How long can milk sit out at 90F before it spoils?",
            "How long can milk sit out at 32 °C before it spoils?",
        ),
        [
            (
                "How long can milk sit out at 90F before it spoils?",
                "How long can milk sit out at 90 °C before it spoils?",
            ),
            (
                "How long can milk sit out at 90F before it spoils?",
                "How long can milk sit out at 40 °C before it spoils?",
            ),
        ],
    ),
]


NUMBERS = [
    # a clock time in words
    (
        ("Can the plumber come at quarter past three?", "Can the plumber come at 3:15?"),
        [
            ("Can the plumber come at quarter to three?", "Can the plumber come at 3:15?"),
            ("Can the plumber come at half past three?", "Can the plumber come at 3:15?"),
        ],
    ),
    # a decade, and its first and last years
    (
        (
            "Which board games sold best in the 1980s?",
            "Which board games sold best between 1980 and 1989?",
        ),
        [
            ("Which board games sold best in the 1980s?", "Which board games sold best in 1980?"),
            (
                "Which board games sold best in the 1980s?",
                "Which board games sold best in the 1990s?",
            ),
        ],
    ),
    # a unit spelt out, and a unit's name after a number is no entity
    (
        (
            "Can a van carry two tonnes of gravel?",
            "Can a van carry 2,000 kg of gravel?",
        ),
        [("Can a van carry two tonnes of gravel?", "Can a van carry 200 kg of gravel?")],
    ),
    (
        (
            "How long does it take to copy 2 TB to a USB drive?",
            "How long does it take to copy 2,000 GB to a USB drive?",
        ),
        [
            (
                "How long does it take to copy 2 TB to a USB drive?",
                "How long does it take to copy 2 GB to a USB drive?",
            )
        ],
    ),
    (
        (
            "Is 40 millimetres of snow enough to close schools?",
            "Is 4 cm of snow enough to close schools?",
        ),
        [
            (
                "Is 40 millimetres of snow enough to close schools?",
                "Is 40 cm of snow enough to close schools?",
            )
        ],
    ),
    # a fraction of a unit, converted between imperial and metric units (rounded within 2%;
    # "1/2 inch" is 12.7 mm: a 12 mm bit, bolt or pipe is another size, 5.5% off)
    (
        (
            "Which drill bit for a 1/2 inch hole in brick?",
            "Which drill bit for a 12.7 mm hole in brick?",
        ),
        [
            (
                "Which drill bit for a 1/2 inch hole in brick?",
                "Which drill bit for a 12 mm hole in brick?",
            ),
            (
                "Which drill bit for a 1/2 inch hole in brick?",
                "Which drill bit for a 10 mm hole in brick?",
            ),
            (
                "Which drill bit for a 1/4 inch hole in brick?",
                "Which drill bit for a 12 mm hole in brick?",
            ),
            (
                "Which drill bit for a 12 mm hole in brick?",
                "Which drill bit for a 12.5 mm hole in brick?",
            ),
        ],
    ),
]


NUMBERS += [
    # a month on one side, 30 days on the other (one span, whichever side says "a")
    (
        (
            "Can I get fit for a 10k race in a month?",
            "Can I get fit for a 10k race within 30 days?",
        ),
        [
            (
                "Can I get fit for a 10k race in a week?",
                "Can I get fit for a 10k race within 30 days?",
            )
        ],
    ),
    # metres written "m" apart from the digits, and a count and its unit in words
    (
        (
            "Is a 7 m boat big enough for a family of four?",
            "Is a seven-metre boat big enough for a family of four?",
        ),
        [
            (
                "Is a 7 m boat big enough for a family of four?",
                "Is a seven-foot boat big enough for a family of four?",
            ),
            (
                "Is a 7 m boat big enough for a family of four?",
                "Is a nine-metre boat big enough for a family of four?",
            ),
        ],
    ),
]

NEGATIONS = [
    # "out of stock" is "not in stock", "no stock"
    (
        (
            "Which sizes of the rain jacket are out of stock?",
            "Which sizes of the rain jacket are not in stock?",
        ),
        [
            (
                "Which sizes of the rain jacket are out of stock?",
                "Which sizes of the rain jacket are in stock?",
            ),
            (
                "Which sizes of the rain jacket are out of stock?",
                "Which sizes of the rain jacket are not out of stock?",
            ),
        ],
    ),
    (
        (
            "Email me when a warehouse has no stock of the blue mug.",
            "Email me when a warehouse is out of stock of the blue mug.",
        ),
        [
            (
                "Email me when a warehouse has stock of the blue mug.",
                "Email me when a warehouse is out of stock of the blue mug.",
            )
        ],
    ),
    # "empty" or "blank" said of what a container holds is "no" said without a negator:
    # against "has a value" or "is not empty" it is refused
    (
        (
            "Return an error when the basket has no items.",
            "Return an error if the basket is empty.",
        ),
        [
            (
                "Return an error when the basket has no items.",
                "Return an error if the basket is not empty.",
            ),
            (
                "Return an error when the basket has items.",
                "Return an error if the basket is empty.",
            ),
        ],
    ),
    (
        (
            "Highlight the cells that are empty in column B.",
            "Highlight the cells that have no value in column B.",
        ),
        [
            (
                "Highlight the cells that are empty in column B.",
                "Highlight the cells that have a value in column B.",
            ),
            (
                "Highlight the cells that are empty in column B.",
                "Highlight the cells that are not empty in column B.",
            ),
        ],
    ),
    # "throw" an error is "raise" an exception
    (
        (
            "Throw an error when the config file has no entries.",
            "Raise an exception if the config file is empty.",
        ),
        [
            (
                "Throw an error when the config file has no entries.",
                "Log a warning if the config file is empty.",
            ),
            (
                "Throw an error when the config file has no entries.",
                "Raise an exception if the config file is not empty.",
            ),
        ],
    ),
]


@pytest.mark.parametrize(("same", "traps"), CASES + NUMBERS + NEGATIONS)
def test_quantities_negations_and_words_said_otherwise(
    same: tuple[str, str], traps: list[tuple[str, str]]
) -> None:
    assert _passed(*same)
    for trap in traps:
        assert not _passed(*trap), trap


def test_a_temperature_is_a_quantity_not_a_name() -> None:
    assert features("Bake it at 180 °C").quantities == {"temp:180": 1}
    assert features("Bake it at 356 degrees F").quantities == {"temp:180": 1}
    assert features("Bake it at 180 °C").entities == ()
    # a letter after a number that is no temperature stays a name or a word
    assert not _passed("Learn C in 10 days", "Learn F in 10 days")
    assert not _passed("Is 4c hair hard to care for?", "Is 4a hair hard to care for?")
    assert not _passed("Is 20 C warm for a swim?", "Is 20 degrees warm for a swim?")
