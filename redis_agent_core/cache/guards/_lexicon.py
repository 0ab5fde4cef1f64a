"""Word lists behind the default guards.

Kept general on purpose (everyday English, not one dataset's vocabulary): each list is a
family of words whose swap changes the answer to a question. Words are matched after
lower-casing and :func:`redis_agent_core.cache.guards._features.stem`.
"""

from __future__ import annotations

# Words that flip a statement on their own. Counted, not paired: "pay on time" vs
# "don't pay on time". "stop"/"avoid"/"prevent" act like negators in requests
# ("stop watering" vs "water"); counting them makes "stop it renewing" equal to
# "don't want it to renew".
NEGATORS = frozenset(
    """not no never without none nothing nobody neither nor cannot stop avoid prevent
    refuse""".split()
)

# Prefixes that negate the word they are glued to: "unsafe" vs "safe", "non-refundable".
# Only counted when the bare word appears on the other side.
NEGATING_PREFIXES = ("non-", "non", "un", "dis", "in", "im", "il", "ir", "de")

# Opposite pairs: seeing one side's word where the other has its opposite is a rejection.
OPPOSITES: tuple[tuple[str, str], ...] = (
    ("enable", "disable"),
    ("activate", "deactivate"),
    ("add", "remove"),
    ("add", "delete"),
    ("accept", "decline"),
    ("accept", "reject"),
    ("accept", "refuse"),
    ("approve", "reject"),
    ("approve", "decline"),
    ("open", "close"),
    ("open", "shut"),
    ("include", "exclude"),
    ("included", "excluded"),
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("increase", "lower"),
    ("raise", "lower"),
    ("buy", "sell"),
    ("allow", "block"),
    ("allow", "ban"),
    ("allow", "prohibit"),
    ("allow", "forbid"),
    ("permit", "prohibit"),
    ("permit", "forbid"),
    ("allow", "illegal"),
    ("permit", "illegal"),
    ("start", "stop"),
    ("start", "finish"),
    ("upgrade", "downgrade"),
    ("grant", "revoke"),
    ("join", "leave"),
    ("pause", "resume"),
    ("pass", "fail"),
    ("win", "lose"),
    ("best", "worst"),
    ("most", "least"),
    ("more", "less"),
    ("more", "fewer"),
    ("hot", "cold"),
    ("warm", "cold"),
    ("benefit", "drawback"),
    ("benefit", "downside"),
    ("benefit", "risk"),
    ("advantage", "disadvantage"),
    ("pro", "con"),
    ("eat", "avoid"),
    ("take", "avoid"),
    ("compulsory", "optional"),
    ("mandatory", "optional"),
    ("required", "optional"),
    ("spicy", "mild"),
    ("busy", "quiet"),
    ("public", "private"),
    ("import", "export"),
    ("upload", "download"),
    ("send", "receive"),
    ("deposit", "withdraw"),
    ("enrol", "withdraw"),
    ("enroll", "withdraw"),
    ("before", "after"),
    ("within", "after"),
    ("above", "below"),
    ("over", "under"),
    ("higher", "lower"),
    ("high", "low"),
    ("maximum", "minimum"),
    ("max", "min"),
    ("first", "last"),
    ("earliest", "latest"),
    ("cheap", "expensive"),
    ("cheapest", "dearest"),
    ("fast", "slow"),
    ("fastest", "slowest"),
    ("arrive", "depart"),
    ("arrival", "departure"),
    ("true", "false"),
    ("input", "output"),
    ("inbound", "outbound"),
    ("encrypt", "decrypt"),
    ("success", "failure"),
    ("successful", "failed"),
    ("approved", "rejected"),
    ("safe", "dangerous"),
    ("positive", "negative"),
    ("good", "bad"),
    ("light", "dark"),
    ("show", "hide"),
    ("hire", "fire"),
    ("attach", "detach"),
    ("credit", "debit"),
    ("inside", "outside"),
    ("internal", "external"),
    ("online", "offline"),
    ("wet", "dry"),
    ("full", "empty"),
    ("plus", "minus"),
    ("always", "never"),
    ("legal", "illegal"),
    ("faster", "slower"),
    ("better", "worse"),
    ("easier", "harder"),
    ("longer", "shorter"),
    ("earlier", "later"),
    ("stronger", "weaker"),
    ("warmer", "colder"),
    ("hotter", "colder"),
    ("cheaper", "dearer"),
    ("older", "newer"),
    ("cover", "exclude"),
    ("add", "take_out"),
    ("deposit", "take_out"),
    ("put_in", "take_out"),
    ("increase", "less"),
    ("increase", "smaller"),
    ("larger", "smaller"),
    ("bigger", "smaller"),
    ("employer", "employee"),
    ("buyer", "seller"),
    ("sender", "recipient"),
    ("host", "guest"),
)

