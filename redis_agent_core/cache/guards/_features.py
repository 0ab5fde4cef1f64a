"""Feature extraction shared by the default guards.

One pass per text, cached in a small LRU: the cache checks one query against several
candidates and popular stored prompts come back often, so each text is parsed once.
Pure Python + ``re``; no model.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from difflib import SequenceMatcher
from itertools import islice
from string import ascii_lowercase
from typing import Any, NamedTuple, TypeVar, cast

import orjson

from . import _lexicon as lex
from ._instructions import Instruction, instructions
from ._stem import stem

__all__ = [
    "Features",
    "Memo",
    "decode",
    "encode",
    "features",
    "pair",
    "remember",
    "remember_stored",
    "similar",
    "stem",
]

_ROLE = re.compile(rf"^\s*(?:{'|'.join(lex.ROLE_NAMES)})\s*:\s*", re.IGNORECASE | re.MULTILINE)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
# A negated auxiliary typed without its apostrophe ("dont", "doesnt", "cant"): people's
# own wording drops it, and "dont" / "don't" must count one negator alike.
_BARE_NT = frozenset(
    """dont doesnt didnt isnt arent wasnt werent havent hasnt hadnt couldnt wouldnt
    shouldnt mustnt neednt cant wont""".split()
)
_BARE_NT_WORD = re.compile(
    r"\b(do|does|did|is|are|was|were|have|has|had|could|would|should|must|need|ca|wo)nt\b",
    re.IGNORECASE,
)
# Words keep inner hyphens and apostrophes ("part-time", "don't", "mary's").
# (Patterns here are written for ``re``'s search loop: possessive repeats where nothing
# after them could take a character back, and a leading class or look-ahead on the first
# character, which lets the engine skip to where a match can start instead of trying the
# pattern at every position; each matches exactly what its plain form does.) ``re`` has
# possessive repeats from Python 3.11 only: on 3.10 they are plain ones (a little slower,
# the same matches; test_shortcuts compares both forms).
_ONCE = "+" if sys.version_info >= (3, 11) else ""
_WORD = re.compile(rf"[A-Za-z0-9]+{_ONCE}(?:[-'][A-Za-z0-9]+{_ONCE})*{_ONCE}")
# Per ASCII byte (bytes.translate: a table look-up a byte, in C): the byte itself if a
# word may hold it, else a blank; and its kind: "a" a letter or digit, "-" a hyphen or
# apostrophe (a joiner), " " anything else.
_BLANKED = bytes(c if chr(c).isalnum() or chr(c) in "-'" else 32 for c in range(128)) * 2
_KINDS = bytes(97 if chr(c).isalnum() else 45 if chr(c) in "-'" else 32 for c in range(128)) * 2
# Words with a capital or a digit: the only entity candidates. (A word's first run has a
# capital or digit after lower-case letters and digits iff its first character that is
# not a lower-case letter is one: ``[a-z]*+`` is ``[a-z0-9]*`` without backtracking.)
_MARKED_WORD = re.compile(
    rf"(?=[A-Za-z0-9])\b[a-z]*{_ONCE}[A-Z0-9][A-Za-z0-9]*{_ONCE}(?:[-'][A-Za-z0-9]+)*{_ONCE}"
)
# Where a marked word has its capital or digit, led by that character (the engine skips to
# it, where _MARKED_WORD is tried at each letter): with the lower-case letters before it,
# in an ASCII text without "_", it is _MARKED_WORD's match (see _marked).
_MARK_AT = re.compile(rf"[A-Z0-9][A-Za-z0-9]*{_ONCE}(?:[-'][A-Za-z0-9]+)*{_ONCE}")
_QUOTED = re.compile(r"\"([^\"\n]{1,200})\"|`([^`\n]{1,200})`|(?<![\w])'([^'\n]{1,200})'(?![\w])")

_NUMBER_ALT = "|".join(lex.NUMBER_WORDS | lex.SCALE_WORDS)
_NUMBER_WORD_RE = re.compile(
    rf"\b(?:(?:{_NUMBER_ALT})(?:[\s-]+(?:and[\s-]+)?(?:{_NUMBER_ALT}))*)\b"
)
_UNIT_ALT = "|".join(sorted((u for u in lex.UNITS if u.isalpha()), key=len, reverse=True))
_QUANTITY_TOKEN = re.compile(rf"\d+(?:[.,]\d+)?(?:{_UNIT_ALT}|am|pm|st|nd|rd|th|k|m|bn)?")
_DIRECTION_CUES = frozenset(
    {"from", "to", "into", "onto", "than", "vs", "versus", "before", "after"}
)
_PREFIX_HEADS = frozenset(p[:2] for p in lex.NEGATING_PREFIXES)
_NUMERIC = re.compile(r"[\d$£€¥₹]")  # where a number or an amount of money may start
# its ASCII characters (a digit, "$") as "#", every other byte a blank
_NUMERIC_BYTES = bytes(35 if chr(c).isdigit() or c == 36 else 32 for c in range(128)) * 2
_ALPHA_DIGIT = re.compile(r"[A-Za-z].*\d|\d.*[A-Za-z]")
_NUMBER_VOCAB = frozenset(lex.NUMBER_WORDS) | frozenset(lex.SCALE_WORDS) | {"pair"}
# "for a week" = "for seven days": one period of time after a word that takes a length
# ("twice a week", "£10 a day" are rates, not lengths)
_PERIOD_UNITS = [u for u, (dim, _f) in lex.UNITS.items() if dim == "duration" and u.isalpha()]
_ONE_PERIOD = re.compile(
    rf"\b(for|in|within|after|over|takes?|took|lasts?|lasted|spend|spent) (?:a|an|one) "
    rf"({'|'.join(sorted(_PERIOD_UNITS, key=len, reverse=True))})\b"
)
_PERIOD_VOCAB = frozenset(_PERIOD_UNITS)
_NUM_TAIL = r"(?:,\d{3})*(?:\.\d+)?"  # thousands and decimals after the first digits
_NUM = rf"\d+{_NUM_TAIL}"
_TIME = re.compile(
    r"(?=\d)(?:(?<![\w.,:])(\d{1,2})(?:[:.]([0-5]\d))?\s*(?:o'clock\s*)?"
    r"(a\.?m\.?|p\.?m\.?|(?:in the|this|today|tomorrow)\s+(?:morning|afternoon|evening)|"
    r"tonight|at night)(?![a-z])"
    r"|(?<![\w.,:])(\d{1,2}):(\d{2})(?!\d))"
)
# a currency's ISO code before the amount ("GBP 1,200" = "1,200 pounds", "USD 500"), but
# not after one ("9.99 EUR two times"); not "INR" (mostly the blood test: "INR 2.5")
_CODES = "|".join(sorted({c for c in lex.CURRENCY_WORDS.values() if len(c) == 3} - {"inr"}))
_MONEY = re.compile(
    rf"(?=[$£€¥₹\d])(?:([$£€¥₹])\s?({_NUM})\s*(k|m|bn|thousand|million|billion)?(?![a-z])"
    rf"|(?<![\w.,])({_NUM})\s*(k|m|bn|thousand|million|billion)?(?:\s*|-(?!pound))"
    r"(%s)(?![a-z])"
    % "|".join(sorted(lex.CURRENCY_WORDS, key=len, reverse=True))
    + rf"|(?<![\w.,])(?<=\b({_CODES}) )(?<!\d (?:{_CODES}) )({_NUM})"
    r"\s*(k|m|bn|thousand|million|billion)?(?![a-z]))"
)
_TIME_HINT = re.compile(
    r"\d\s*(?:o'clock\s*)?(?:a\.?m|p\.?m|in the|this|today|tomorrow|tonight|at night)|\d:\d"
)
_CURRENCY_ALT = "|".join(sorted(lex.CURRENCY_WORDS, key=len, reverse=True))
# (led by one character class, each branch then checked by a look-behind: an alternation
# whose branch starts with a class gives the engine nothing to skip ahead to, so it tried
# the pattern at every character; the same matches, at half the cost of a scan)
_MONEY_HINT = re.compile(
    rf"[$£€¥₹\d](?:(?<=[$£€¥₹])|(?<=\b(?:{_CODES}) \d)"
    rf"|(?<=\d)\s*(?:k|m|bn|thousand|million|billion)?[\s-]*(?:{_CURRENCY_ALT}))"
)
# A temperature with its scale: "25 °C" = "77 °F" = "25 degrees Celsius" = "25C"; read as
# degrees Celsius (to 0.1). A scale letter glued to the digits needs two of them or a
# degree sign ("4c hair", "5f" are names).
_TEMPERATURE = re.compile(
    r"(?<![\w.,])(-|minus\s+)?(\d+(?:\.\d+)?)(?:\s*[°º]\s*|\s+degrees?\s+|\s+deg\s+|\s+|"
    r"(?<=\d\d)(?=[cf]\b))(c|f|celsius|centigrade|fahrenheit)\b(?![-+#'])"
)
_GLUED_TEMPERATURE = re.compile(r"\d\d+(?:\.\d+)?[cf]")
_TEMPERATURE_HINT = re.compile(r"\d\s*(?:[°º]|degrees?\s|deg\s|c\b|f\b|celsius|centigrade|fahr)")
# the scale word of a temperature, which is no entity ("at 20 C", "20 degrees Celsius")
_SCALE_BEFORE = re.compile(r"\d\s*(?:[°º]\s*|\s+degrees?\s+|\s+deg\s+|\s+)?$")
_OUT_OF_STOCK = re.compile(r"\bout[\s-]of[\s-]stock\b")
# a unit's or a temperature scale's name after a number ("1.5 TB", "20 C"): no entity
_UNIT_NAMES = lex.TEMPERATURE_SCALES | {u for u in lex.UNITS if u.isalpha()}
# a fraction of a unit ("1/4 inch", "3/4 mile"; not a date: "24/12/2026")
_FRACTION_UNIT = re.compile(rf"(?<![\w./])(\d+)/(\d+)(?![\d/])(?:\s*-\s*|\s+)({_UNIT_ALT})\b")
# a decade ("the 1990s", "1980's"): not 1,990 seconds
_DECADE = re.compile(r"(?<![\w.,])(1[0-9]|20)(\d)0'?s\b")
# a clock time in words ("quarter past 2", "half past 4", "a quarter to 3": the number
# words are digits by then), read as _TIME reads "2:15" / "4:30 pm"
_SPELT_CLOCK = re.compile(
    r"\b(?:a )?(quarter|half) (past|to) (\d{1,2})(?!\d|[:.,]\d)(?! (?:hours?|minutes?|days?))"
    r"(?:\s*(?:o'clock\s*)?(a\.?m\.?|p\.?m\.?|in the (?:afternoon|evening)|tonight))?"
)
# Where either hint matches: a currency sign, or a digit then what _TIME_HINT or
# _MONEY_HINT reads after it; one scan led by a character class. (A digit then any letter
# was the test: "48 hours", "7 days" passed it, and both hints then ran for nothing.)
_HINTS = re.compile(
    rf"[\d$£€¥₹](?:(?<=[$£€¥₹])|(?<=\b(?:{_CODES}) \d)|(?<=\d)(?::\d|\s*(?:o'clock\s*)?"
    r"(?:a\.?m|p\.?m|in the|this|today|tomorrow|tonight|at night)"
    rf"|\s*(?:k|m|bn|thousand|million|billion)?[\s-]*(?:{_CURRENCY_ALT})))"
)
# (a number with no letter, digit, point or digit and comma before it: its first digit leads the
# pattern and a look-behind over two characters checks what stands before it, which lets
# the engine skip ahead to a digit)
_QUANTITY = re.compile(
    rf"(\d(?<![\w.]\d)(?<!\d,\d)\d*{_NUM_TAIL})(?:st|nd|rd|th)?(?:\s*-?\s*(%|[a-z]+(?:-[a-z]+)?))?"
)
# the word after a count glued to its scale ("98k miles")
_UNIT_AFTER = re.compile(r"\s+([a-z]+)\b")
# "in 3 sentences", "a three-sentence summary", "100 words".
_LENGTH_SPEC = re.compile(rf"(?<![\w.,])({_NUM})[\s-]+({'|'.join(lex.LENGTH_UNITS)})\b")
_LANGUAGE_SPEC = re.compile(rf"\b(?:in|into|to)\s+({'|'.join(sorted(lex.LANGUAGES))})\b")
# "short" as the length of the answer ("keep it short" = "keep it brief"), not of a thing
# asked about ("a short story", "short ribs")
_SHORT_SPEC = re.compile(
    r"\b(?:keep|make)\s+(?:it|this|that|them|(?:the|your|my)\s+\w+)\s+(?:\w+\s+)?short\b"
    r"|\bshort (?:answer|reply|response|summary|version|explanation|overview)\b"
)
_FORMAT_SPEC = re.compile(
    r"\b(?:as|in|into|using|with)\s+(?:an?\s+|the\s+)?(table|list|code block|spreadsheet)\b"
    r"|\btable format\b|\bin\s+(?:a\s+)?(?:tabular|table)\b"
)
# The span after a preposition, matched in a lookahead so "from A to B" yields both.
_FLOW = re.compile(r"\b(from|to|into|onto)\s+(?=((?:[\w'-]+\s+){0,3}[\w'-]+))")
# An ordered pair written with an arrow or a range: "main..feature", "v1.2...v1.4",
# "celsius -> fahrenheit", "a => b": the tokenizer drops the marks, so it is read as a flow.
_RANGE = re.compile(r"([\w'-]+(?:\.\w+)*?)\s*(?:\.\.\.?|->|=>|\u2192)\s*([\w'-]+(?:\.\w+)*)")
_WORKING_WEEK = re.compile(r"\b(?:mon(?:day)?\s*(?:-|to|through|until)\s*fri(?:day)?)\b")
_PARTICLES = frozenset({"on", "off", "in", "out", "up", "down"})
_MAY = re.compile(r"\b(?:in|on|of|since|until|from|by|early|late|mid|next|last|this)\s+may\b")


def similar(a: str, b: str, threshold: float) -> bool:
    """``SequenceMatcher(None, a, b).ratio() >= threshold``, the same answer: the matcher
    (≈ 10-20 µs on two words) runs only when the bound its ratio cannot exceed (twice
    the letters the words share, counted with repeats, over their total length: what
    ``quick_ratio`` computes) reaches ``threshold``. Most pairs asked about are two
    unrelated words and stop at the bound."""
    total = len(a) + len(b)
    if total and 2.0 * min(len(a), len(b)) / total < threshold:
        return False
    if total:
        shared = sum(min(a.count(ch), b.count(ch)) for ch in set(a).intersection(b))
        if 2.0 * shared / total < threshold:
            return False
    return SequenceMatcher(None, a, b).ratio() >= threshold


def _scope_index() -> tuple[dict[str, list[tuple[str, bool, str]]], re.Pattern[str]]:
    """Member word (and its stem) or phrase -> [(class, strict, group)], built once."""
    index: dict[str, list[tuple[str, bool, str]]] = {}
    phrases: list[str] = []
    for name, groups in lex.SCOPE_CLASSES.items():
        for strict, group in groups:
            for member in group:
                keys = {member} if " " in member else {member, stem(member)}
                if " " in member:
                    phrases.append(member)
                for key in keys:
                    index.setdefault(key, []).append((name, strict, group[0]))
    pattern = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
    return index, re.compile(rf"\b(?:{pattern})\b")


_SCOPE_WORDS, _SCOPE_PHRASES = _scope_index()
_ALIAS_KEYS = frozenset(lex.ALIASES)
_DATE_WORDS = (
    {d: d for d in lex.WEEKDAYS}
    | {d + "s": d for d in lex.WEEKDAYS}
    | lex.DAY_WORDS
    | {m: m for m in lex.MONTHS if m != "may"}
    | lex.MONTH_ABBREVIATIONS
)
_APR = re.compile(r"\bapr\b")
_APR_RATE = re.compile(r"(?<!\d )(?<!\d)\bAPR\b(?!\.?\s*\d)")
_PHRASE_STARTS = frozenset(k.split()[0] for k in _SCOPE_WORDS if " " in k)
_LENGTH_VOCAB = frozenset(lex.LENGTH_UNITS)
_FORMAT_KEYS = frozenset(lex.FORMAT_WORDS)
_FORMAT_VOCAB = frozenset({"table", "tabular", "list", "code", "spreadsheet"})
_FUNCTION_STEMS = frozenset(stem(w) for w in lex.FUNCTION_WORDS)
_NEGATOR_FORMS = frozenset(w for w in lex.NEGATORS if stem(w) not in lex.NEGATORS)
#: Words that stem to a negator and negate nothing ("a note", "noted", "notes" stem to
#: "not"): an email's "thanks for the note" is no "not".
NOT_NEGATORS = frozenset(w for w in ("note", "notes", "noted", "noting") if stem(w) in lex.NEGATORS)
_PARTICLE_KEYS = frozenset(lex.PARTICLE_VERBS)
_DATE_KEYS = frozenset(_DATE_WORDS)
_SCOPE_KEYS = frozenset(_SCOPE_WORDS)


def _prefix_alternatives(prefixes: tuple[str, ...]) -> str:
    """The prefixes (longest first) as a pattern led by their initial letters, each at the
    start of a word (no word character before it): the engine then skips ahead to those
    letters instead of trying a look-ahead and a word boundary at every position."""
    rests: dict[str, list[str]] = {}
    for prefix in sorted(prefixes, key=len, reverse=True):
        rests.setdefault(prefix[0], []).append(re.escape(prefix[1:]))
    return "|".join(
        rf"{re.escape(c)}(?<!\w{re.escape(c)})(?:{'|'.join(r)})" for c, r in rests.items()
    )


# Words that may carry a negating prefix ("unsafe", "non-refundable"): at least 6 letters.
_PREFIXED_WORD = re.compile(
    rf"((?:{_prefix_alternatives(lex.NEGATING_PREFIXES)}))([a-z][a-z-]{{3,}})\b(?!')"
)
_POSSESSIVE = re.compile(r"'s\b")
_OWNER = re.compile(r"\b([a-z-]+)'s\b")
_NEGATED_WORD = re.compile(r"[a-z]n't\b|\bnon-[a-z]")
# The speaker saying what they do not know before asking it: "I don't know how to reset
# my router" asks "how do I reset my router". Only at the start of a sentence or clause
# ("what if I don't remember where I parked" keeps its negator), each with one negator.
_OPENS = r"(?:^|[.!?,;:]\s*|\b(?:but|and|so|hi|hello|hey|honestly|sorry|ok|okay)\s+)"
_WH = r"(?:how|what|why|where|when|which|who|whether|if)\b"
_UNKNOWING = re.compile(
    rf"{_OPENS}(?:"
    r"(?:i|we)\s+(?:really\s+|just\s+|still\s+|honestly\s+)?"
    r"(?:don't|do not|didn't|did not|can't|cannot|can not|couldn't|could not|never)\s+"
    r"(?:really\s+|quite\s+|fully\s+)?"
    r"(?:know|understand|understood|get|figure out|work out|find out|remember|see|tell)\s+"
    r"|(?:i'm\s+|i am\s+|im\s+)?not\s+(?:really\s+|quite\s+)?sure\s+"
    r"|(?:i\s+have\s+|i've\s+|ive\s+|i've\s+got\s+)?no\s+(?:idea|clue)\s+"
    r"|(?:nobody|no one)\b[^.?!,]{0,30}?\b(?:can|could|will|would)\s+"
    r"(?:tell|explain|show)\s+(?:me|us)\s+"
    rf"){_WH}"
)
# A yes/no question opening with a negated auxiliary asks what the plain one
# asks (the negation only says which answer the asker expects): "Isn't it illegal to ...?"
# / "Is it illegal to ...?", "Don't I need a visa" / "Do I need a visa". Only at the start
# of a sentence or clause (not after "why": "why isn't it working" asks about a failure),
# before a subject (a statement whose subject was dropped, "doesn't work after the update",
# keeps its negator).
_NEGATIVE_QUESTION = re.compile(
    rf"{_OPENS}(?:(?:is|are|was|were|do|does|did|ca|could|should|would|wo|must|have|has|had)"
    r"n't\s+(?:(?:i|you|we|they|he|she|it|there|my|your|our|their|his|her|its|the|this"
    r"|that|these|those|a|an)\b|\d)"
    # a plural subject after a plural auxiliary ("Aren't eggs bad for you?", "Don't
    # vaccines ..."): a dropped subject's verb does not end so ("don't miss", "aren't always")
    r"|(?:are|were|do|did)n't\s+[a-z]{2,}s\b(?<!ss)(?<!us)(?<!is)(?<!ys)"
    # written out after a pronoun ("Is it not possible to ...?", "Do I not need ..."); not
    # after a modal: "should I not ...", "can I not ..." ask about not doing it
    r"|(?:is|are|was|were|do|does|did)\s+(?:i|you|we|they|he|she|it|there)\s+not\b)"
)
# "failed to arrive" / "did not arrive", "failure to pay" / "not paying", "unable to
# find" / "can't find", "have yet to support" / "don't support yet": a negator
_FAILED_TO = re.compile(r"\b(?:fail(?:s|ed|ing|ure)?|unable|(?:has|have|had|is|are) yet)\s+to\b")
# "not" in the name of an HTTP status after its code ("404 Not Found", "405 Method Not
# Allowed"): the code says it, "a 404 error" asks the same
_STATUS_NOT = re.compile(r"\b[1-5]\d\d\s+(?:[a-z]+\s+)?not\b")
# Person words and the hyphen parts of those with one: what a possessive person leaves
# in the vocabulary once its "'s" is gone.
_PERSON_CUES = lex.PERSON_WORDS | {p for w in lex.PERSON_WORDS if "-" in w for p in w.split("-")}


# digits before a scale word are one number ("3 million" = "three million" = 3000000; it
# read as 3 and 1000000); "a pair of" is two ("a pair of batteries" / "two batteries")
_DIGITS_SCALED = re.compile(rf"(?<![\w.,])({_NUM})\s+({'|'.join(lex.SCALE_WORDS)})\b|\ba pair of\b")


def _scaled(match: re.Match[str]) -> str:
    if match.group(1) is None:
        return "2"
    value = _to_float(match.group(1)) * lex.SCALE_WORDS[match.group(2)]
    return str(int(value)) if value == int(value) else repr(value)


_ONE_UNIT = re.compile(rf"-(?:{_UNIT_ALT})\b")


def _number_words_to_digits(text: str) -> str:
    if "pair of" in text or any(w in text for w in lex.SCALE_WORDS):
        text = _DIGITS_SCALED.sub(_scaled, text)

    def convert(match: re.Match[str]) -> str:
        if match.group(0) == "one":
            # like "a"/"an": "one egg" = "an egg", "one euro" = "a euro"; joined to a unit
            # by a hyphen it is the count ("a one-week visit" = "a visit of 1 week")
            return "1" if _ONE_UNIT.match(match.string, match.end()) else "one"
        total, current = 0, 0
        for part in re.split(r"[\s-]+", match.group(0)):
            if part == "and":
                continue
            if part == "dozen":  # a multiplier: "two dozen" = 24, "a dozen" = 12
                current = max(current, 1) * 12
            elif part in lex.SCALE_WORDS:
                scale = lex.SCALE_WORDS[part]
                current = max(current, 1) * scale
                if scale >= 1000:
                    total, current = total + current, 0
            else:
                current += lex.NUMBER_WORDS[part]
        return str(total + current)

    return _NUMBER_WORD_RE.sub(convert, text)


# Ordinals past "twentieth" spelt out, as the digits "21st" / "60th" are read ("the
# twenty-first century" = "the 21st century"): a tens word and a unit ordinal (hyphenated,
# or after a blank but for "second", which after a number is mostly the unit: "sixty
# second ad"), or a tens ordinal. The small ones are lex.ORDINAL_WORDS, matched against
# digits by the number guard.
_UNIT_ORDINALS = {
    w: n
    for n, w in enumerate(
        "first second third fourth fifth sixth seventh eighth ninth".split(), start=1
    )
}
_TENS = {
    w: lex.NUMBER_WORDS[w] for w in "twenty thirty forty fifty sixty seventy eighty ninety".split()
}
_TENS_ORDINALS = {w[:-1] + "ieth": n for w, n in _TENS.items()}
_SPELT_ORDINAL = re.compile(
    rf"\b(?:({'|'.join(_TENS)})(?:-({'|'.join(_UNIT_ORDINALS)})"
    rf"|\s+({'|'.join(w for w in _UNIT_ORDINALS if w != 'second')}))"
    rf"|({'|'.join(_TENS_ORDINALS)}))\b"
)
_ORDINAL_CUES = frozenset(_TENS) | frozenset(_TENS_ORDINALS)


def _ordinal_digits(match: re.Match[str]) -> str:
    tens, unit, spaced, whole = match.groups()
    n = _TENS_ORDINALS[whole] if whole else _TENS[tens] + _UNIT_ORDINALS[unit or spaced]
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


# Fractions of a period said in words, as the digits they stand for: "half an hour" = "30
# minutes", "a quarter of an hour" = "15 minutes", "an hour and a half" = "90 minutes",
# "two and a half days" = "2.5 days", "every quarter hour" = "every 15 minutes", "a half-day
# course" = "a 12-hour course" (run after the number words are digits).
_PERIOD_ALT = "|".join(
    sorted(
        (u for u, (dim, _f) in lex.UNITS.items() if dim == "duration" and u.isalpha()),
        key=len,
        reverse=True,
    )
)
# half of any unit said in words ("half a milligram" = "0.5 mg", "half a mile")
_HALF_ALT = "|".join(
    sorted((u for u in lex.UNITS if u.isalpha() and len(u) > 2), key=len, reverse=True)
)
_FRACTION_OF_PERIOD = re.compile(
    rf"\b(?:(?:a |one )?(half) (?:an?|one) ({_HALF_ALT})"
    rf"|(?:(3|three) |an? |one )?(quarters?) of an? ({_PERIOD_ALT})"
    rf"|(an?|one|\d+) ({_PERIOD_ALT}) and a half"
    rf"|(\d+) and a half ({_PERIOD_ALT})"
    r"|(?:an? |one )?(?:(quarter)|(half))[ -](hour|day))\b"
)
_FRACTION_CUES = frozenset({"half", "quarter", "quarters"})


def _fraction_digits(match: re.Match[str]) -> str:
    half, unit, three, quarter, q_unit, whole, w_unit, count, c_unit, *glued = match.groups()
    if glued[2]:  # "a quarter hour", "a half-day"
        return f"{0.25 if glued[0] else 0.5:g} {glued[2]}"
    if half:
        return f"0.5 {unit}"
    if quarter:
        return f"{0.75 if three else 0.25:g} {q_unit}"
    if whole:
        return f"{(1 if not whole.isdigit() else int(whole)) + 0.5:g} {w_unit}"
    return f"{int(count) + 0.5:g} {c_unit}"


def same_but_numerals(a: str, b: str) -> bool:
    """Whether two texts are the same words once numbers written as words are digits
    ("convert five miles to km" / "convert 5 miles to km"): the guards found their
    numbers equal, so there is nothing left for the pair scorer to judge (it reads the
    spelling and refused such repeats). The signs between the words must be the same
    too: words alone do not see "age > 30" / "age < 30" or "+5" / "-5". A quantity
    written another way ("half an hour" / "30 minutes") is the scorer's to judge: skipping
    it for those served a number trap of a held-out set."""
    fa, fb = features(a), features(b)
    if fa.lower == fb.lower or (
        _NUMBER_VOCAB.isdisjoint(fa.vocab) and _NUMBER_VOCAB.isdisjoint(fb.vocab)
    ):
        return False
    da, db = _number_words_to_digits(fa.lower), _number_words_to_digits(fb.lower)
    return _WORD.findall(da) == _WORD.findall(db) and _SIGNS.findall(da) == _SIGNS.findall(db)


# Signs that words do not show: comparisons, arithmetic, currency, arrows ("x > 3" /
# "x < 3", "+5" / "-5"); a hyphen between two letters or digits joins a word instead.
_SIGNS = re.compile(r"[^\w\s.,;:!?'\"()\[\]{}-]|(?<![\w])-|-(?![\w])")


def _to_float(text: str) -> float:
    return float(text.replace(",", ""))


def _format_value(value: float) -> str:
    return f"{value:g}"


class Features(NamedTuple):
    """What the guards compare; built once per text by :func:`features` (a named tuple:
    immutable, and built in C, which matters when a lookup reads three from entries)."""

    lower: str  # the content, roles stripped, lower-cased, whitespace collapsed
    words: tuple[str, ...]  # lower-cased words in order
    seq: tuple[str, ...]  # their stems, in the same order (argument order, word diffs)
    content: dict[str, int]  # stem of each content word -> its first position in ``words``
    vocab: frozenset[str]  # words, their hyphen parts and stems
    stems: frozenset[str]
    keys: frozenset[str]  # stems and particles: what opposite-word lists are matched on
    qualifiers: frozenset[str]  # words of lexicon.QUALIFIERS present
    directional: bool  # has from/to/into/than/vs/before/after: entity order may matter
    negations: int
    particles: frozenset[str]  # "turn_on", "opt_out", ...
    quantities: dict[str, int]  # "duration:1209600", "money:gbp:50", "time:1140", "num:48213"
    dates: frozenset[str]
    entities: tuple[str, ...]  # lower-cased, in order of appearance
    quotes: frozenset[str]  # lower-cased, blanks kept: in code they count ("'a  b'")
    prefixed: tuple[tuple[str, str], ...]  # ("unsafe", "safe"): words that may negate a base
    scopes: dict[str, frozenset[tuple[bool, str]]]  # class -> {(strict, group)}
    persons: frozenset[str]  # possessive persons: "colleague's" -> colleague
    flow: tuple[frozenset[str], frozenset[str]]  # words after "from", after "to"/"into"
    constraints: frozenset[str]  # "lang:french", "len:3:sentence", "len:brief", "fmt:json"
    tasks: tuple[Instruction, ...]  # the instructions it gives (TaskGuard): "summarise"


# Features made by ``tuple.__new__`` from a tuple of the twenty-one values: one C call (the
# named tuple's own ``__new__`` is a Python function with twenty parameters, and ``_make`` a
# Python method that checks the length): ≈ 3.4k instructions against 5.8k, per text.
_new_features = cast(Callable[[type[Features], tuple[Any, ...]], Features], tuple.__new__)


def _entity(word: str, initial: bool, shouting: bool) -> str:
    """The entity key of a marked ``word`` ("" if it names none), by where it stands."""
    key = word.lower()
    if key.endswith("'s"):
        key = key[:-2]
    if key in ("i", "i'm", "i'd", "i've", "i'll"):
        return ""
    key = lex.ALIASES.get(key, key)
    if _QUANTITY_TOKEN.fullmatch(key) or key in _DATE_WORDS or _GLUED_TEMPERATURE.fullmatch(key):
        return ""  # "400mg", "7pm", "Monday", "March": the number guard's business
    # string methods in C, not a generator per character
    has_digit = not word.isalpha() and not word.isdigit() and _ALPHA_DIGIT.search(word) is not None
    inner_upper = not shouting and word[1:] != word[1:].lower()
    capital = word[0].isupper() and not initial and not shouting
    if capital and word == "A":
        return word  # a label ("vitamin A"), the word _labels keeps
    if has_digit or inner_upper or (capital and key not in lex.STOPWORDS):
        return key
    return ""


# (word, sentence-initial, all caps) -> entity key: words recur across prompts
_ENTITY_KEYS: dict[tuple[str, bool, bool], str] = {}


def _marked(content: str) -> list[tuple[int, str]]:
    """Where each match of ``_MARKED_WORD`` starts, and the match. In an ASCII text without
    "_", a match starts at the lower-case letters before a capital or digit that no word
    character precedes (a word character before them that is not one would have been
    matched with them), so ``_MARK_AT`` and those letters find each: ≈ a third of the
    instructions of the scan that tries the pattern at each letter."""
    if not content.isascii() or "_" in content:
        return [(m.start(), m.group(0)) for m in _MARKED_WORD.finditer(content)]
    found = []
    for m in _MARK_AT.finditer(content):
        start = m.start()
        if start and "a" <= content[start - 1] <= "z":
            start = len(content[:start].rstrip(ascii_lowercase))
        found.append((start, content[start : m.end()]))
    return found


def _entities(content: str) -> tuple[str, ...]:
    candidates = _marked(content)
    if not candidates:
        return ()
    shouting = len(candidates) > 3 and content == content.upper()  # ALL CAPS: no signal
    known = _ENTITY_KEYS
    found: list[str] = []
    for start, word in candidates:
        if word.isdigit():  # a number names nothing (_entity): not memoised, as each differs
            continue
        if word.lower() in _UNIT_NAMES and _SCALE_BEFORE.search(content, 0, start):
            continue  # a unit or a temperature's scale: the number guard's business
        i = start - 1
        while i >= 0 and content[i] in " \t\"'([":
            i -= 1
        memo = (word, i < 0 or content[i] in ".!?:;\n", shouting)
        key = known.get(memo)
        if key is None:
            if len(known) >= 65536:
                known.clear()
            key = known[memo] = _entity(*memo)
        if key:
            found.append(key)
    return tuple(found)


def _times_and_money(lower: str, found: dict[str, int]) -> str:
    """Count the times and amounts of money of ``lower`` into ``found``; the text with
    them blanked, so the quantity pass does not count their numbers again."""

    def time_sub(m: re.Match[str]) -> str:
        if m.group(3):
            hour, minute = int(m.group(1)), int(m.group(2) or 0)
            marker = m.group(3)
            pm = marker.startswith("p") or any(
                w in marker for w in ("afternoon", "evening", "night")
            )
            hour = hour % 12 + (12 if pm else 0)
        else:
            hour, minute = int(m.group(4)), int(m.group(5))
        key = f"time:{hour * 60 + minute}"
        found[key] = found.get(key, 0) + 1
        return " "

    def money_sub(m: re.Match[str]) -> str:
        if m.group(1):
            currency, value, scale = lex.CURRENCY_SYMBOLS[m.group(1)], m.group(2), m.group(3)
        elif m.group(7):
            currency, value, scale = m.group(7), m.group(8), m.group(9)
        else:
            currency, value, scale = lex.CURRENCY_WORDS[m.group(6)], m.group(4), m.group(5)
        amount = _to_float(value) * (
            lex.SCALE_SUFFIXES.get(scale or "", 0) or lex.SCALE_WORDS.get(scale or "", 1)
        )
        key = f"money:{currency}:{_format_value(amount)}"
        found[key] = found.get(key, 0) + 1
        return " "

    # the time and money patterns start with a look-behind: scanning for them costs more
    # than these hints (necessary conditions, anchored on a digit) that skip them
    text = _TIME.sub(time_sub, lower) if _TIME_HINT.search(lower) else lower
    if _MONEY_HINT.search(text):
        text = _MONEY.sub(money_sub, text)
    return text


def _temperature(m: re.Match[str], found: dict[str, int]) -> str:
    """Count a temperature into ``found`` in degrees Celsius; a blank in its place."""
    value = _to_float(m.group(2)) * (-1 if m.group(1) else 1)
    if m.group(3) in ("f", "fahrenheit"):
        # to whole degrees: a whole Fahrenheit degree is 0.56 °C, and "77 °F" is said
        # for 25 °C, "70 °F" for 21 °C
        value = round((value - 32) * 5 / 9)
    key = f"temp:{_format_value(round(value, 1) + 0.0)}"
    found[key] = found.get(key, 0) + 1
    return " "


def _counted(key: str, found: dict[str, int]) -> str:
    """Count ``key`` into ``found``; a blank in place of what it was read from."""
    found[key] = found.get(key, 0) + 1
    return " "


def _fraction_unit(m: re.Match[str], found: dict[str, int]) -> str:
    """Count a fraction of a unit ("1/4 inch") as the quantity it is."""
    over = int(m.group(2))
    if not over:
        return m.group(0)
    dim, factor = lex.UNITS[m.group(3)]
    value = int(m.group(1)) / over * factor
    return _counted(f"{dim}:{_format_value(round(value, 6))}", found)


def _spelt_clock(m: re.Match[str], found: dict[str, int]) -> str:
    """Count a clock time in words ("quarter to 3") as a time, as _TIME counts "2:45"."""
    hour, minutes = int(m.group(3)), 15 if m.group(1) == "quarter" else 30
    if not 1 <= hour <= 12:
        return m.group(0)
    minute = (hour - (m.group(2) == "to")) * 60 + (
        minutes if m.group(2) == "past" else 60 - minutes
    )
    if m.group(4) and not m.group(4).startswith("a"):
        minute += 720
    return _counted(f"time:{minute % 1440}", found)


def _quantities(lower: str) -> dict[str, int]:
    """Typed, unit-normalised numbers and how often each occurs."""
    if lower.isascii():  # (where _NUMERIC matches, found by a byte table: no pattern scan)
        start = lower.encode().translate(_NUMERIC_BYTES).find(b"#")
    else:
        first = _NUMERIC.search(lower)
        start = -1 if first is None else first.start()
    if start < 0:  # most texts: no dict built for them
        return {}
    found: dict[str, int] = {}  # a plain dict: a Counter's += runs in Python
    # One cheaper scan first: most texts with a digit have neither a time nor money (no
    # closures made for them). The quantity pass's own text is not needed (re.sub would
    # build it: finditer matches the same). Both scans start at the first digit or sign
    # (their look-behinds still see the characters before it).
    if _HINTS.search(lower, start):
        text, start = _times_and_money(lower, found), 0
    else:
        text = lower
    if _TEMPERATURE_HINT.search(text, start):
        text, start = _TEMPERATURE.sub(lambda m: _temperature(m, found), text), 0
    if "/" in text:
        text, start = _FRACTION_UNIT.sub(lambda m: _fraction_unit(m, found), text), 0
    if "0s" in text or "0's" in text:
        text, start = _DECADE.sub(lambda m: _counted(f"decade:{m.group(0)[:4]}", found), text), 0
    if "past" in text or "quarter to" in text:
        text, start = _SPELT_CLOCK.sub(lambda m: _spelt_clock(m, found), text), 0
    units = lex.UNITS
    for m in _QUANTITY.finditer(text, start):
        number, unit = m.group(1, 2)
        if unit is None:  # a bare number (most): no unit to look up
            # (a whole number of up to 6 digits prints as %g does)
            key = (
                f"num:{int(number)}"
                if len(number) < 7 and number.isdigit()
                else f"num:{_format_value(_to_float(number))}"
            )
        else:
            if unit not in units and "-" in unit:
                unit = unit.split("-", 1)[0]  # "10-minute-walk"
            if unit in units:
                dim, factor = units[unit]
                key = f"{dim}:{_format_value(round(_to_float(number) * factor, 6))}"
            elif (
                unit in lex.SCALE_SUFFIXES
                and m.start(2) == m.end(1)
                and ("." in number or len(number) > 1)
                and (unit == "k" or not text[m.end(2) : m.end(2) + 1].isalnum())  # "1.73m2"
            ):
                # thousands, millions, billions: "1.5k rows" = "1,500 rows", "10k steps",
                # "20M rows" = "20 million rows", "1.2bn users"; a single digit glued to
                # a letter is mostly a name ("4k video", "2k monitor", "5m cable")
                value = _to_float(number) * lex.SCALE_SUFFIXES[unit]
                after = _UNIT_AFTER.match(text, m.end(2))  # "98k miles" = "98,000 miles"
                dim, factor = units.get(after.group(1), ("num", 1)) if after else ("num", 1)
                key = f"{dim}:{_format_value(round(value * factor, 6))}"
            elif unit == "m" and m.start(2) > m.end(1):
                # "a 9 m yacht" = "a nine-metre yacht": metres, written apart ("20M rows",
                # glued, are millions, above)
                key = f"length:{_format_value(_to_float(number))}"
            elif m.start(2) == m.end(1) and unit not in ("st", "nd", "rd", "th"):
                # glued to letters and not a unit: an identifier ("2fa"); an ordinal's
                # suffix stands between a number and the next word ("the 10th Fibonacci
                # number")
                continue
            else:
                key = f"num:{_format_value(_to_float(number))}"
        found[key] = found.get(key, 0) + 1
    return found


K = TypeVar("K")
V = TypeVar("V")
_NONE: frozenset[str] = frozenset()
_NO_FLOW = (_NONE, _NONE)
_MEMOS: list[Memo[Any, Any]] = []  # every per-process memo, emptied by features.cache_clear()
# The lru_caches elsewhere keyed by a whole text (or its word list): a prompt never seen
# before misses them as it misses the memos, so features.cache_clear() empties them too
# (the benchmark's "new prompt" rows would otherwise time a warm question or frame reading).
_TEXT_CACHES: list[Any] = []
_C = TypeVar("_C")


def per_text(cached: _C) -> _C:
    """Register ``cached`` (an ``lru_cache``-wrapped function of one text) to be emptied
    with the features' memos."""
    _TEXT_CACHES.append(cached)
    return cached


