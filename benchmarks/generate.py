"""Deterministic, realistic Danish minutes text and watchlist term lists for the benchmarks.

The vocabulary is the words of the bundled sample minutes plus compounds built from a fixed list
of common parts (beskæftigelse + indsats -> beskæftigelsesindsats). It is fixed (its own seed), so
term lists and documents drawn with any seed share it. Same seed, same output, on every machine.
Watchlist terms are drawn from the rare tail of what a reference text (also its own seed) contains,
one term per word; benchmarks/README.md says what the lists assume.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache, reduce
from itertools import accumulate, islice
from operator import or_
from pathlib import Path

from ahocorasick_rs import AhoCorasick

from bot.match.query import TermError, Words, parse_term, suspended_compounds
from bot.parse.extract import extract_text

SAMPLES = Path(__file__).resolve().parents[1] / "bot" / "samples"
_VOCABULARY_SEED = 20261102
_TOKEN = re.compile(r"[^\W\d_]+")

FUNCTION_WORDS = tuple(
    (
        "og i at det der til af for med på som en er de den har skal kan vil ikke om fra ved efter også "
        "eller samt et blive bliver være være har havde denne dette disse hvor hvilke når så men kun mere "
        "end over under mellem inden hos alle andre nye flere ud op samme sin sine sit deres vores hvis"
    ).split()
)

PARTS = tuple(
    (
        "beskæftigelse kontanthjælp ledighed udvalg indsats borger budget skole klima plan forslag høring sag "
        "arbejde pligt ydelse system tilpasning skybrud vej trafik bus cykel sti park natur vand spildevand "
        "affald energi varme bolig byggeri lokal kommune region økonomi regnskab opfølgning bevilling ramme "
        "pulje tilskud område dagtilbud børn unge ældre pleje hjem sundhed psykiatri handicap integration "
        "uddannelse forløb job center virksomhed praktik løn tilbud visitation kvalitet standard strategi "
        "politik evaluering rapport analyse kontrakt udbud leverandør service digitalisering data kultur "
        "idræt fritid bibliotek hal forsyning kyst beskyttelse miljø godkendelse tilladelse ejendom grund "
        "areal salg leje personale medarbejder ledelse struktur klasse elev lærer undervisning fravær "
        "trivsel inklusion transport kørsel sygefravær fleksjob pension senior hjælp støtte rådgivning "
        "familie anbringelse forebyggelse misbrug behandling rehabilitering træning"
    ).split()
)

# How a part is written in front of another part (the binding -s and -e of Danish compounds).
_COMBINING = {"børn": "børne", "sag": "sags", "arbejde": "arbejds", "pligt": "pligt", "grund": "grund"}
_S_BINDING = ("else", "ing", "hed", "tion", "skab", "hjælp", "sel", "ning", "dom", "fravær", "kultur")

ADJECTIVES = tuple(
    (
        "ny nye nyt lokal lokale grøn grønne samlet samlede fremtidig fremtidige særlig særlige kommunal "
        "kommunale endelig endelige ekstra årlig årlige offentlig offentlige midlertidig midlertidige "
        "samlet øget øgede faglig faglige tværgående central centrale"
    ).split()
)

# Danish compounding is productive: minutes across 98 kommuner use a vocabulary of many
# thousands of compounds, of which any one document uses a few (Zipf-distributed ranks).
COMPOUNDS = 60_000
INFLECTIONS = ("", "", "", "en", "et", "er", "erne", "ens", "ets", "s")
ACRONYMS = ("IGU", "KL", "FGU", "STAR", "MED", "SSP", "PPR", "STU", "EGU", "BUU", "SKI", "ØU", "LBR", "VVM")
ACRONYM_ENDINGS = ("", "", "-forløb", "-udvalg", "'s", "s", "'en", "en", "-aftale")
COMMITTEES = (
    "Social- og Beskæftigelsesudvalget",
    "Teknik- og Miljøudvalget",
    "Børne- og Skoleudvalget",
    "Økonomiudvalget",
    "Kultur- og Fritidsudvalget",
    "Social- og Sundhedsudvalget",
    "Klima- og Planudvalget",
)
SECTIONS = ("Resumé", "Sagsfremstilling", "Økonomi", "Høring", "Videre proces", "Lovgrundlag", "Bilag")
COMMON_TERMS = ("udvalg", "borger", "budget", "kommune", "forslag", "plan", "sag", "skole", "indsats", "økonomi")


def compound(parts: tuple[str, ...]) -> str:
    """Join parts the Danish way: beskæftigelse + indsats -> beskæftigelsesindsats."""
    out = ""
    for part in parts[:-1]:
        form = _COMBINING.get(part, part)
        out += form + ("s" if form.endswith(_S_BINDING) else "")
    return out + parts[-1]


def inflect(word: str, ending: str) -> str:
    """ledelse + en -> ledelsen."""
    return word + (ending[1:] if word.endswith("e") and ending.startswith("e") else ending)


@dataclass(frozen=True)
class Vocabulary:
    sample_words: tuple[str, ...]  # words of the bundled samples, most frequent first
    sample_counts: tuple[int, ...]  # how often each occurs in the samples
    sample_weights: tuple[float, ...]  # cumulative, by frequency
    compounds: tuple[tuple[str, ...], ...]  # in Zipf rank order
    compound_weights: tuple[float, ...]  # cumulative, 1/(rank + 10): Zipf with a flattened head


def sample_texts() -> list[str]:
    """The text of every bundled sample document, extracted as the pipeline would."""
    paths = sorted(p for p in SAMPLES.rglob("*") if p.is_file() and p.name != "README.md")
    return [extract_text(path.read_bytes(), path.name).text for path in paths]


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    counts: Counter[str] = Counter()
    forms: dict[str, Counter[str]] = {}
    for text in sample_texts():
        for token in _TOKEN.findall(text):
            if len(token) >= 2 and not token.isupper():
                counts[token.lower()] += 1
                forms.setdefault(token.lower(), Counter())[token] += 1
    ranked = sorted(counts, key=lambda word: (-counts[word], word))
    words = tuple(forms[word].most_common(1)[0][0] for word in ranked)
    rng = random.Random(_VOCABULARY_SEED)
    seen: set[tuple[str, ...]] = set()
    compounds: list[tuple[str, ...]] = []
    while len(compounds) < COMPOUNDS:
        parts = tuple(rng.sample(PARTS, 3 if rng.random() < 0.2 else 2))
        if parts not in seen:
            seen.add(parts)
            compounds.append(parts)
    return Vocabulary(
        sample_words=words,
        sample_counts=tuple(counts[word] for word in ranked),
        sample_weights=tuple(accumulate(float(counts[word]) for word in ranked)),
        compounds=tuple(compounds),
        compound_weights=tuple(accumulate(1.0 / (rank + 10) for rank in range(1, len(compounds) + 1))),
    )


# --- documents --------------------------------------------------------------------------------


class _Writer:
    """Draws words, sentences, paragraphs and agenda items from one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.vocab = vocabulary()

    def compound_word(self) -> str:
        (parts,) = self.rng.choices(self.vocab.compounds, cum_weights=self.vocab.compound_weights)
        return inflect(compound(parts), self.rng.choice(INFLECTIONS))

    def token(self) -> str:
        rng, roll = self.rng, self.rng.random()
        if roll < 0.42:
            return rng.choice(FUNCTION_WORDS)
        if roll < 0.68:
            (word,) = rng.choices(self.vocab.sample_words, cum_weights=self.vocab.sample_weights)
            return word
        if roll < 0.88:
            return self.compound_word()
        if roll < 0.93:
            return f"{rng.choice(ADJECTIVES)} {self.compound_word()}"
        if roll < 0.95:
            return rng.choice(ACRONYMS) + rng.choice(ACRONYM_ENDINGS)
        if roll < 0.98:
            return rng.choice((str(rng.randint(1, 2030)), f"{rng.randint(1, 99)},{rng.randint(0, 9)} mio. kr."))
        if roll < 0.99:  # a suspended compound: "beskæftigelses- og socialudvalget"
            first, second, last = rng.sample(PARTS, 3)
            return f"{compound((first, last))[: -len(last)]}- {rng.choice(('og', 'eller'))} {compound((second, last))}"
        return f"**{self.compound_word()}**"

    def sentence(self) -> str:
        words = [self.token() for _ in range(self.rng.randint(8, 25))]
        for index in range(2, len(words) - 2):
            if self.rng.random() < 0.06:
                words[index] += ","
        text = " ".join(words)
        return text[:1].upper() + text[1:] + self.rng.choice((".", ".", ".", ".", ":", "?"))

    def paragraph(self) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(1, 5)))

    def heading(self, text: str, layout: str, level: int) -> str:
        if layout == "md":
            return f"{'#' * level} {text}"
        return f"**{text}**" if layout == "bold" else text

    def item(self, number: int) -> str:
        rng = self.rng
        layout = rng.choice(("md", "bold", "plain"))
        title = self.sentence().rstrip(".:?")[: rng.randint(30, 90)].rsplit(" ", 1)[0].rstrip(",")
        committee = rng.choice(COMMITTEES)
        date = f"{rng.randint(1, 28):02d}-{rng.randint(1, 12):02d}-{rng.randint(2024, 2027)}"
        blocks = [self.heading(f"Punkt {number}: {title}", layout, 1), f"{rng.randint(20, 27)}/{rng.randint(1, 39999)}"]
        blocks += [self.heading("Indstilling", layout, 2), "Forvaltningen indstiller,"]
        blocks += [f"{n}. at {self.sentence()[:-1].lower()}," for n in range(1, rng.randint(2, 4))]
        blocks += [self.heading(f"Beslutning i {committee} den {date}", layout, 2), "Godkendt. " + self.paragraph()]
        for section in rng.sample(SECTIONS, rng.randint(1, 4)):
            blocks.append(self.heading(section, layout, 2))
            blocks += [self.paragraph() for _ in range(rng.randint(1, 4))]
        return "\n\n".join(blocks) + "\n"


