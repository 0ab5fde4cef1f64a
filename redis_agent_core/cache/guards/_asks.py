"""What kind of answer a question asks for: the same topic asked another way is another answer.

"Why did the Roman Empire fall?" / "When did the Roman Empire fall?" share every content
word: the word-level guards see one question word apart, and embeddings put them a few
hundredths apart. This guard reads, in each prompt, the kinds of answer its questions ask
for: a reason ("why", "how come", "what causes"), a time ("when", "what time", "what
year"), a place ("where", "in which city"), a person ("who", "which artist"), a manner or
procedure ("how do I", "what's the way to", "steps to"), a definition ("what is X",
"define X", "X meaning"), a quantity ("how much", "how many", "the price of", "how
far", "how old") or a duration ("how long", "how many hours"), and for a yes/no question
its modality: permission ("can I", "is it ok to"), advice ("should I", "is it a good
idea") or obligation ("must I", "do I have to", "is it required"). A question word counts
where a question starts (a sentence, a clause after a colon or comma, "and ...") or after
a word that embeds one ("tell me why", "I want to know when", "explain how"); "when" inside
a clause ("a noise when I turn") is a condition, not a time asked for.

Refused, with the kinds named ("question differs: why vs when"): both sides ask for known
kinds and no kind is shared (a multi-question prompt keeps the pair when one of its kinds
is the other side's); two yes/no questions of another modality ("can I" / "should I"); a
question asked for someone else ("for me" / "for my child"); a condition on one side only
("if I leave my job, what happens to my 401k?" / "what happens to my 401k?"). A side with
no kind read (most prompts: "quinoa cooking time", "what does a product manager do") is
never refused here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from ._features import Features, pair, per_text
from ._readings import condition_stated, frames_differ

__all__ = ["AskGuard", "Asks", "asks", "asks_differ"]

# Words after which a question word starts an embedded question ("tell me *why*").
_EMBEDDING = frozenset(
    """know knows knew wonder wondering wondered tell telling explain explaining describe
    show ask asking idea sure out understand learn figure curious me us and or but so then
    also clarify clue remind find check see discover list give provide outline""".split()
)
_PERSON_NOUNS = (
    "person|people|artist|author|writer|painter|composer|scientist|inventor|player|"
    "president|king|queen|actor|actress|singer|band|team|company|director|founder|poet|"
    "philosopher|architect|designer|engineer|leader|emperor|athlete"
)
_PLACE_NOUNS = (
    "city|country|countries|state|place|places|town|region|continent|province|county|"
    "part|parts|island|ocean|sea|street|neighborhood|neighbourhood|location|venue|store"
)
_TIME_NOUNS = "time|year|years|date|day|month|century|decade|season|age"
_DURATION_UNITS = "seconds|minutes|hours|days|weeks|months|years|nights"
# Question-word patterns, tried at each clause start: (pattern, kind)
_OPENERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), k)
    for p, k in (
        (r"how come\b", "reason"),
        (r"why\b", "reason"),
        (r"for what reason\b", "reason"),
        (r"what(?:'s| is| are| was| were)? (?:the |a )?(?:main )?(?:reasons?|causes?)\b", "reason"),
        (r"what (?:causes|caused|cause) ", "reason"),
        (r"what (?:makes|made) ", "reason/manner"),  # "what makes flowers last longer"
        (r"what does it mean when\b", "definition/reason"),
        (r"(?:the |a )?(?:main )?reasons? (?:for|why|that|behind)\b", "reason"),
        (r"(?:the )?causes? of\b", "reason"),
        # "the effects of X", "what are the consequences of X": what X brings, not why X
        # happens ("how does X affect Y" asks the same: a manner read too)
        (
            r"(?:what(?:'s| is| are| were) )?(?:the )?(?:main |possible |side |long-term |"
            r"short-term |health )?(?:effects?|consequences?|impacts?) of\b",
            "effect/manner",
        ),
        (r"(?:the |a )?(?:main )?reasons?\b", "reason"),
        (rf"how (?:many|much) (?:time|{_DURATION_UNITS})\b", "duration/quantity:count"),
        (r"how many times\b", "frequency"),
        (r"how long (?:is|are|was|were) (?:an?|the)\b", "duration/quantity:distance"),
        (r"how long ago\b", "time"),  # "how long ago did it end": when, not how long
        (r"for how long\b", "duration"),
        (r"how long\b", "duration"),
        (r"what(?:'s| is) the duration\b", "duration"),
        (r"how soon\b", "time"),
        (r"how often\b", "frequency/duration"),
        (r"how many\b", "quantity:count"),
        (r"by how (?:many|much)\b", "quantity"),  # "by how many goals was it won"
        (r"(?:what(?:'s| is| are) )?the number of\b", "quantity:count"),
        (r"number of\b", "quantity:count"),
        (r"how much (?:\w+ )*?(?:does|do|did|would|will|is|are) [\w' ]*?\bcost\b", "quantity:cost"),
        (
            r"how much (?:does|do|did|would|will) [\w' ]*?\b(?:earn|make|pay|charge)\b",
            "quantity:cost",
        ),
        (r"how much (?:is|are|was|were) ", "quantity:cost"),  # "how much is the flight"
        (r"what (?:does|do|did|will|would) [\w' ]*?\bcost\b", "quantity:cost"),
        (r"how much\b", "quantity"),
        (r"how (?:far|distant)\b", "quantity:distance"),
        (r"how old\b", "quantity:age"),
        (r"how (?:tall|high|deep)\b", "quantity:height"),
        (r"how (?:big|large|small|wide)\b", "quantity:size"),
        (r"how (?:heavy)\b", "quantity:weight"),
        (r"how (?:fast|quick)\b", "quantity:speed"),
        (
            r"what(?:'s| is| are| was)? (?:the )?(?:price|prices|cost|costs|fee|fees)\b",
            "quantity:cost",
        ),
        (r"(?:the )?(?:price|cost) of\b", "quantity:cost"),
        (r"what(?:'s| is| was)? (?:the )?(?:distance)\b", "quantity:distance"),
        (r"what(?:'s| is| was)? (?:the )?(?:age)\b", "quantity:age"),
        (r"what(?:'s| is| was)? (?:the )?(?:height|elevation|depth)\b", "quantity:height"),
        (r"what(?:'s| is| was)? (?:the )?(?:size|area)\b", "quantity:size"),
        (r"what(?:'s| is| was)? (?:the )?(?:population)\b", "quantity:count"),
        (
            rf"(?:(?:in|at|during|by|before|until|till|since) )?(?:what|which) (?:{_TIME_NOUNS})\b",
            "time",
        ),
        (r"(?:since|until|till) when\b", "time"),  # "since when has it smelled"
        (r"what(?:'s| is) the (?:best |right |ideal )?time (?:to|for|of year|of day)\b", "time"),
        (r"when (?:\w+ing)\b", ""),  # "when inspecting": a condition
        (r"when\b", "time"),
        (rf"(?:in|at|on|to|from) (?:what|which) (?:{_PLACE_NOUNS})\b", "place"),
        (rf"(?:what|which) (?:{_PLACE_NOUNS})\b", ""),  # "which country won": who, or where
        # "where can I book a test" / "how do I book a test"
        (r"where (?:can|could|do|should|would|may) (?:i|we|you|one)\b", "place/manner"),
        (r"where to\b", "place/manner"),
        (r"where\b", "place"),
        (rf"(?:what|which) (?:{_PERSON_NOUNS})\b", "person"),
        # "which gate", "which node holds it": one of a kind named, a place, a person or
        # the way to do it ("which command do I run" / "how do I"), not a time, a number
        # or a reason
        (
            r"which (?!(?:is|are|was|were|of|one|ones|way|ways|do|does|did|can|should|"
            r"would|will|has|have|size|sizes|price|prices|cost|length|height|weight|speed|"
            r"distance|age|number|amount|percentage|rate)\b)\w+",
            "choice/place/person/manner/definition",
        ),
        # "who do I tell?" / "how do I report it?"
        (r"who (?:do|can|could|should|would|will) (?:i|we|you)\b", "person/manner"),
        (r"who(?:m|se)?\b", "person"),
        (r"(?:to|for|from|with|by) whom\b", "person"),  # "to whom do I submit it"
        (r"how do you (?:say|spell|pronounce|write)\b", ""),
        (r"how (?:the|a|an|my|your|our|its|their|it|this|that|these|those|they|we|i)\b", "manner"),
        (r"how (?:are|is) (?:you|it going)\b", ""),
        (
            r"how (?:do|does|did|can|could|should|would|will|to|is|are|was|were|might|may)\b",
            "manner",
        ),
        (
            r"what(?:'s| is| are)? (?:the |a )?(?:best |easiest |quickest |fastest |right |"
            r"proper |correct |simplest |cheapest |safest |recommended )?"
            r"(?:way|ways|steps|procedure|process|method|instructions) (?:to|for|of)\b",
            "manner",
        ),
        (r"(?:the |some )?steps (?:to|for)\b", "manner"),
        (r"(?:the )?(?:procedure|instructions) (?:to|for)\b", "manner"),
        (r"(?:the )?(?:best |easiest |quickest )?ways? to\b", "manner"),
        (r"what does [\w' -]+ mean\b", "definition/reason"),
        (r"what(?:'s| is| are)? (?:the )?(?:meaning|definition) of\b", "definition"),
        (r"(?:the )?(?:meaning|definition) of\b", "definition"),
        (r"define\b", "definition"),
    )
)
# "what is X" with X a short name or noun phrase and nothing after it: a definition
_WHAT_IS = re.compile(
    r"what(?:'s| is| are|s) (?:an? )?(?![^$]*(?:'s\b|\d))"
    r"(?!the\b|my\b|your\b|our\b|their\b|it\b|this\b|that\b"
    r"|there\b|going\b|wrong\b|happening\b|new\b|up\b)([\w'.+#-]+(?: [\w'.+#-]+){0,3})$"
)
# "... what a closure is", "... what a 401k is": an embedded definition question
_WHAT_X_IS = re.compile(
    r"what (?:an? )?(?!the\b|my\b|your\b|our\b|their\b|his\b|her\b|its\b)"
    r"[\w'.+#-]+(?: [\w'.+#-]+){0,2} (?:is|are|means)$"
)
# "what's a pancake recipe": a procedure
_WAY_END = re.compile(r"\b(?:recipe|way|ways|method|guide|tutorial|instructions|steps)$")
# "when" opening a statement's clause ("when I run it, ..."), not a question
_WHEN_CLAUSE = re.compile(
    r"when(?:ever)? (?:i|i'm|you|we|my|the|a|an|it|it's|they|he|she|our|your|this|that|"
    r"there|someone|people)\b"
)
# a short prompt's last word naming what it asks ("kubernetes meaning")
_KIND_ENDS = {
    "meaning": "definition",
    "definition": "definition",
    "causes": "reason",
    "reasons": "reason",
    "effects": "effect/manner",
    "consequences": "effect/manner",
}
_KIND_END = re.compile(rf"\b({'|'.join(_KIND_ENDS)})$")
# a yes/no question's modality, at a clause start
_MODALS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), k)
    for p, k in (
        (r"(?:can|could|may) (?!you\b)[\w']+(?: [\w']+)? (?:legally |safely )?\w+", "permission"),
        (r"(?:am|are|is) (?:i|we|they|he|she) (?:allowed|permitted|eligible)\b", "permission"),
        (
            r"is it (?:ok|okay|alright|all right|fine|possible|legal|allowed|permitted|safe)\b",
            "permission",
        ),
        (r"(?:is|are) (?:[\w']+ ){1,4}(?:allowed|permitted|eligible|legal)\b", "permission"),
        # "should you freeze rice" (anyone), not "should you need help, ..." (a condition)
        (
            r"(?:should|shall|ought) (?!you (?:need|have|wish|want|require|experience|"
            r"encounter|notice|find|get|be)\b)\w+",
            "advice",
        ),
        (
            r"is it (?:a good idea|a bad idea|wise|worth|better|advisable|recommended|smart)\b",
            "advice",
        ),
        (r"(?:would|do) you (?:recommend|suggest|advise)\b", "advice"),
        # "would it be wise to sell now", "would selling raw milk be a wise move"
        (
            r"would (?:[\w']+ ){1,4}be (?:a )?(?:good |bad |wise |smart |sensible )?"
            r"(?:wise|smart|sensible|advisable|idea|move|choice|worth it)\b",
            "advice",
        ),
        (r"(?:is|are) (?:[\w']+ ){1,4}(?:recommended|advisable|worth it)\b", "advice"),
        (r"must \w+", "obligation"),
        (
            r"(?:will|would) (?:i|we|you|they|he|she|the \w+|my \w+) (?:have|need) to\b",
            "obligation",
        ),
        (
            r"(?:do|does|did) (?:i|we|you|they|he|she|(?:my|the|an?) \w+) (?:have|got) to\b",
            "obligation",
        ),
        (
            r"(?:do|does) (?:i|we|you|they|he|she|my \w+) (?:really )?need "
            r"(?:an?|to|the|my|\w+s)\b",
            # "do I need to rinse rice?" / "should I rinse rice?"; "do I need lights"
            "obligation/advice",
        ),
        (r"(?:am|are|is) (?:i|we|they|he|she) (?:required|obliged|obligated)\b", "obligation"),
        (r"is it (?:required|mandatory|compulsory|necessary|obligatory)\b", "obligation"),
        (r"(?:is|are) (?:[\w']+ ){1,4}(?:required|mandatory|compulsory|necessary)\b", "obligation"),
        (r"(?:am|are|is) (?:[\w']+ )?(?:legally )?(?:required|obliged)\b", "obligation"),
        # "will the bank refund me", "will it rain": what will happen, not whether it may,
        # must or should ("will you ...": a request; "will I have to": a duty, above)
        (
            r"(?:will|won't) (?!you\b)(?:(?:the|my|our|your|his|her|their|this|that|an?) )?"
            r"[\w'-]+ (?:\w+ly )?(?!be (?:able|allowed|permitted|required|obliged)\b)\w+",
            "prediction",
        ),
    )
)
# each list as one pattern, its alternatives tried in order (one match call a word); the
# kind of the group that matched
_OPENER = re.compile("|".join(f"({p.pattern})" for p, _ in _OPENERS))
_OPENER_KINDS = ("", *(k for _, k in _OPENERS))
_MODAL = re.compile("|".join(f"({p.pattern})" for p, _ in _MODALS))
_MODAL_KINDS = ("", *(k for _, k in _MODALS))
# the words a question may open with here (no pattern is tried at another word)
_OPENING_WORDS = frozenset(
    """how why what whats what's when whenever where who whom whose which for in at on to
    from define number the a an main reasons reason causes cause price prices cost costs
    meaning definition steps some procedure instructions best easiest quickest ways way
    can could may am are is should shall ought would will do does did must by before until till
    since effect effects consequence consequences impact impacts side long-term short-term
    possible health""".split()
)
_MODAL_SAID = {
    "permission": "can I",
    "advice": "should I",
    "obligation": "must I",
    "prediction": "will it",
}
_SAID = {
    "reason": "why",
    "time": "when",
    "place": "where",
    "person": "who",
    "manner": "how",
    "definition": "what is",
    "quantity": "how much",
    "quantity:count": "how many",
    "quantity:cost": "what cost",
    "quantity:distance": "how far",
    "quantity:age": "how old",
    "quantity:height": "how tall",
    "quantity:size": "how big",
    "quantity:weight": "how heavy",
    "quantity:speed": "how fast",
    "duration": "how long",
    "frequency": "how often",
    "choice": "which",
    "effect": "what effect",
}
# Someone the question may be asked for: "my <one of these>"
_DEPENDENTS = re.compile(
    r"\b(?:my|our) (?:(?:\d+[- ]year[- ]old|little|young|elderly|older|newborn|teenage) )?"
    r"(child|children|kid|kids|toddler|toddlers|baby|babies|newborn|infant|son|sons|daughter|"
    r"daughters|teen|teens|teenager|teenagers|dog|dogs|cat|cats|puppy|kitten|pet|pets|wife|"
    r"husband|partner|mom|mum|mother|dad|father|parents|grandmother|grandfather|grandma|"
    r"grandpa|grandparents|boyfriend|girlfriend|students|employees|patients)\b"
)
_SINGULAR = {
    "children": "child",
    "kids": "child",
    "kid": "child",
    "toddlers": "toddler",
    "babies": "baby",
    "mum": "mother",
    "mom": "mother",
    "dad": "father",
    "grandma": "grandmother",
    "grandpa": "grandfather",
    "teens": "teenager",
    "teen": "teenager",
    "teenagers": "teenager",
}
_SELF = re.compile(r"\b(?:i|me|myself|i'm|im|i've|i'd)\b")
# a condition: "if", "what if", "in case", "unless", "suppose"; "if" after a word asking
# whether ("check if", "know if") is no condition
_CONDITION = re.compile(
    r"\b(?:(?:(know|check|see|ask|wonder|wondering|me|sure|as|tell) )?if|unless|in case|"
    r"suppose|supposing|what would happen)\b"
)
# "if you could tell me", "if possible": politeness, no condition
_POLITE_IF = re.compile(r"if (?:you (?:could|can|would|don't mind|have time)|possible)\b")
# where a condition's words end
_CONDITION_END = re.compile(r"[,.?!;:\n]|\b(?:what|will|would|how|then|can|should|do|does)\b")
_LITTLE = frozenset(
    """that this these those there their them they your with from into have has had been
    being were will would should could about than then just some any what when
    while""".split()
)
# clauses: sentences, after a colon or comma, and a question joined by "and" / "or"
_CLAUSES = re.compile(
    r"[.?!;:\n]+|,\s*|\s+\b(?:and|or|but)\s+(?=(?:how|what|why|when|where|who|which|is|are|"
    r"can|could|do|does|should|must|define)\b)"
)
# words a spoken question opens with before its question word ("umm should dogs eat ...",
# "quick q: who ...", "or is it a bad idea")
_FILLER = re.compile(
    r"^(?:(?:u+m+|u+h+|erm|hm+|so|ok|okay|hey|hi|well|oh|quick q(?:uestion)?|or|and|but)\b"
    r"[ ,]*)+"
)
_TOKEN = re.compile(r"[\w'.+#-]+")
_NONE: frozenset[str] = frozenset()
_WHO = re.compile(r"\bWHO\b")
# the frames of :func:`readings` this guard compares: the time asked about, the step
_TIME_AND_STEP = (4, 5)


class Asks(NamedTuple):
    kinds: frozenset[str]  # the kinds of answer asked for
    modals: frozenset[str]  # the yes/no questions' modalities
    dependents: frozenset[str]  # "my <child>" asked for
    me: bool  # the asker speaks of themself (I, me)
    condition: frozenset[str]  # the content words of its "if" conditions


def _clause_kinds(clause: str) -> tuple[set[str], set[str]]:
    """The kinds asked in one clause: question words at its start, or after a word that
    embeds a question ("tell me why ...")."""
    kinds: set[str] = set()
    modals: set[str] = set()
    words = [m.start() for m in _TOKEN.finditer(clause)]
    tokens = _TOKEN.findall(clause)
    for i, start in enumerate(words):
        if i and tokens[i - 1] not in _EMBEDDING:
            continue
        rest = clause[start:]
        if not i and _WHEN_CLAUSE.match(rest):
            continue  # "When I run the installer, it fails": a condition, no question
        if tokens[i] not in _OPENING_WORDS:
            continue
        found = _OPENER.match(rest)
        if found is not None:
            if kind := _OPENER_KINDS[found.lastindex or 0]:
                kinds.add(kind)
        else:
            if i == 0:
                found = _MODAL.match(rest)
                if found is not None:
                    modals.add(_MODAL_KINDS[found.lastindex or 0])
                if _WHAT_IS.match(rest):
                    kinds.add("manner" if _WAY_END.search(rest) else "definition")
            elif _WHAT_X_IS.match(rest) or _WHAT_IS.match(rest):
                kinds.add("definition")
    if len(tokens) <= 4 and (end := _KIND_END.search(clause)):
        # "kubernetes meaning", "glacier melt causes", "glacier melt effects"
        kinds.add(_KIND_ENDS[end.group(1)])
    return kinds, modals


@per_text
@lru_cache(maxsize=4096)
def _questions(lower: str) -> tuple[frozenset[str], frozenset[str]]:
    """The kinds of answer ``lower``'s questions ask for and their yes/no modalities,
    read clause by clause (most of :func:`asks`' work)."""
    kinds: set[str] = set()
    modals: set[str] = set()
    for clause in _CLAUSES.split(lower.replace("\u2019", "'")):
        clause = clause.strip(" \"'()[]*-")
        clause = _FILLER.sub("", clause)
        if clause:
            k, m = _clause_kinds(clause)
            kinds |= k
            modals |= m
    return frozenset(kinds), frozenset(modals)


@per_text
@lru_cache(maxsize=4096)
def _asker(lower: str) -> tuple[frozenset[str], bool, frozenset[str]]:
    """Whom ``lower`` asks for and on what condition: :attr:`Asks.dependents`,
    :attr:`Asks.me` and :attr:`Asks.condition` (a few regex passes)."""
    text = lower.replace("\u2019", "'")
    dependents = frozenset(_SINGULAR.get(d, d) for d in _DEPENDENTS.findall(text))
    condition: set[str] = set()
    plain = _POLITE_IF.sub(" ", text) if "if" in text else text
    # (most prompts name no condition: the scan only where one of its words is)
    scan = "if" in text or "unless" in text or "in case" in text or "suppos" in text
    for found in _CONDITION.finditer(plain) if scan else ():
        if found.group(1):
            continue  # "check if", "tell me if": whether, no condition
        rest = plain[found.end() :]
        end = _CONDITION_END.search(rest)
        words = _TOKEN.findall(rest[: end.start() if end else len(rest)])
        condition.update(
            w[:4] for w in words[:8] if len(w) > 3 and w not in _LITTLE and "'" not in w
        )
    return dependents, bool(_SELF.search(text)), frozenset(condition)


def asks(lower: str) -> Asks:
    """What ``lower`` (a prompt's lower-cased content) asks for."""
    kinds, modals = _questions(lower)
    return Asks(kinds, modals, *_asker(lower))


def _agree(a: str, b: str) -> bool:
    if a == b:
        return True
    # a kind read two ways ("where can I" is a place or a manner) agrees with both
    left, right = a.split("/"), b.split("/")
    if set(left) & set(right):
        return True
    # "how much" is any quantity or time ("how much is a latte" / "the price of a latte",
    # "how much sleep" / "how many hours of sleep")
    return any(
        (x == "quantity" and y.startswith(("quantity", "duration")))
        or (y == "quantity" and x.startswith(("quantity", "duration")))
        for x in left
        for y in right
    )


def _said_one(kind: str, names: dict[str, str]) -> str:
    if kind.startswith("choice/"):
        return names["choice"]  # "which gate": any kind it may be answered as, said "which"
    return " or ".join(names[k] for k in kind.split("/"))


def _said(kinds: frozenset[str], names: dict[str, str]) -> str:
    return " and ".join(sorted(_said_one(kind, names) for kind in kinds))


@per_text
@lru_cache(maxsize=4096)
def _prefixes(text: str) -> frozenset[str]:
    return frozenset(
        w[:4] for w in _TOKEN.findall(text) if len(w) > 3 and w not in _LITTLE and "'" not in w
    )


# "can my employer fire me" / "will my employer fire me": what one may do is not what
# one will do; but "can I use this charger" / "will this charger work" (the speaker may,
# the thing will) ask the same, and so do "can I get a refund" / "will I get a refund"
_PREDICTED_LEAVE = frozenset({"prediction", "permission"})
_DOER_AFTER = re.compile(
    r"\b(can|could|may|will|won't) (?:(?:the|my|our|your|his|her|their|an?) )?([\w'-]+)"
)
_SPEAKERS = frozenset({"i", "we", "you", "one", "it", "they"})


def _one_doer(q_text: str, c_text: str) -> bool:
    """Whether one named doer (not the speaker, not "it") follows "can" on one side and
    "will" on the other."""

    def doers(text: str, modals: tuple[str, ...]) -> set[str]:
        return {
            m.group(2)
            for m in _DOER_AFTER.finditer(text)
            if m.group(1) in modals and m.group(2) not in _SPEAKERS
        }

    may, will = ("can", "could", "may"), ("will", "won't")
    return bool(
        doers(q_text, may) & doers(c_text, will) or doers(q_text, will) & doers(c_text, may)
    )


def asks_differ(q: Asks, c: Asks, q_text: str, c_text: str) -> str | None:
    """Why the two prompts ask for different answers, or None."""
    if q.kinds and c.kinds and not any(_agree(a, b) for a in q.kinds for b in c.kinds):
        return f"question differs: {_said(q.kinds, _SAID)} vs {_said(c.kinds, _SAID)}"
    if (
        q.modals
        and c.modals
        and not any(_agree(a, b) for a in q.modals for b in c.modals)
        and (_PREDICTED_LEAVE != q.modals | c.modals or _one_doer(q_text, c_text))
    ):
        said = _said(q.modals, _MODAL_SAID), _said(c.modals, _MODAL_SAID)
        return f"question differs: {said[0]} vs {said[1]}"
    if q.dependents != c.dependents:
        one, other = (q, c) if q.dependents else (c, q)
        if other.me and not one.me and not other.dependents:
            return f"asked for someone else: my {', '.join(sorted(one.dependents))} vs me"
    for one, other, text, one_text in ((q, c, c_text, q_text), (c, q, q_text, c_text)):
        if one.condition and not other.condition:
            # the condition's words missing from the other side, which says nothing of its
            # own: it asks the same without the condition
            prefixes = _prefixes(text)
            missing = one.condition - prefixes
            if 2 * len(missing) > len(one.condition) and prefixes <= _prefixes(one_text):
                return f"a condition on one side only (if {' '.join(sorted(missing))}...)"
    return None


# "can you mix X" / "should you mix X": a modal before an addressee and a verb (no
# yes/no modality is read for "can you", which is most often a request: "can you write")
# (a yes/no question: the modal opens a sentence or clause; "what else can I try" /
# "what else should I try" ask the same)
_MODAL_VERB = re.compile(
    r"(?:^|[.?!:;,\n] *)(?:(?:u+m+|so|ok|okay|hey|well|and|or|but),? )?"
    r"(can|could|may|should|shall|ought to|must)(?: you| one| we| i)(?: \w+ly)? (\w+)"
)
_MODAL_CLASS = {"could": "can", "may": "can", "shall": "should", "ought to": "should"}


@per_text
@lru_cache(maxsize=4096)
def _modal_verbs(lower: str) -> dict[str, frozenset[str]]:
    """Each verb ``lower`` says after a modal and an addressee, with its modals."""
    if not any(
        m in lower for m in ("can ", "could ", "may ", "should ", "shall ", "ought ", "must ")
    ):
        return {}
    found: dict[str, set[str]] = {}
    for m in _MODAL_VERB.finditer(lower.replace("\u2019", "'")):
        found.setdefault(m.group(2), set()).add(_MODAL_CLASS.get(m.group(1), m.group(1)))
    return {verb: frozenset(modals) for verb, modals in found.items()}


def modal_of_a_verb(q_lower: str, c_lower: str) -> str | None:
    """One verb asked with another modal on each side ("can you overclock a Ryzen" /
    "should you overclock a Ryzen"): whether it is possible is not whether it is wise,
    nor whether it is required."""
    q, c = _modal_verbs(q_lower), _modal_verbs(c_lower)
    for verb in q.keys() & c.keys():
        if q[verb].isdisjoint(c[verb]):
            said = "/".join(sorted(q[verb])), "/".join(sorted(c[verb]))
            return f"question differs: {said[0]} you {verb} vs {said[1]} you {verb}"
    return None


# a question of what may be (possibility, permission, obligation, advice), at a sentence or
# clause start: "could a flare knock out the grid", "can a ship enter port", "must a shop
# show VAT", "is it possible for the museum to close"; not "can you", a request
_MAY_BE = re.compile(
    r"(?:^|[.?!:;,\n] *)(?:(?:u+m+|so|ok|okay|hey|well|and|or|but),? )?(?:how |what |why )?"
    r"(?:(?:can|could|might|may|must|should)(?! you\b) [\w']+|is it possible\b)"
)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
# what one occasion will bring, or is ("this year", "next quarter", "tonight",
# "definitely"): a prediction or a fact, not what may happen
_ONE_OCCASION = re.compile(
    r"\b(?:this|next|coming) (?:[\w-]+ )?(?:day|week|weekend|month|year|quarter|season|"
    rf"summer|winter|spring|autumn|fall|morning|evening|{_MONTHS})\b"
    r"|\b(?:tonight|tomorrow|definitely|exactly|for sure|certainly)\b"
)
# what happens in practice: "does a ship usually enter port", "do most shops show VAT"
_IN_PRACTICE = re.compile(
    r"\b(?:do|does|did|is|are)(?: [\w'-]+){0,4} (?:usually|typically|normally|generally|"
    r"commonly)\b|\b(?:do|are) most\b|\bin practice\b"
)


def may_against_will(q_lower: str, c_lower: str) -> str | None:
    """What may be ("could the Fed cut rates", "can a ship enter port without a pilot",
    "must a shop show VAT") on one side, and on the other, asked without such a modal,
    what one occasion will bring or is ("will the Fed cut rates this year", "are my cramps
    tonight caused by ...", "is my match definitely a bot") or what happens in practice
    ("does a ship usually enter port", "do most shops show VAT"): a possibility or a rule
    is not a prediction, a fact or a custom."""
    for one, other in ((q_lower, c_lower), (c_lower, q_lower)):
        if not _MAY_BE.search(one) or _MAY_BE.search(other):
            continue
        if _ONE_OCCASION.search(one) or _IN_PRACTICE.search(one):
            continue
        if found := _ONE_OCCASION.search(other):
            return f"what may be vs what will be ({found.group()!r} on one side only)"
        if found := _IN_PRACTICE.search(other):
            return f"what may be vs what is done ({found.group()!r} on one side only)"
    return None


# "could my package have been stolen": whether something may have happened
_MAY_HAVE = re.compile(
    r"\b(?:could|might|may|can) (?:[\w']+ ){0,3}?ha(?:ve|s) (?:been )?(\w+(?:ed|en|t))\b"
)
# "my package was stolen": that it did, stated (not asked: "was my package stolen")
_STATED = re.compile(
    r"(?<![.?!:;,]) (?:was|were|has been|have been|got|had been) (\w+(?:ed|en|t))\b"
)
_WHETHER = re.compile(r"\b(?:if|whether|when|in case|unless|how|why|what)\b")
_STATE_START = re.compile(r"(?:^|[.?!:;,\n]) *(?:was|were|has|have|had|got)\b")


def may_have_against_did(q_lower: str, c_lower: str) -> str | None:
    """Whether something may have happened on one side ("could my package have been
    stolen?") and, on the other, that it did, stated ("my package was stolen, what do I
    do?"): a possibility asked about is not a fact to act on."""
    for one, other in ((q_lower, c_lower), (c_lower, q_lower)):
        may = _MAY_HAVE.search(one)
        if may is None or _MAY_HAVE.search(other):
            continue
        for said in _STATED.finditer(other):
            if said.group(1) != may.group(1):
                continue
            clause = re.split(r"[.?!:;,\n]", other[: said.start()])[-1]
            if _WHETHER.search(clause):
                continue  # "how can I tell if it has been hacked": asked, not stated
            start = other.rfind(" ", 0, said.start())
            if not _STATE_START.match(other, max(start, 0)):
                return f"what may have happened vs what did ({may.group(1)!r})"
    return None


# a duty the law or a rule sets ("is a landlord legally required to", "what must be
# included by law", "what obligations does the airline have"); "must" and "have to" alone
# are said of advice too ("which tablets must not be split" / "should never be split")
_DUTY = re.compile(
    r"\b(?:required|obliged|obligated|mandatory|compulsory|obligations?|duty to|duties|"
    r"by law|legally)\b"
)
_ANY_DUTY = re.compile(r"\b(?:must|ha(?:ve|s) to|needs? to|need)\b")
# advice ("what should my company do", "what would be nice for it to show")
_ADVICE = re.compile(
    r"\b(?:should|ought to|recommended|advisable|best practice|"
    r"(?:would|will) (?:it )?be (?:nice|good|best|wise|smart|helpful))\b"
)
# what is allowed ("is a physician permitted to", "what are my rights"); "can I legally
# park here" / "am I allowed to park here" ask the same
_LEAVE = re.compile(r"\b(?:allowed|permitted|entitled|eligible|rights?|can|could|may|legal)\b")


def duty_against_advice(q_lower: str, c_lower: str) -> str | None:
    """A duty the law or a rule sets on one side ("what is a landlord legally required to
    do about mould", "is a physician obligated to refuse") and, on the other with no duty
    said at all, advice or leave ("what should a landlord do about mould", "is a
    physician permitted to refuse"): what one must do is not what one should or may."""
    for one, other in ((q_lower, c_lower), (c_lower, q_lower)):
        duty = _DUTY.search(one)
        if duty is None or _ADVICE.search(one) or _LEAVE.search(one):
            continue
        if _DUTY.search(other) or _ANY_DUTY.search(other):
            continue
        if (said := _ADVICE.search(other)) or (said := _LEAVE.search(other)):
            return f"a duty vs advice or leave ({duty.group()!r} / {said.group()!r})"
    return None


class AskGuard:
    """Another kind of answer to a question on the same topic ("why" / "when", "what is
    X" / "how do I fix X", "can I" / "should I", "for me" / "for my child", "if X, what
    happens" / "what happens"): :func:`asks_differ` on what each side asks
    (:func:`asks`)."""

    name = "asks"

    def check(self, query: str, candidate: str) -> str | None:
        q, c = pair(query, candidate)
        return self.judge(q, c, query, candidate)

    def judge(self, q: Features, c: Features, query: str, candidate: str) -> str | None:
        a = asks(q.lower)
        # The kinds and modalities a side asks for refuse a pair only if both sides ask
        # some (asks_differ's first two tests): a query that asks none (half the spans a
        # lookup compares) leaves the candidate's unread, and its clause-by-clause reading
        # (≈ 20 µs a new span) is not made. Whom and on what condition it asks are read.
        b = asks(c.lower) if a.kinds or a.modals else Asks(_NONE, _NONE, *_asker(c.lower))
        # "WHO": the World Health Organization, not "who"
        if "person" in a.kinds and _WHO.search(query):
            a = a._replace(kinds=a.kinds - {"person"})
        if "person" in b.kinds and _WHO.search(candidate):
            b = b._replace(kinds=b.kinds - {"person"})
        return (
            asks_differ(a, b, q.lower, c.lower)
            or modal_of_a_verb(q.lower, c.lower)
            or may_against_will(q.lower, c.lower)
            or may_have_against_did(q.lower, c.lower)
            or duty_against_advice(q.lower, c.lower)
            or condition_stated(q.lower, c.lower)
            or frames_differ(q.lower, c.lower, _TIME_AND_STEP)
        )
