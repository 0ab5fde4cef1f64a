"""The guards' analysis of a stored prompt is written with the cache entry, so a lookup
in any process parses only the new prompt."""

from __future__ import annotations

import orjson
import pytest

from redis_agent_core.cache import SemanticCache, make_scope
from redis_agent_core.cache.entry import PACKED, unpack
from redis_agent_core.cache.guards import Verifier, _features, features
from redis_agent_core.capabilities import Capabilities
from redis_agent_core.config import RedisAgentConfig
from redis_agent_core.embeddings import CallableEmbedder
from tests.cache.conftest import toy_vector
from tests.conftest import skip_unless

SCOPE = make_scope({"model": "m"})
STORED = "How do I descale the espresso machine before Friday's 9am meeting?"
ASKED = "How do I descale the espresso machine before Thursday's 9am meeting?"


# what entries written before form 3 hold (the word list again, then every part, empty or not)
FORM_2 = (
    b'[2,["how","do","i","descale","the","espresso","machine","before","friday","9am",'
    b'"meeting"],[],[],true,0,[],{"time:540":1},["friday"],[],[],[["descale","scale"]],{},[],'
    b"[[],[]],[]]"
)


def test_stored_features_hold_only_what_is_costly_to_find_again() -> None:
    # the words, stems and vocabulary come from the stored prompt itself; absent parts
    # are not written: most prompts store 3 bytes
    assert Verifier.features_of("Where do I send my meter reading?") == b"[20]"
    assert Verifier.features_of(STORED) == (
        b'[20,2,1,5,{"time:540":1},6,["friday"],9,[["descale","scale"]]]'
    )
    damages = (b"[20,2]", b"[20,0,1]", b"[20,16,1]", b'[20,"2",1]', b"[20,15,1]")
    for damaged in (*damages, b'[20,15,[["fix",7,null,null]]]', b'[20,15,[["fix",0,[1],null]]]'):
        features.cache_clear()
        assert Verifier.remember(STORED, damaged)  # found when loaded: the text is parsed
        assert features(STORED) == _features._parse(STORED)


def test_stored_features_round_trip_and_bad_data_falls_back_to_parsing() -> None:
    blob = Verifier.features_of(STORED)
    parsed = features(STORED)
    features.cache_clear()
    assert Verifier.remember(STORED, blob) and features(STORED) == parsed
    features.cache_clear()
    for bad in (b"", None, b"not json", b"[99, [], []]", orjson.dumps([[2], [], []]), FORM_2):
        assert not Verifier.remember(STORED, bad)
    assert not Verifier.remember(STORED, b"[3]")  # form 3's quotes lost their blanks
    assert not Verifier.remember(STORED, b"[9]")  # form 9 read "1.5k" as no number
    assert not Verifier.remember(STORED, b"[4]")  # form 4 read no ranges as flows
    assert not Verifier.remember(STORED, b"[8]")  # form 8 counted "isn't it ...?" as a negator
    assert not Verifier.remember(STORED, b"[11]")  # form 11 counted no "dont" / "cant"
    assert not Verifier.remember(STORED, b"[12]")  # form 12 held no instructions
    assert features(STORED) == parsed  # parsed again, same result
    features.cache_clear()
    # damaged past its format mark: found when first needed, and the text parsed instead
    assert Verifier.remember(STORED, blob[:-9] + b"}garbage")
    assert features(STORED) == parsed


def test_the_instructions_a_prompt_gives_are_stored_and_read_back() -> None:
    # what the task guard compares is read once, at write time: a lookup in another
    # process reads the stored entry's instructions instead of reading its text again
    asked = "Please translate this note into Dutch and explain the idioms: Break a leg!"
    blob = Verifier.features_of(asked)
    assert blob.endswith(b'15,[["translate",2,["dutch"],null],["explain",3,null,["idioms"]]]]')
    parsed = features(asked)
    features.cache_clear()
    assert Verifier.remember(asked, blob)
    assert features(asked) == parsed and [i.verb for i in parsed.tasks] == ["translate", "explain"]


def _stored_entry(
    config: RedisAgentConfig, monkeypatch: pytest.MonkeyPatch, name: str, gf: bytes | None = None
) -> tuple[SemanticCache, dict[bytes, bytes], list[str]]:
    """A cache holding STORED (its ``gf`` field replaced by ``gf`` if given), the entry's
    fields, and the texts parsed from now on, in a process that has parsed nothing yet."""
    embedder = CallableEmbedder(lambda texts: [toy_vector("x") for _ in texts], name="one", dims=16)
    cache = SemanticCache(config, embedder=embedder, name=name, distance_threshold=0.1)
    cache.update(STORED, SCOPE, "answer")
    key = cache.lookup(STORED, SCOPE).key  # type: ignore[union-attr]
    if gf is not None:  # as an older release wrote it: the prompt in a field of its own
        config.get_client().hdel(key, PACKED)
        config.get_client().hset(key, mapping={"payload": "answer", "prompt": STORED, "gf": gf})
    raw = config.get_client().hgetall(key)
    features.cache_clear()
    parsed: list[str] = []
    real_parse = _features._parse
    monkeypatch.setattr(_features, "_parse", lambda text: parsed.append(text) or real_parse(text))
    return cache, raw, parsed