# Verb particles with opposite meaning: "turn on"/"turn off", "opt in"/"opt out".
PARTICLE_VERBS = frozenset(
    "turn switch log sign opt check clock power tune plug lock take put pay cash".split()
)
OPPOSITE_PARTICLES: tuple[tuple[str, str], ...] = (("on", "off"), ("in", "out"), ("up", "down"))

# Contrast classes: members of one class are mutually exclusive answers' keys
# ("for adults" vs "for children"). Each entry is one group of synonyms; a class
# rejects when both texts name a group of it and the groups differ. Classes marked
# strict also reject when only one side names a group ("flu" vs "flu in babies").
SCOPE_CLASSES: dict[str, tuple[tuple[bool, tuple[str, ...]], ...]] = {
    "audience": (
        (True, ("adult", "grown-up", "grownup")),
        (True, ("child", "children", "kid", "kids", "toddler", "son", "daughter")),
        (True, ("baby", "babies", "infant", "newborn")),
        (True, ("teen", "teenager", "teenage", "adolescent")),
        (True, ("student", "pupil", "pupils")),
        (True, ("pensioner", "senior", "elderly", "retiree")),
    ),
    # how far along the asker is: a plan or a guide for one level is not for another
    # ("a plan for beginners" / "for advanced lifters")
    "level": (
        (False, ("beginner", "novice", "newbie", "first-timer", "inexperienced")),
        (False, ("intermediate",)),
        (False, ("advanced", "expert", "experienced", "seasoned")),
    ),
    "employment": (
        (False, ("employee", "employed", "staff", "salaried", "permanent")),
        (True, ("self-employed", "freelancer", "freelance", "sole-trader")),
        (True, ("contractor", "agency worker", "agency staff", "zero-hours", "temp")),
    ),
    "party": (
        (False, ("tenant", "renter", "lodger")),
        (False, ("landlord", "letting agent")),
        (False, ("homeowner", "owner", "leaseholder", "freeholder")),
    ),
    "cabin": (
        (False, ("economy",)),
        (False, ("premium economy",)),
        (False, ("business class", "business-class")),
        (False, ("first class", "first-class")),
    ),
    "tier": (
        (False, ("free plan", "free tier", "free version", "free account")),
        (False, ("basic plan", "basic tier")),
        (False, ("pro plan", "pro tier", "pro")),
        (False, ("premium plan", "premium tier")),
        (False, ("team plan", "teams plan")),
        (False, ("business plan",)),
        (False, ("enterprise",)),
    ),
    "baggage": (
        (False, ("hand luggage", "hand baggage", "cabin bag", "cabin baggage", "carry-on")),
        (False, ("checked", "hold luggage", "hold baggage", "checked-in")),
    ),
    "premises": (
        (False, ("flat", "apartment", "house", "bungalow")),
        (False, ("office", "business premises", "workplace")),
    ),
    "fulfilment": (
        (False, ("delivery", "deliver", "delivered")),
        (False, ("collection", "collect", "pickup", "pick-up", "click-and-collect")),
        (False, ("dine-in", "eat-in")),
        (False, ("takeaway", "take-away")),
    ),
    "hours": ((False, ("full-time", "fulltime")), (False, ("part-time", "parttime", "part-timer"))),
    "membership": (
        (False, ("member",)),
        (False, ("visitor", "guest")),
        (False, ("resident", "residents")),
    ),
    "platform": (
        (False, ("windows", "pc")),
        (False, ("mac", "macos", "osx", "macbook")),
        (False, ("linux", "ubuntu")),
        (False, ("iphone", "ipad", "ios")),
        (False, ("android",)),
        (False, ("web", "browser")),
    ),
    "channel": (
        (False, ("online", "internet", "website")),
        (False, ("paper", "postal")),
        (False, ("in-store", "in-person", "store", "branch", "shop")),
        (False, ("phone", "telephone")),
    ),
    "colour": tuple(
        (False, tuple(c.split("/")))
        for c in "red blue green yellow amber orange purple black white grey/gray pink".split()
    ),
    "gender": (
        (False, ("men", "man", "male", "boy", "boys", "gentlemen")),
        (False, ("women", "woman", "female", "girl", "girls", "ladies", "lady")),
    ),
    "animal": tuple(
        (False, g)
        for g in (
            ("dog", "puppy", "pup"),
            ("cat", "kitten"),
            ("rabbit",),
            ("horse",),
            ("bird", "parrot"),
        )
    ),
    "meat": tuple(
        (False, (m,)) for m in "chicken beef pork lamb fish salmon tofu turkey duck prawn".split()
    ),
    "meal": tuple((False, (m,)) for m in "breakfast brunch lunch dinner supper".split()),
    "insurance": tuple(
        (False, (k,))
        for k in "home car motor travel pet life health contents buildings landlord".split()
    ),
    "direction": tuple((False, (d,)) for d in "north south east west".split()),
    "size": tuple((False, (s,)) for s in "small medium large".split()),
    "origin": (
        (False, ("home", "domestic", "uk", "local")),
        (False, ("international", "overseas", "foreign", "abroad")),
    ),
    "checkio": ((False, ("check-in", "checkin")), (False, ("check-out", "checkout"))),
    "season": tuple((False, (s,)) for s in "spring summer autumn winter".split()),
}