def documents(n_docs: int, seed: int = 1) -> list[str]:
    """``n_docs`` agenda items (a few KB each) of generated Danish minutes; same seed, same text."""
    return list(islice(stream(seed), n_docs))


def stream(seed: int = 1) -> Iterator[str]:
    """Agenda items without end, as :func:`documents` writes them (its lists are this stream's prefixes):
    for a corpus sized in bytes rather than documents."""
    writer = _Writer(random.Random(seed))
    number = 0
    while True:
        number += 1
        yield writer.item(number)


# --- term lists -------------------------------------------------------------------------------
#
# A real watchlist names what its owner follows: a few specific compounds, names and phrases
# ("kystbeskyttelse", "IGU", "grøn omstilling"), each of which most agenda items never mention, and
# now and then a common word ("skole"). Ten thousand distinct terms are the union of many such
# lists, so most of them are rare and many never occur in a given year of one kommune's minutes.
# The generator follows that: terms are drawn from the low-frequency tail of what the generated
# documents contain, measured on a reference text of its own (its own seed, so not the benchmark's
# documents), plus terms that never occur and a fixed handful of common ones; one term per word.

HEAD_COMPOUNDS = 2_000  # the most common compounds of the vocabulary: nobody's specific term
SPECIFIC_MAX_SHARE = 0.05  # a specific term occurs in at most 1 in 20 documents of the reference text
REFERENCE_DOCS = 800
MIN_INFIX = 10  # '*infix' terms are long strings: specific compounds, not their parts