def test_an_entry_written_in_form_2_is_still_judged_right(
    config: RedisAgentConfig,
    capabilities: Capabilities,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")
    cache, _, parsed = _stored_entry(config, monkeypatch, "form-2", FORM_2)  # an older release's
    assert cache.lookup(ASKED, SCOPE) is None  # rejected: another day
    assert parsed == [ASKED, STORED]  # the old form is not read: the stored prompt is parsed
    assert cache.stats().rejections == {"number": 1}
    reworded = "Before Friday's 9am meeting, how do I descale the espresso machine?"
    assert cache.lookup(reworded, SCOPE)


def test_an_entry_with_its_prompt_apart_is_read_with_its_features(
    config: RedisAgentConfig,
    capabilities: Capabilities,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the layout of 3be5e58: "prompt" and a form-3 "gf" side by side
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")
    form3 = Verifier.features_of(STORED)
    cache, _, parsed = _stored_entry(config, monkeypatch, "apart", form3)
    assert cache.lookup(ASKED, SCOPE) is None  # rejected: another day
    assert parsed == [ASKED]  # the stored prompt's features were read, not parsed
    assert cache.lookup(STORED, SCOPE).prompt == STORED  # type: ignore[union-attr]


def test_a_verifier_of_ones_own_may_store_anything(
    config: RedisAgentConfig, capabilities: Capabilities
) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")

    seen: list[tuple[str, object]] = []

    class Own(Verifier):
        @staticmethod
        def features_of(text: str) -> bytes:
            return b"line one\nline two"

        @staticmethod
        def remember(text: str, stored: bytes | str | None) -> bool:
            seen.append((text, stored))
            return False

    embedder = CallableEmbedder(lambda texts: [toy_vector("x") for _ in texts], name="one", dims=16)
    cache = SemanticCache(config, embedder=embedder, name="own", verifier=Own())
    cache.update(STORED, SCOPE, "answer")
    assert cache.lookup(ASKED, SCOPE) is None
    assert seen == [(STORED, b"line one\nline two")]  # kept apart from the prompt


def test_a_narrowed_lookup_never_loads_the_candidates_stored_features(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # long prompts sharing a context are compared on their differing spans: loading the
    # stored analysis of the whole candidate (≈ 10 µs at 100 words) would be wasted
    context = "Our shop sells seeds, compost, hand tools, hoses and garden furniture. " * 3
    stored, asked = context + "Can I return a hose?", context + "Can I return a rake?"
    blob = Verifier.features_of(stored)
    features.cache_clear()
    loads: list[object] = []
    real = orjson.loads
    monkeypatch.setattr(orjson, "loads", lambda data: loads.append(data) or real(data))
    assert Verifier.remember(stored, blob)
    Verifier().verify(asked, stored)
    assert loads == []


def test_a_lookup_reads_the_candidates_features_from_the_entry(
    config: RedisAgentConfig,
    capabilities: Capabilities,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")
    cache, raw, parsed = _stored_entry(config, monkeypatch, "stored-gf")
    prompt, _, _, _, features = unpack(raw[PACKED.encode()])
    assert orjson.loads(features) and prompt == STORED.encode()  # plain JSON, never pickle
    assert raw.keys() == {b"scope", b"vec", PACKED.encode()}  # one field, not two
    # another process: nothing parsed yet; only the new prompt may be parsed
    assert cache.lookup(ASKED, SCOPE) is None  # rejected: another day
    assert parsed == [ASKED]
    assert cache.stats().rejections == {"number": 1}


def test_no_guards_no_stored_features(config: RedisAgentConfig) -> None:
    embedder = CallableEmbedder(lambda texts: [toy_vector(t) for t in texts], name="t", dims=16)
    for verifier in (None, Verifier([])):
        cache = SemanticCache(config, embedder=embedder, verifier=verifier)
        fields = cache._entry_fields(STORED, SCOPE, "answer", None)
        assert fields[2] == PACKED and unpack(fields[3]) == (
            STORED.encode(),
            b"answer",
            b"",
            0,
            b"",
        )
    assert Verifier().guards


def test_a_long_prompt_is_parsed_whole_only_when_written(
    config: RedisAgentConfig,
    capabilities: Capabilities,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # near candidates of a long prompt share its context: the lookup's checks read the
    # spans they differ by, so parsing the whole prompt during the search is wasted on
    # every hit; the write after a miss parses it to store its analysis
    skip_unless(capabilities.search, "the semantic cache needs RediSearch")
    embedder = CallableEmbedder(lambda texts: [toy_vector("x") for _ in texts], name="one", dims=16)
    cache = SemanticCache(config, embedder=embedder, name="long-prep", distance_threshold=0.1)
    context = "Our shop sells seeds, compost, hand tools, hoses and garden furniture. " * 3
    stored, asked = context + "Can I return a hose?", context + "Can I return a rake?"
    cache.update(stored, SCOPE, "answer")
    features.cache_clear()
    parsed: list[str] = []
    real_parse = _features._parse
    monkeypatch.setattr(_features, "_parse", lambda text: parsed.append(text) or real_parse(text))
    assert cache.lookup(asked, SCOPE) is None  # another item: refused on the spans
    assert asked not in parsed and parsed  # the spans were parsed, the whole prompt not
    cache.update(asked, SCOPE, "answer 2")
    assert parsed[-1] == asked  # the write stores its analysis
    short = "Do you sell watering cans?"
    parsed.clear()
    cache.lookup(short, SCOPE)
    assert parsed[0] == short  # a short prompt is parsed (during the search) and compared whole