# Dates and times of day compared by the number guard.
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "january february march april may june july august september october november december"
).split()
MONTH_ABBREVIATIONS = {
    "jan": "january",
    "feb": "february",
    "apr": "april",
    "jun": "june",
    "jul": "july",
    "aug": "august",
    "sept": "september",
    "oct": "october",
    "nov": "november",
    "dec": "december",
}
DAY_WORDS = {
    "weekday": "weekday",
    "weekdays": "weekday",
    "weekend": "weekend",
    "weekends": "weekend",
    "today": "today",
    "tonight": "tonight",
    "tomorrow": "tomorrow",
    "yesterday": "yesterday",
    "same-day": "same-day",
    "next-day": "next-day",
    "overnight": "next-day",
}
# Modifiers that narrow a question to another thing when only one side has them:
# "account balance" vs "joint account balance", "warranty" vs "extended warranty".
QUALIFIERS = frozenset(
    """joint extended business corporate commercial international overseas temporary
    provisional junior secondary additional""".split()
)
# Entity spellings that name the same thing.
ALIASES = {
    "us": "usa",
    "u.s.": "usa",
    "america": "usa",
    "usa": "usa",
    "britain": "uk",
    "uk": "uk",
    "u.k.": "uk",
}
PERSON_WORDS = frozenset(
    """colleague coworker co-worker manager boss partner wife husband spouse mother mum mom
    father dad parent son daughter child kid friend neighbour neighbor tenant landlord
    employer employee customer client brother sister grandmother grandfather
    team staff family department household roommate flatmate housemate teacher
    student pupil doctor patient baby toddler teen teenager team-mate
    teammate supervisor relative cousin uncle aunt niece nephew grandchild
    girlfriend boyfriend fiance fiancee""".split()
)

# Output constraints.
LANGUAGES = frozenset(
    """english french spanish german italian portuguese dutch polish russian ukrainian
    chinese mandarin cantonese japanese korean arabic hindi urdu bengali turkish greek
    swedish norwegian danish finnish czech hungarian romanian hebrew thai vietnamese
    indonesian malay welsh irish latin""".split()
)
FORMAT_WORDS = {
    "json": "json",
    "yaml": "yaml",
    "xml": "xml",
    "csv": "csv",
    "html": "html",
    "markdown": "markdown",
    "haiku": "haiku",
    "poem": "poem",
    "limerick": "poem",
    "tweet": "tweet",
    "bullet": "list",
    "bullets": "list",
    "bulleted": "list",
    "numbered": "list",
}
BRIEF_WORDS = frozenset("briefly brief concise concisely succinct succinctly tl;dr tldr".split())
LONG_WORDS = frozenset("detailed thorough thoroughly comprehensive in-depth exhaustive".split())
LENGTH_UNITS = {
    "sentence": "sentence",
    "sentences": "sentence",
    "word": "word",
    "words": "word",
    "paragraph": "paragraph",
    "paragraphs": "paragraph",
    "line": "line",
    "lines": "line",
    "bullet": "bullet",
    "bullets": "bullet",
    "point": "bullet",
    "points": "bullet",
    "item": "item",
    "items": "item",
    "character": "character",
    "characters": "character",
    "step": "step",
    "steps": "step",
}