@dataclass(frozen=True)
class _Reference:
    """Which documents of a reference text contain each word: how often a term would hit."""

    words: tuple[str, ...]  # the distinct case-folded words, sorted
    masks: tuple[int, ...]  # per word: bit d is set when document d contains it
    docs: int

    def share(self, key: str, prefix: bool = True) -> float:
        """Share of the documents with a word that starts with ``key`` (or is ``key``)."""
        low = bisect_left(self.words, key)
        high = bisect_right(self.words, key + "\uffff") if prefix else low + int(self.words[low : low + 1] == (key,))
        return reduce(or_, self.masks[low:high], 0).bit_count() / self.docs

    def infix_shares(self, keys: Iterable[str]) -> dict[str, float]:
        """Share of the documents with a word that contains the key, for each key."""
        wanted = list(keys)
        automaton = AhoCorasick(wanted)
        masks: dict[str, int] = {}
        for word, mask in zip(self.words, self.masks, strict=True):
            for index, _, _ in automaton.find_matches_as_indexes(word, overlapping=True):
                masks[wanted[index]] = masks.get(wanted[index], 0) | mask
        return {key: masks.get(key, 0).bit_count() / self.docs for key in wanted}


@lru_cache(maxsize=1)
def _reference() -> _Reference:
    masks: dict[str, int] = {}
    for number, doc in enumerate(documents(REFERENCE_DOCS, seed=_VOCABULARY_SEED)):
        text = Words(doc)
        found = set(text.scan.split())
        # A suspended compound stands for the compounds it abbreviates: "Teknik- og Miljøudvalget"
        # matches teknikudvalget (see bot.match.matcher), so it counts as every part + a tail of the last word.
        for parts, final, _ in suspended_compounds(text):
            found.update(part + final[start:] for part in parts for start in range(1, len(final) - 2))
        for word in found:
            masks[word] = masks.get(word, 0) | (1 << number)
    words = tuple(sorted(masks))
    return _Reference(words=words, masks=tuple(masks[word] for word in words), docs=REFERENCE_DOCS)