_DROPPED = 64  # a full memo drops this fraction of its entries at once


class Memo(dict[K, V]):
    """A per-process memo of at most ``limit`` entries; when full, the oldest 64th
    leaves at once. (Deleting the oldest key one insertion at a time makes each later
    look-up of "the oldest" scan the deleted slots at the dict's front: ≈ 5 µs per
    insertion once a long-running process has filled it, against 0.3 µs. Freeing a
    text's analysis costs ≈ 2.3 µs, so dropping a quarter of 4,096 at once stalled one
    lookup in a hundred by ≈ 2.4 ms; a 64th, ≈ 0.2 ms, for the same total.)"""

    __slots__ = ("limit",)

    def __init__(self, limit: int = 4096) -> None:
        super().__init__()
        self.limit = limit
        _MEMOS.append(self)

    def put(self, key: K, value: V) -> V:
        """Keep ``value`` under ``key`` and return it."""
        if len(self) >= self.limit:
            for old in list(islice(self, max(1, self.limit // _DROPPED))):
                del self[old]
        self[key] = value
        return value


_PARSED_MAX = 4096  # texts kept per process: the queries of the moment and popular entries
_PARSED: Memo[str, Features] = Memo(_PARSED_MAX)
# Stored features read back with cache entries, as read (JSON bytes): loaded and decoded
# only if a guard asks for them. A lookup that narrows two long prompts to the words they
# differ by never does, and loading a 100-word prompt's costs ≈ 10 µs.
_STORED: Memo[str, bytes | str] = Memo(_PARSED_MAX)


def features(text: str) -> Features:
    """The features of ``text`` (a prompt or a conversation with ``role:`` prefixes),
    parsed once per process or seeded from those stored with a cache entry."""
    found = _PARSED.get(text)
    if found is None:
        stored = _STORED.pop(text, None)
        if stored is not None:
            try:
                found = decode(text, orjson.loads(stored))
            except ValueError:  # damaged (orjson's errors are ValueErrors): parsed instead
                found = None
        if found is None:
            found = _parse(text)
        _PARSED.put(text, found)  # (remember's body: one call less per text)
    return found


# the last pair asked about and its features, one tuple replaced whole (threads verifying
# at once never see one pair with another's features): the verifier hands one pair to each
# guard in turn, and each asks for both texts' features
_last_pair: list[tuple[str, str, tuple[Features, Features] | None]] = [("", "", None)]


def pair(query: str, candidate: str) -> tuple[Features, Features]:
    """``(features(query), features(candidate))``, remembered for the last pair."""
    last = _last_pair[0]
    if last[0] is query and last[1] is candidate and last[2] is not None:
        return last[2]
    found = features(query), features(candidate)
    _last_pair[0] = (query, candidate, found)
    return found


def remember(text: str, parsed: Features) -> None:
    """Keep ``parsed`` as the features of ``text`` (oldest entries leave first)."""
    _PARSED.put(text, parsed)


def remember_stored(text: str, stored: bytes | str) -> None:
    """Keep :func:`encode`'s output for ``text`` as JSON (``orjson.dumps``: no spaces),
    loaded and decoded when first needed; raises ``ValueError`` at once if it does not
    start as that format does (the caller then lets it be parsed). Data damaged past its
    start is found when loaded, and the text parsed then."""
    if not (
        # the mark and what follows it ("[9]", "[9,"; not "[99,": another format)
        stored[: len(_MARK) + 1] in _MARKS
        if isinstance(stored, bytes)
        else stored[: len(_MARK) + 1] in _MARK_TEXTS
    ):
        raise ValueError("unusable stored guard features")
    _STORED.put(text, stored)


def _clear() -> None:
    for memo in _MEMOS:  # the relation guards' memos too
        memo.clear()
    for cached in _TEXT_CACHES:
        cached.cache_clear()
    _last_pair[0] = ("", "", None)


features.cache_clear = _clear  # type: ignore[attr-defined]

# Version of the stored form below. 3: only what is costly to find again, and only the
# parts a text has (a typical entry's was 160-260 B in form 2, most of it the word list
# again and empty lists; each stored byte is kept per entry). 4: quotes keep their blanks.
# 5: ranges and arrows ("main..feature", "a -> b") are flows. Older forms are parsed.
# 6: a capital A inside a sentence is a label ("plan A"), a word and an entity.
# 7: a doubled last letter is one stem with or without a suffix ("kill" / "kills"); "I
# don't know how to ..." opening a question negates nothing; chatter about the asking
# ("not sure if this is the right place to ask") is dropped.
# 8: "quick" is a content word (a capitalised "Quick" inside a sentence names an entity);
# the chatter "quick question" is dropped; "keep it short" is the length "brief"; a
# "level" scope (beginner / intermediate / advanced).
# 9: a yes/no question with a negated auxiliary ("isn't it ...?") negates nothing; "fail
# to" / "failed to" / "unable to" is a negator; "not" in "404 Not Found" is none.
# 10: a number glued to "k" is thousands ("1.5k" = 1500, "10k"; not "4k"); a number
# after a comma that follows no digit counts (a CSV cell: "Ben,28,Lima").
# 11: "note", "notes", "noted", "noting" are no negators (their stem is "not").
# 12: a negated auxiliary typed without its apostrophe ("dont", "cant") is one.
# 13: "two dozen" is 24; ordinals past "twentieth" spelt out are numbers ("twenty-first" =
# "21st"); fractions of a period are durations ("half an hour" = "30 minutes").
# 14: the instructions a text gives (part 15, TaskGuard's), read once with the rest.
# 15: a clock time written with a dot ("9.45 am"); half of any unit ("half a kilo").
# 16: a second task after "and then"; what "give this essay a grade" makes; a second thing
# an instruction acts on ("detect the language and sentiment of"); "have yet to" is a
# negator.
# 17: a label before a colon ("Task:") is no verb, its request is read; "what does this code
# print" a request of its own; digits before a scale word ("3 million"), "a pair of", ISO dates.
# 18: a currency's code before the amount ("GBP 1,200"), "20M" / "1.2bn" (millions,
# billions), "a quarter hour" / "a half-day" (periods), "against the law" (a negator).
# 19: temperatures ("25 °C" = "77 °F"), their scale no entity; a unit's name after a number
# no entity ("1.5 TB"); decades ("the 1990s"); "quarter past 2"; "1/4 inch"; "tonnes",
# "millimetres", "a 9 m yacht" (metres); "out of stock" (a negator).
# 20: "APR" in capitals is a rate, not April; "a one-week visit" (1 week); "an 80-dollar
# bill" (money; not "pound": "a 20-pound dog").
_FORMAT = 20
_MARK = b"[%d" % _FORMAT  # how its JSON starts ("[9]" or "[9,...")
_MARK_TEXT = _MARK.decode()
_MARKS = (_MARK + b"]", _MARK + b",")
_MARK_TEXTS = (_MARK_TEXT + "]", _MARK_TEXT + ",")


def encode(f: Features) -> list:
    """The features as plain JSON values, to store with a cache entry (no pickle):
    ``[7, part, value, part, value...]`` for the parts that are not empty. The words,
    stems and vocabulary are found again from the text when read (a regex and set
    operations in C: no dearer than loading them)."""
    out: list[Any] = [_FORMAT]
    if f.qualifiers:
        out += (1, sorted(f.qualifiers))
    if f.directional:
        out += (2, 1)
    if f.negations:
        out += (3, f.negations)
    if f.particles:
        out += (4, sorted(f.particles))
    if f.quantities:
        out += (5, f.quantities)
    if f.dates:
        out += (6, sorted(f.dates))
    if f.entities:
        out += (7, f.entities)
    if f.quotes:
        out += (8, sorted(f.quotes))
    if f.prefixed:
        out += (9, f.prefixed)
    if f.scopes:  # a dict keeps its order: it orders which difference is named first
        out += (10, {name: sorted(groups) for name, groups in f.scopes.items()})
    if f.persons:
        out += (11, sorted(f.persons))
    if f.flow[0]:
        out += (12, sorted(f.flow[0]))
    if f.flow[1]:
        out += (13, sorted(f.flow[1]))
    if f.constraints:
        out += (14, sorted(f.constraints))
    if f.tasks:  # [verb, joined + 2 * given, output or null, object or null] each
        out += (15, [[i.verb, i.joined + 2 * i.given, i.output, i.obj] for i in f.tasks])
    return out


def decode(text: str, stored: list) -> Features:
    """Features of ``text`` from :func:`encode`'s output; ``ValueError`` if it is not
    that (another version, or damaged): the caller parses the text instead."""
    try:
        if stored[0] != _FORMAT:
            raise ValueError(f"stored guard features of format {stored[0]!r}")
        parts: list[Any] = [None] * 16  # by part number; None: absent
        if len(stored) > 1:  # most texts have no part at all
            pairs = iter(stored[1:])
            for number, value in zip(pairs, pairs, strict=True):
                if not 0 < number < 16:
                    raise ValueError(f"unknown part {number!r}")
                parts[number] = value
        (_, qualifiers, directional, negations, particles, quantities, dates, entities, quotes,
         prefixed, scopes, persons, sources, targets, constraints, tasks) = parts  # fmt: skip
        # the words, stems and vocabulary: what _parse finds first (not stored)
        _, lower, _, words, seq, _, stems, vocab, _ = _words(text)
        particle_set = frozenset(particles) if particles else _NONE
        # positional, and most parts are absent: shared empties, nothing built for them;
        # one C call (see _new_features)
        fields = (
            _collapsed(lower),
            words,
            seq,
            _positions(seq),
            vocab,
            stems,
            stems | particle_set if particles else stems,
            frozenset(qualifiers) if qualifiers else _NONE,
            bool(directional),
            int(negations or 0),
            particle_set,
            quantities or {},  # a dict: compared with ==, counted only on a mismatch
            frozenset(dates) if dates else _NONE,
            tuple(entities) if entities else (),
            frozenset(quotes) if quotes else _NONE,
            tuple(map(tuple, prefixed)) if prefixed else (),
            {n: frozenset(map(tuple, g)) for n, g in scopes.items()} if scopes else {},
            frozenset(persons) if persons else _NONE,
            (frozenset(sources or ()), frozenset(targets or ()))
            if sources or targets
            else _NO_FLOW,
            frozenset(constraints) if constraints else _NONE,
            tuple(map(_instruction, tasks)) if tasks else (),
        )
        return _new_features(Features, fields)
    except (TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ValueError(f"unusable stored guard features: {exc}") from exc


def _words_of(value: Any) -> tuple[str, ...] | None:
    """A stored instruction's output or object: None, or a list of words."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise ValueError(f"not a list of words: {value!r}")
    return tuple(value)


def _instruction(stored: list) -> Instruction:
    """An instruction as :func:`encode` stores it: ``[verb, flags, output, object]``."""
    verb, flags, output, obj = stored
    if not isinstance(verb, str) or flags not in (0, 1, 2, 3):
        raise ValueError(f"not a stored instruction: {stored!r}")
    return Instruction(verb, _words_of(output), bool(flags & 1), bool(flags & 2), _words_of(obj))


def _collapsed(lower: str) -> str:
    """``" ".join(lower.split())``: ``lower`` itself when it is printable ASCII with single
    spaces between its words and none at its ends (the space is the only blank a printable
    ASCII text holds), found by C-level tests instead of a string object per word: narrowed
    spans and most prompts are so (≈ 5k of a span parse's ≈ 190k instructions)."""
    if (
        lower.isascii()
        and lower.isprintable()
        and "  " not in lower
        and lower[:1] != " "
        and lower[-1:] != " "
    ):
        return lower
    return " ".join(lower.split())


# The positions of a text of n words, last first, made once per n: no range built per text.
_DOWN = [tuple(range(n - 1, -1, -1)) for n in range(64)]


def _positions(seq: tuple[str, ...]) -> dict[str, int]:
    """Stem of each content word -> its first position (built in C, first one wins)."""
    n = len(seq)
    down = _DOWN[n] if n < 64 else range(n - 1, -1, -1)
    positions = dict(zip(reversed(seq), down))  # noqa: B905 (equal lengths)
    # (the function stems found from the tuple: a set probes it faster than a dict's keys)
    for s in _FUNCTION_STEMS.intersection(seq):
        del positions[s]
    return positions


# Every word a test of :func:`_parse` looks for in the vocabulary after its first steps.
_CUES = (
    _NUMBER_VOCAB
    | {"fri", "may", "from", "into", "onto"}
    | _SCOPE_KEYS
    | _PHRASE_STARTS
    | lex.LANGUAGES
    | _LENGTH_VOCAB
    | lex.BRIEF_WORDS
    | lex.LONG_WORDS
    | _FORMAT_KEYS
    | _FORMAT_VOCAB
    | lex.QUALIFIERS
    | _DIRECTION_CUES
    | _ALIAS_KEYS
    | lex.NEGATORS
    | _NEGATOR_FORMS
    | _PARTICLE_KEYS
    | _DATE_KEYS
    | _PERIOD_VOCAB
    | _BARE_NT
    | _ORDINAL_CUES
    | _FRACTION_CUES
)


# "plan A", "vitamin A", "from point A": a capital A after a lower-case word and not before
# a capitalised one (title case) is a label, not the article; lower-cased it would vanish
# among the function words, and "plan A" / "plan B" would read as "plan" / "plan B".
_LABEL_A = re.compile(r"(?<=[a-z] )A(?![\w'-])(?!\s+[A-Z])")


def _labels(content: str, lower: str) -> str:
    """``lower`` with each label A of ``content`` kept as a capital (a word of its own)."""
    at = [m.start() for m in _LABEL_A.finditer(content)]
    if not at:
        return lower
    chars = list(lower)
    for i in at:
        chars[i] = "A"
    return "".join(chars)


# What :func:`_words` finds, in order (a plain tuple: a named tuple's constructor is a
# Python call, and both callers unpack it): content (the text without role prefixes),
# lower, bare (``lower`` without possessive 's, ``lower`` itself when it has none), words,
# seq (their stems, in order), wordset, stems, vocab (words, stems, hyphen parts and
# aliases), cues (the words of ``vocab`` some test of the parse looks for).
_Words = tuple[
    str,
    str,
    str,
    tuple[str, ...],
    tuple[str, ...],
    frozenset[str],
    frozenset[str],
    frozenset[str],
    frozenset[str],
]


# What a chatty prompt says about the asking, not about what it asks: "not sure if this is
# the right place to ask, but", "I've searched everywhere and can't find an answer", "my
# friend told me something different so I want to check": dropped before the parse (their
# "place", "friend" and "can't" are not the question's). Whole phrases only: a sentence that
# says who asks ("asking for my mother, 80") is kept.
_CHATTER = re.compile(
    r"\b(?:sorry|apologies) if this is (?:a |an )?(?:dumb|stupid|silly|basic|obvious|newbie|noob)"
    r" question\b"
    r"|\b(?:i'm |i am |im )?not sure if this is the right (?:place|sub|subreddit|forum|channel|"
    r"group|thread)(?: to (?:ask|post)(?: this)?| for this)?\b"
    r"|\bi(?:'ve| have) (?:searched|looked|googled|asked) (?:everywhere|online|all over|around)"
    r"(?:,? (?:and|but) (?:still )?(?:can't|cannot|couldn't|could not) find (?:a |an |any )?"
    r"(?:clear |good |straight |simple )?answers?)?"
    r"|\bmy (?:friend|mate|colleague|coworker|brother|sister|mum|mom|dad|partner) (?:told|said to)"
    r" me something (?:different|else),? so i (?:want|wanted) to (?:check|confirm|double-check)"
    r"|\b(?:(?:just )?a )?quick question\b"
    r"|\b(?:thanks|thank you) in advance\b|\bany help (?:is |would be )?(?:much |greatly )?"
    r"appreciated\b",
    re.IGNORECASE,
)


def _tokens(bare: str) -> list[str]:
    """``_WORD.findall(bare)``, the same words: in an ASCII text whose joiners (hyphens,
    apostrophes) each stand between two letters or digits, a word is a run of bytes
    ``_BLANKED`` keeps, found in C by a table look-up a byte and ``str.split`` (a
    quarter fewer instructions than the pattern's scan, which tries it at each byte)."""
    if bare.isascii():
        raw = bare.encode()
        # (str's "in" and bytes' find: bytes' "in" with a bytes operand first tries it as
        # an int, raising and clearing a TypeError inside, ≈ 4k instructions each time)
        if "-" in bare or "'" in bare:
            kinds = raw.translate(_KINDS)
            if (
                kinds.startswith(b"-")
                or kinds.endswith(b"-")
                or kinds.find(b" -") >= 0
                or kinds.find(b"- ") >= 0
                or kinds.find(b"--") >= 0
            ):
                return _WORD.findall(bare)  # a joiner at a word's end: the pattern decides
        return raw.translate(_BLANKED).decode().split()
    return _WORD.findall(bare)


def _words(text: str) -> _Words:
    """The first steps of a parse, shared with :func:`decode`: a stored analysis leaves
    these out and they are found again from the text, exactly as the parse finds them."""
    if not text.isascii():
        text = text.translate(_APOSTROPHES)
    content = _ROLE.sub("", text) if ":" in text else text
    # cheap test before the regex: a word every chatter phrase holds (substring searches
    # in a row: a generator over a tuple of them costs twice as much)
    if (
        "question" in content
        or "right" in content
        or "searched" in content
        or "looked" in content
        or "googled" in content
        or "asked" in content
        or "told" in content
        or "advance" in content
        or "appreciated" in content
    ):
        content = _CHATTER.sub(" ", content)
    lower = content.lower()
    if " A" in content and len(lower) == len(content):
        lower = _labels(content, lower)
    bare = _POSSESSIVE.sub("", lower) if "'s" in lower else lower
    words = tuple(_tokens(bare))
    # Set operations and C-level maps instead of a Python loop per word: a 100-word
    # prompt parses in tens of microseconds.
    seq = tuple(map(stem, words))
    wordset, stems = frozenset(words), frozenset(seq)
    vocab = wordset | stems
    if "-" in lower:
        vocab |= {p for w in wordset if "-" in w for p in w.split("-")}
    # the words any test of the parse looks for, found at once: the tests then ask this
    # small set, and a text with none of them (a third of narrowed spans) skips them all.
    # (A cold parse, as in a cache write, pays a memory fetch per probe of a large word
    # set: one pass over the vocabulary instead of one per test.)
    cues = vocab & _CUES
    # (asked of the few cue words first: every bare "dont" is one, as the words are in
    # the vocabulary; a stem alone, "cants" -> "cant", is no bare "n't")
    if not _BARE_NT.isdisjoint(cues) and not _BARE_NT.isdisjoint(words):
        return _words(_BARE_NT_WORD.sub(r"\1n't", text))
    if not _ALIAS_KEYS.isdisjoint(cues):
        aliases = {lex.ALIASES[w] for w in vocab if w in lex.ALIASES}
        vocab |= aliases
        cues |= aliases & _CUES
    return content, lower, bare, words, seq, wordset, stems, vocab, cues


# a date written as ISO 8601 does ("2024-01-05"), not inside a longer run of digits and
# hyphens (a phone number, an identifier)
ISO_DATE = re.compile(r"(?<![\w.-])(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])(?!\w|[.-]\d)")


def _digits(lower: str, cues: frozenset[str], wordset: frozenset[str]) -> str:
    """``lower`` with its numbers in digits: ordinals and number words spelt out, fractions
    of a period, "for a week" (one period); what the quantities are read from."""
    digits = lower
    if not _ORDINAL_CUES.isdisjoint(cues):
        digits = _SPELT_ORDINAL.sub(_ordinal_digits, digits)
    if not _NUMBER_VOCAB.isdisjoint(cues):
        digits = _number_words_to_digits(digits)
    if not _FRACTION_CUES.isdisjoint(cues):
        digits = _FRACTION_OF_PERIOD.sub(_fraction_digits, digits)
    if (
        not _PERIOD_VOCAB.isdisjoint(cues)
        # a whole word ("for a day-trip": none)
        and not _PERIOD_VOCAB.isdisjoint(wordset)
        and (" a " in digits or " an " in digits or " one " in digits)
    ):
        digits = _ONE_PERIOD.sub(r"\1 1 \2", digits)
    return digits


def _parse(text: str) -> Features:
    """Parse ``text`` once."""
    # Each regex below runs only when the words show it can match: most prompts are
    # short questions and this keeps a cold parse in the tens of microseconds.
    content, lower, bare, words, seq, wordset, stems, vocab, cues = _words(text)
    possessive = "'s" in lower
    # a word counts if it or its stem is a negator ("stopped", "none")
    # (counted only when there is one: most texts have none)
    negations = (
        0 if lex.NEGATORS.isdisjoint(cues) else sum(map(lex.NEGATORS.__contains__, seq))
    ) + (0 if _NEGATOR_FORMS.isdisjoint(cues) else sum(map(_NEGATOR_FORMS.__contains__, words)))
    if negations and "not" in stems and not NOT_NEGATORS.isdisjoint(wordset):
        negations -= sum(map(NOT_NEGATORS.__contains__, words))
    if "n't" in lower or "non-" in lower:
        negations += len(_NEGATED_WORD.findall(lower))
    if "fail" in lower or "unable" in lower or "yet to" in lower:
        negations += len(_FAILED_TO.findall(lower))
    if "law" in wordset and "against" in wordset:
        # "against the law" is a ban ("illegal"), said with no negator of its own: "is it
        # legal ..." / "is it against the law ..." ask opposite things
        negations += lower.count("against the law")
    if "stock" in lower and "out" in lower:
        # "out of stock" is "not in stock", "no stock": "which products are out of stock" /
        # "... are in stock" ask opposite things
        negations += len(_OUT_OF_STOCK.findall(lower))
    if negations:
        negations -= len(_UNKNOWING.findall(lower))
        if "n't" in lower or "not" in wordset:
            negations -= len(_NEGATIVE_QUESTION.findall(lower))
        if "not" in wordset and _NUMERIC.search(lower):
            negations -= len(_STATUS_NOT.findall(lower))
    particles: set[str] = set()
    if not _PARTICLE_KEYS.isdisjoint(cues):
        for i, (w, st) in enumerate(zip(words, seq, strict=True)):
            if st in lex.PARTICLE_VERBS or w in lex.PARTICLE_VERBS:
                # "turn off", "turn it off", "take money out": the first particle within 3 words
                for p in words[i + 1 : i + 4]:
                    if p in _PARTICLES:
                        particles.add(f"{st}_{p}")
                        break
    dates = (
        {_DATE_WORDS[w] for w in wordset & _DATE_KEYS} if not _DATE_KEYS.isdisjoint(cues) else set()
    )
    digits = _digits(lower, cues, wordset)
    if "-" in lower and ISO_DATE.search(digits) is not None:
        # "2024-01-05" as "January 5, 2024" says it: a month, a day, a year
        dates = set(dates)
        for m in ISO_DATE.finditer(digits):
            dates.add(lex.MONTHS[int(m.group(2)) - 1])
        digits = ISO_DATE.sub(lambda m: f"{int(m.group(3))} {m.group(1)}", digits)
    quantities = _quantities(digits)
    if quantities.get("num:1"):
        del quantities["num:1"]  # a bare "one" is mostly "a"/"single"/a pronoun
    if ("friday" in dates or "fri" in cues) and _WORKING_WEEK.search(lower):
        dates = (dates - {"monday", "friday"}) | {"weekday"}
    if "may" in cues and _MAY.search(lower):
        dates.add("may")
    if "april" in dates and "apr" in wordset and "april" not in wordset:
        # "APR" in capitals and not beside a day's number is the annual percentage rate
        # ("24% APR", "lower the APR on my card"), not April ("Apr 5", "5 APR")
        if len(_APR_RATE.findall(text)) == len(_APR.findall(lower)):
            dates = dates - {"april"}

    found: dict[str, set[tuple[bool, str]]] = {}
    # (``vocab & _SCOPE_KEYS`` itself, not the same words out of ``cues``: the order they
    # come in orders ``scopes``, and with it which difference a rejection names first)
    for key in vocab & _SCOPE_KEYS if not _SCOPE_KEYS.isdisjoint(cues) else ():
        for name, strict, group in _SCOPE_WORDS.get(key, ()):
            found.setdefault(name, set()).add((strict, group))
    if not _PHRASE_STARTS.isdisjoint(cues):
        for m in _SCOPE_PHRASES.finditer(" ".join(words)):
            for name, strict, group in _SCOPE_WORDS[m.group(0)]:
                found.setdefault(name, set()).add((strict, group))
    scopes = {name: frozenset(hit) for name, hit in found.items()} if found else {}
    # An owner the result keeps is a person word before "'s": it is then in the vocabulary
    # (or its hyphen parts are: "co-worker's-desk") unless another apostrophe glues it into
    # a word ("x'colleague's"). Most possessives are of no person: no scan for them.
    persons = (
        frozenset(_OWNER.findall(lower)) & lex.PERSON_WORDS
        if possessive and ("'" in bare or not _PERSON_CUES.isdisjoint(vocab))
        else _NONE
    )

    sources: set[str] = set()
    targets: set[str] = set()
    has_from = "from" in cues
    for m in _FLOW.finditer(lower) if has_from or "into" in cues or "onto" in cues else ():
        if m.group(1) == "to" and not has_from:
            continue  # mostly an infinitive ("how to export"), not a destination
        cut: list[str] = []
        for w in m.group(2).split():
            if w in ("to", "into", "onto", "from"):
                break
            if w not in lex.STOPWORDS:
                cut.append(w)
        (sources if m.group(1) == "from" else targets).update(cut[:3])
    if ".." in lower or ">" in lower or "\u2192" in lower:
        for m in _RANGE.finditer(lower):
            sources.add(m.group(1))
            targets.add(m.group(2))

    constraints: set[str] = set()
    if not lex.LANGUAGES.isdisjoint(cues):
        constraints |= {f"lang:{m.group(1)}" for m in _LANGUAGE_SPEC.finditer(lower)}
    if quantities and not _LENGTH_VOCAB.isdisjoint(cues):
        constraints |= {
            f"len:{_format_value(_to_float(m.group(1)))}:{lex.LENGTH_UNITS[m.group(2)]}"
            for m in _LENGTH_SPEC.finditer(digits)
        }
    if (
        not lex.BRIEF_WORDS.isdisjoint(cues)
        or "in short" in lower
        or "tl;dr" in lower
        or ("short" in wordset and _SHORT_SPEC.search(lower))
    ):
        constraints.add("len:brief")
    if not lex.LONG_WORDS.isdisjoint(cues) or "in detail" in lower or "in depth" in lower:
        constraints.add("len:long")
    if not _FORMAT_KEYS.isdisjoint(cues):
        constraints |= {f"fmt:{lex.FORMAT_WORDS[w]}" for w in vocab & _FORMAT_KEYS}
    if not _FORMAT_VOCAB.isdisjoint(cues):
        for m in _FORMAT_SPEC.finditer(lower):
            constraints.add(f"fmt:{m.group(1) or 'table'}")

    # (a quote in apostrophes needs two: "don't" alone is none)
    quotes = (
        frozenset(
            (m.group(1) or m.group(2) or m.group(3)).lower() for m in _QUOTED.finditer(content)
        )
        if '"' in content or "`" in content or content.count("'") > 1
        else _NONE
    )
    # (no cheaper test first: most texts have a word starting "in", "un", "dis"...)
    heads: list[tuple[str, str]] = _PREFIXED_WORD.findall(lower)
    prefixed = (
        # ("unable to" counts as a negator already)
        tuple(
            (p + base, base)
            for p, base in heads
            if base not in wordset and p != "non-" and p + base != "unable"
        )
        if heads
        else ()
    )
    qualifiers = vocab & lex.QUALIFIERS if not lex.QUALIFIERS.isdisjoint(cues) else _NONE
    if qualifiers:
        # "international" in "International Monetary Fund" names, it does not narrow
        qualifiers = frozenset(q for q in qualifiers if q.capitalize() not in content)
    # positional (a named tuple built from keywords costs twice as much), shared empties,
    # one C call (see _new_features)
    fields = (
        _collapsed(lower),
        words,
        seq,
        _positions(seq),
        vocab,
        stems,
        stems | particles if particles else stems,
        qualifiers,
        not _DIRECTION_CUES.isdisjoint(cues),
        negations,
        frozenset(particles) if particles else _NONE,
        quantities,
        frozenset(dates) if dates else _NONE,
        _entities(content),
        quotes,
        prefixed,
        scopes,
        persons,
        (frozenset(sources), frozenset(targets)) if sources or targets else _NO_FLOW,
        frozenset(constraints) if constraints else _NONE,
        instructions(text),
    )
    return _new_features(Features, fields)