# Small number words; larger values are composed ("twenty-one", "two hundred").
NUMBER_WORDS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "dozen": 12,
}
SCALE_WORDS = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
# Ordinals spelt out, by the number their digit form ("3rd") is read as; "first" is left
# out (a bare 1 is never compared).
ORDINAL_WORDS = {
    w: n
    for n, w in enumerate(
        "second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
        "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
        "twentieth".split(),
        start=2,
    )
}

# Units: (dimension, factor to the dimension's base unit).
UNITS: dict[str, tuple[str, float]] = {}
for _names, _dim, _factor in (
    ("s sec secs second seconds", "duration", 1),
    ("min mins minute minutes", "duration", 60),
    ("h hr hrs hour hours", "duration", 3_600),
    ("day days", "duration", 86_400),
    ("week weeks wk wks", "duration", 604_800),
    ("fortnight fortnights", "duration", 1_209_600),
    ("month months", "duration", 2_629_800),
    ("year years yr yrs", "duration", 31_557_600),
    ("year-old years-old", "num", 1),  # ages are quoted bare too: "at 18"
    ("mg milligram milligrams", "mass", 0.001),
    ("g gram grams", "mass", 1),
    ("kg kgs kilo kilos kilogram kilograms", "mass", 1_000),
    ("lb lbs", "mass", 453.592),
    ("oz ounce ounces", "mass", 28.3495),
    ("tonne tonnes", "mass", 1_000_000),
    ("mm millimetre millimetres millimeter millimeters", "length", 0.001),
    ("cm centimetre centimetres centimeter centimeters", "length", 0.01),
    ("metre metres meter meters", "length", 1),
    ("km kilometre kilometres kilometer kilometers", "length", 1_000),
    ("mile miles", "length", 1_609.344),
    ("ft foot feet", "length", 0.3048),
    ("inch inches", "length", 0.0254),
    ("ml millilitre millilitres milliliter milliliters", "volume", 0.001),
    ("l litre litres liter liters", "volume", 1),
    ("pint pints", "volume", 0.568),
    ("kb", "data", 1e3),
    ("mb", "data", 1e6),
    ("gb", "data", 1e9),
    ("tb", "data", 1e12),
    ("kwh", "energy", 1),
    ("%", "percent", 1),
    ("percent per-cent", "percent", 1),
):
    for _name in _names.split():
        UNITS[_name] = (_dim, _factor)

# a temperature's scale after its number ("25 °C", "77 degrees Fahrenheit"): read as a
# quantity in degrees Celsius, not as a name or a word of the question
TEMPERATURE_SCALES = frozenset({"c", "f", "celsius", "centigrade", "fahrenheit"})

CURRENCY_SYMBOLS = {"$": "usd", "£": "gbp", "€": "eur", "¥": "jpy", "₹": "inr"}
CURRENCY_WORDS = {
    "dollar": "usd",
    "dollars": "usd",
    "usd": "usd",
    "bucks": "usd",
    "pound": "gbp",
    "pounds": "gbp",
    "gbp": "gbp",
    "quid": "gbp",
    "euro": "eur",
    "euros": "eur",
    "eur": "eur",
    "yen": "jpy",
    "jpy": "jpy",
    "rupees": "inr",
    "inr": "inr",
}
SCALE_SUFFIXES = {"k": 1_000, "m": 1_000_000, "bn": 1_000_000_000}

# Function words: never content, never an entity when capitalised at a line start.
# ("quick" is content: "something quick" / "something healthy" ask for other recipes; the
# chatter "quick question" is dropped before the parse.)
STOPWORDS = frozenset(
    """a an the my our your their his her its this that these those i me we you he she it
    they them us is are was were be been being am do does did doing have has had having
    can could will would shall should may might must to of in on at by for with from into
    onto over as and or but if then so than too very just also any some all each every
    what which who whom whose when where why how there here about up out off please
    hi hello hey thanks thank cheers um uh er like yeah okay ok well question get
    got make i'm i'd i've i'll it's what's how's where's there's""".split()
)
ROLE_NAMES = (
    "system",
    "human",
    "user",
    "ai",
    "assistant",
    "tool",
    "function",
    "developer",
    "chatbot",
    "model",
)

# Words that are never an argument or an opposite (WordNet has in/out, up/down...).
FUNCTION_WORDS = STOPWORDS | frozenset(
    "in out up down on off over under more less much many few all some no yes".split()
)