@dataclass(frozen=True)
class _Pools:
    """What watchlist terms are drawn from."""

    specific: tuple[str, ...]  # compounds past the head, rare as prefixes, in Zipf rank order
    words: tuple[str, ...]  # sample words used once in the samples, rare, not compound stems
    infixes: tuple[str, ...]  # specific compounds of MIN_INFIX letters or more, rare as infixes
    wholes: tuple[str, ...]  # specific words and compounds
    known: tuple[str, ...]  # every compound of the vocabulary, sorted: terms absent from it never occur


def _starts_another(word: str, words: tuple[str, ...]) -> bool:
    """Whether a sorted tuple of words holds a longer word that starts with ``word``."""
    at = bisect_right(words, word)
    return at < len(words) and words[at].startswith(word)


@lru_cache(maxsize=1)
def _pools() -> _Pools:
    vocab, reference = vocabulary(), _reference()
    compounds = {compound(parts) for parts in vocab.compounds}
    known = tuple(sorted(compounds))
    tail = [compound(parts) for parts in vocab.compounds[HEAD_COMPOUNDS:]]
    specific = tuple(word for word in tail if reference.share(word) <= SPECIFIC_MAX_SHARE)
    infix_shares = reference.infix_shares([word for word in specific if len(word) >= MIN_INFIX])
    # Words the samples use once, and no part of the compounds: the samples' boilerplate
    # (indstiller, godkendt) is nobody's term, and a compound stem ("beskæftigelses") or a part
    # ("integration") is in most documents.
    counts = zip(vocab.sample_words, vocab.sample_counts, strict=True)
    once = sorted({word.lower() for word, count in counts if count == 1})
    parts = tuple(sorted(PARTS))
    words = tuple(
        word
        for word in once
        if len(word) >= 7
        and word not in FUNCTION_WORDS
        and word not in ADJECTIVES
        and word not in parts
        and not _starts_another(word, parts)
        and not _starts_another(word, known)
        and word not in compounds
        and reference.share(word) <= SPECIFIC_MAX_SHARE
    )
    return _Pools(
        specific=specific,
        words=words,
        infixes=tuple(word for word, share in infix_shares.items() if share <= SPECIFIC_MAX_SHARE),
        wholes=words + specific,
        known=known,
    )


_ENDINGS = ("erne", "ende", "ene", "ede", "ens", "ets", "er", "es", "et", "en", "e", "s", "r")


