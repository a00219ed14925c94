"""Deterministic, realistic Danish minutes text and watchlist term lists for the benchmarks.

The vocabulary is the words of the bundled sample minutes plus compounds built from a fixed list
of common parts (beskæftigelse + indsats -> beskæftigelsesindsats). It is fixed (its own seed), so
term lists and documents drawn with any seed share it. Same seed, same output, on every machine.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

from bot.extract import extract_text
from bot.query import TermError, parse_term

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
    while len(compounds) < 5000:
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
    writer = _Writer(random.Random(seed))
    return [writer.item(number) for number in range(1, n_docs + 1)]


# --- term lists -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pools:
    """What watchlist terms are drawn from: specific words, rarely the common ones."""

    specific: tuple[str, ...]  # the text's compounds past the most common ones
    words: tuple[str, ...]  # rare sample words of seven letters or more
    infixes: tuple[str, ...]  # parts of eight letters or more, and specific compounds
    wholes: tuple[str, ...]  # rare sample words of four letters or more, parts


@lru_cache(maxsize=1)
def _pools() -> _Pools:
    vocab = vocabulary()
    specific = tuple(compound(parts) for parts in vocab.compounds[200:])
    # Topical words are rare ones: the samples' boilerplate (indstiller, godkendt) is nobody's term.
    rare = zip(vocab.sample_words, vocab.sample_counts, strict=True)
    words = sorted({word.lower() for word, count in rare if count <= 2} - set(FUNCTION_WORDS))
    return _Pools(
        specific=specific,
        words=tuple(word for word in words if len(word) >= 7),
        infixes=tuple(part for part in PARTS if len(part) >= 8) + specific,
        wholes=tuple(word for word in words if len(word) >= 4 and word not in ADJECTIVES) + PARTS,
    )


def _candidate(rng: random.Random, pools: _Pools, acronyms: list[str]) -> str:
    roll = rng.random()
    if roll < 0.42:  # a specific compound of the text's vocabulary
        return rng.choice(pools.specific)
    if roll < 0.55:  # a compound that may never occur
        return compound(tuple(rng.sample(PARTS, rng.choice((2, 2, 3)))))
    if roll < 0.67:  # a specific sample word, sometimes without its ending
        word = rng.choice(pools.words)
        return word[: max(7, len(word) - rng.randint(0, 2))]
    if roll < 0.71:  # a phrase: adjective + compound, as the text has them
        return f'"{rng.choice(ADJECTIVES)} {rng.choice(pools.specific)}"'
    if roll < 0.75:  # a phrase of two specific words
        return f'"{rng.choice(pools.specific)} {rng.choice((*pools.specific[:300], *pools.words))}"'
    if roll < 0.77:
        return rng.choice(COMMON_TERMS)
    if roll < 0.87:
        return "*" + rng.choice(pools.infixes)
    if roll < 0.97:
        return "=" + rng.choice(pools.wholes)
    if acronyms:
        return acronyms.pop(0)
    letters = "ABCDEFGHIJKLMNOPRSTUVWYÆØÅ"
    return "".join(rng.choice(letters) for _ in range(rng.choice((2, 3, 3, 4, 4))))


def term_lists(n: int, seed: int = 1) -> list[str]:
    """``n`` distinct watchlist terms; the list for ``n`` is a prefix of the list for any larger ``n``."""
    rng, pools = random.Random(seed), _pools()
    acronyms = list(ACRONYMS)
    terms: list[str] = []
    seen: set[str] = set()
    while len(terms) < n:
        raw = _candidate(rng, pools, acronyms)
        if raw in seen:
            continue
        try:
            parse_term(raw)
        except TermError:
            continue
        seen.add(raw)
        terms.append(raw)
    return terms