def stem(word: str) -> str:
    """A crude Danish stem, enough to tell that two terms are one word: afgørelser, afgørelse ->
    afgørels; bevares, bevarer -> bevar."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 5:
            return word[: -len(ending)]
    return word


class _Stems:
    """The words of the terms drawn so far: one term per word, so no term's stem may start
    another's (afgørelse, afgørelser, afgørelsen), nor an earlier '*infix' occur inside the new
    word or the new infix inside an earlier word."""

    def __init__(self) -> None:
        self._stems: list[str] = []  # sorted
        self._all: set[str] = set()
        self._words: list[str] = []
        self._joined: str | None = ""
        self._infixes: set[str] = set()

    def clash(self, words: tuple[str, ...], infix: bool) -> bool:
        """Whether a term of these words would repeat a word of an earlier term (or of itself)."""
        bases = [stem(word) for word in words]
        if any(first != second and first.startswith(second) for first in bases for second in bases):
            return True
        return len(set(bases)) < len(bases) or any(self._clash(word, infix) for word in words)

    def _clash(self, word: str, infix: bool) -> bool:
        base = stem(word)
        at = bisect_left(self._stems, base)
        if at < len(self._stems) and self._stems[at].startswith(base):  # the same stem, or one it starts
            return True
        if any(base[:end] in self._all for end in range(1, len(base))):
            return True
        if any(
            word[start:end] in self._infixes
            for start in range(len(word) - MIN_INFIX + 1)
            for end in range(start + MIN_INFIX, len(word) + 1)
        ):
            return True
        if infix:
            if self._joined is None:
                self._joined = "\n".join(self._words)
            return word in self._joined
        return False

    def add(self, word: str, infix: bool) -> None:
        base = stem(word)
        insort(self._stems, base)
        self._all.add(base)
        self._words.append(word)
        self._joined = None
        if infix:
            self._infixes.add(word)


def _absent(rng: random.Random, pools: _Pools) -> str | None:
    """A compound of three parts that the vocabulary lacks: a term that never occurs."""
    word = compound(tuple(rng.sample(PARTS, 3)))
    at = bisect_left(pools.known, word)
    if at < len(pools.known) and pools.known[at].startswith(word):
        return None
    return word if _reference().share(word) == 0 else None


# A drawn term: as written, the words it is deduplicated by (none for the deliberate exceptions,
# common words and acronyms), and whether it is an infix.
_Drawn = tuple[str, tuple[str, ...], bool]


def _candidate(rng: random.Random, pools: _Pools, acronyms: list[str]) -> _Drawn | None:
    roll = rng.random()
    if roll < 0.45:  # a specific compound of the text's vocabulary
        word = rng.choice(pools.specific)
        return word, (word,), False
    if roll < 0.59:  # a compound that never occurs
        absent = _absent(rng, pools)
        return None if absent is None else (absent, (absent,), False)
    if roll < 0.67:  # a specific word of the samples
        word = rng.choice(pools.words)
        return word, (word,), False
    if roll < 0.71:  # a phrase: adjective + compound, as the text has them
        word = rng.choice(pools.specific)
        return f'"{rng.choice(ADJECTIVES)} {word}"', (word,), False
    if roll < 0.75:  # a phrase of two specific words
        first, second = rng.choice(pools.specific), rng.choice((*pools.specific[:300], *pools.words))
        return f'"{first} {second}"', (first, second), False
    if roll < 0.77:  # a common word: deliberately not deduplicated ("skole" next to "skolestruktur")
        return rng.choice(COMMON_TERMS), (), False
    if roll < 0.87:
        word = rng.choice(pools.infixes)
        return "*" + word, (word,), True
    if roll < 0.97:
        word = rng.choice(pools.wholes)
        return "=" + word, (word,), False
    if acronyms:
        return acronyms.pop(0), (), False
    letters = "ABCDEFGHIJKLMNOPRSTUVWYÆØÅ"
    return "".join(rng.choice(letters) for _ in range(rng.choice((2, 3, 3, 4, 4)))), (), False


def term_lists(n: int, seed: int = 1) -> list[str]:
    """``n`` distinct watchlist terms; the list for ``n`` is a prefix of the list for any larger ``n``."""
    rng, pools = random.Random(seed), _pools()
    acronyms = list(ACRONYMS)
    terms: list[str] = []
    seen: set[str] = set()
    stems = _Stems()
    while len(terms) < n:
        drawn = _candidate(rng, pools, acronyms)
        if drawn is None:
            continue
        raw, words, infix = drawn
        if raw in seen or stems.clash(words, infix):
            continue
        try:
            parse_term(raw)
        except TermError:
            continue
        seen.add(raw)
        for word in words:
            stems.add(word, infix)
        terms.append(raw)
    return terms
