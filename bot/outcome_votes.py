"""Votes and dissent in a Danish decision: how many voted for, against and abstained, which parties
took which side, and which sentences record a minority's view.

The forms read (from real minutes): counts ("med 6 stemmer for, 2 imod og 1 undlod", "med 5 stemmer
mod 4", "Fem medlemmer (…) stemte for", "For stemte: 15"), labelled lists ("For: Gruppe A og B.
Undlader: Gruppe C og F."), a majority or minority with its parties ("Et mindretal (Ø) kunne ikke
anbefale"), and parties or members as the subject ("A og V stemte imod", "Lone Hansen og Ole Skrald
undlod at stemme": two members). Parties are keyed by their letter (A, B, C, D, F, I, K, M, O, V,
Æ, Ø, Å; a local list by its own letter, "Liste L" → L); a party named in words
("Enhedslisten") is read as its letter.
"""

from __future__ import annotations

import re

from bot.outcomes import Votes

PARTY_NAMES = {
    "Socialdemokratiet": "A",
    "Socialdemokraterne": "A",
    "Det Radikale Venstre": "B",
    "Radikale Venstre": "B",
    "Radikale": "B",
    "Det Konservative Folkeparti": "C",
    "De Konservative": "C",
    "Konservative": "C",
    "Nye Borgerlige": "D",
    "Socialistisk Folkeparti": "F",
    "SF": "F",
    "Liberal Alliance": "I",
    "Kristendemokraterne": "K",
    "Moderaterne": "M",
    "Dansk Folkeparti": "O",
    "DF": "O",
    "Venstre": "V",
    "Danmarksdemokraterne": "Æ",
    "Enhedslisten": "Ø",
    "Alternativet": "Å",
}
_WORDS = (
    "nul en to tre fire fem seks syv otte ni ti elleve tolv tretten fjorten femten seksten sytten atten nitten tyve"
    " enogtyve toogtyve treogtyve fireogtyve femogtyve seksogtyve syvogtyve otteogtyve niogtyve tredive enogtredive"
).split()
NUMBERS = {word: value for value, word in enumerate(_WORDS)} | {"et": 1, "én": 1, "ét": 1}
_NUM = r"(?:\d+|" + "|".join(sorted(NUMBERS, key=len, reverse=True)) + r")"
_L = r"[A-ZÆØÅa-zæøå\-]"
_NAMES = "|".join(re.escape(name) for name in sorted(PARTY_NAMES, key=len, reverse=True))
_PARTY = rf"(?:(?:[Gg]ruppe|[Ll]iste|[Pp]artiet)\s+)?[A-ZÆØÅ](?!{_L})|(?:{_NAMES})(?!{_L})"
_PARENS = r"\((?:[^()]|\([^()]*\))*\)"
_PERSON = rf"[A-ZÆØÅ]{_L}+(?:\s+[A-ZÆØÅ]{_L}+)+(?:\s*{_PARENS})?"
_TOKEN = re.compile(rf"{_PARTY}|{_PERSON}")
_LIST = rf"(?:{_PARTY}|{_PERSON})(?:\s*(?:,|\bog\b|\bsamt\b)\s*(?:{_PARTY}|{_PERSON}))*"
_VERBS = r"stemte|stemmer|undlod|undlader|kunne|kan|tog|tager|anbefaler|anbefalede|godkender|godkendte|var|er"
# "A og V stemte imod", "Lone Hansen (stedef.) og Ole Skrald undlod at stemme"
_SUBJECT = re.compile(rf"(?P<list>{_LIST})\s+(?P<rest>(?:{_VERBS})\b[^.;]*)")
# "Et mindretal (Ø) kunne ikke anbefale", "Fem medlemmer (…) stemte for"
_GROUP = re.compile(
    rf"\b(?:et\s+|(?P<num>{_NUM})\s+)?(?P<who>flertal(?:let)?|mindretal(?:let)?|medlemmer|medlem)"
    rf"\s*(?:bestående af\s*)?(?P<list>{_PARENS})(?P<rest>[^.;]*)",
    re.IGNORECASE,
)
_LABELS = r"For|Imod|Undlader|Undlod(?: at stemme)?|Hverken for eller imod"
# "For: Gruppe A og B. Undlader: Gruppe C og F."
_LABELLED = re.compile(
    rf"\b(?P<label>{_LABELS})(?:\s+stemte)?\s*:\s*(?P<list>.*?)(?=\s*\b(?:{_LABELS})(?:\s+stemte)?\s*:|[.;]|$)"
)
_PAIR = re.compile(rf"\b(?P<a>{_NUM})\s+stemmer\s+(?:for\s+)?mod\s+(?P<b>{_NUM})\b", re.IGNORECASE)
_VOTED = r"(?:stemmer|stemte|medlemmer\s+stemte)"
# "For stemte 15 (A, V og O), imod stemte 8 (F, Ø og Å), 2 undlod (B)"
_STATED = re.compile(
    rf"\b(?P<side>for|imod)\s+stemte:?\s*(?P<n>{_NUM})\b\s*(?P<list>{_PARENS})?"
    rf"|\b(?P<u>{_NUM})\s+undl(?:od|ader)(?:\s+at\s+stemme)?\s*(?P<ulist>{_PARENS})",
    re.IGNORECASE,
)
_COUNTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("for", re.compile(rf"\b(?P<n>{_NUM})\s+{_VOTED}\s+for\b|\b(?P<d>\d+)\s+for\b", re.IGNORECASE)),
    (
        "imod",
        re.compile(rf"\b(?P<n>{_NUM})\s+{_VOTED}\s+(?:imod|mod)\b|\b(?P<d>\d+)\s+(?:stemmer\s+)?imod\b", re.IGNORECASE),
    ),
    (
        "undlod",
        re.compile(
            rf"\b(?P<n>{_NUM})\s+(?:medlemmer\s+)?(?:undlod|undlader|stemte\s+blankt|stemte\s+hverken)\b"
            rf"|\b(?P<d>\d+)\s+(?:blanke|hverken for eller imod)\b",
            re.IGNORECASE,
        ),
    ),
)
# Cheap pre-checks, each a word every match of the costly rules above needs: most decisions state
# no vote, and the number words make those rules slow to fail. A text _COUNTED misses matches
# neither _PAIR, _STATED nor _COUNTS; a sentence _SIDED misses has no _SUBJECT whose verb
# phrase takes a side (see _side).
_COUNTED = re.compile(r"stem|undl|blanke|hverken|\d\s+(?:for|imod)", re.IGNORECASE)
_SIDED = re.compile(
    r"\s(?:(?:stemte|stemmer|var|er)\s+(?:imod|mod|for)\b|(?:kunne|kan)\s+(?:ikke\b|anbefale|godkende|tiltræde)"
    r"|(?:undlod|undlader)\b|stemte\s+(?:blankt|hverken)\b|(?:anbefaler|anbefalede|godkender|godkendte)\b)",
    re.IGNORECASE,
)
# A minority's view: the sentence's subject is a minority, a party or a member, not the body
_MINORITY = re.compile(
    r"\b(?:et\s+)?mindretal(?:let)?\b|\btog\s+forbehold\b|\btager\s+forbehold\b|\bforbehold\b"
    r"|\bført\s+til\s+protokol\b|\bprotokolbemærkning\b",
    re.IGNORECASE,
)
_AGAINST = re.compile(
    r"\b(?:stemte|stemmer|var|er)\s+(?:imod|mod)\b|\b(?:kunne|kan)\s+ikke\s+(?:\w+\s+)?"
    r"(?:anbefale|godkende|tiltræde|støtte)\b"
)
_CONSEQUENCE = re.compile(r"\b(?:hvorfor|derfor|dermed|således)\b", re.IGNORECASE)
_BODY = re.compile(r"^\W*(?:et\s+(?:enigt\s+)?flertal|udvalget|kommunalbestyrelsen|byrådet|et enigt)\b", re.IGNORECASE)


def dissent_start(sentence: str) -> int | None:
    """Where a sentence's minority clause starts ("Godkendt, idet V stemte imod": at "V"); None when
    the sentence records no minority view (or states the body's decision as its consequence)."""
    if _CONSEQUENCE.search(sentence) or _BODY.match(sentence):
        return None
    if found := _MINORITY.search(sentence):
        group = _GROUP.search(sentence)
        if group is not None and group.start() <= found.start() and "mindretal" in group["who"].lower():
            return group.start()
        subject = _SUBJECT.search(sentence)
        return subject.start() if subject is not None and subject.start() <= found.start() else found.start()
    if (against := _AGAINST.search(sentence)) is not None:
        subject = _SUBJECT.search(sentence)
        if subject is not None and subject.start() <= against.start():
            return subject.start()
    return None


def is_dissent(sentence: str) -> bool:
    return dissent_start(sentence) is not None


def parse_votes(text: str, sentences: list[str]) -> Votes | None:
    """The vote a decision states, or None when it states none."""
    counts: dict[str, int] = {}
    parties: dict[str, str] = {}
    if _COUNTED.search(text):
        _counts(text, counts, parties)
    for sentence in sentences:
        if ":" in sentence:  # every labelled list has one
            _labelled(sentence, counts, parties)
        _groups(sentence, counts, parties)
    if not counts and not parties:
        return None
    return Votes(counts.get("for"), counts.get("imod"), counts.get("undlod"), parties)


def _counts(text: str, counts: dict[str, int], parties: dict[str, str]) -> None:
    """The counts the whole text states ("med 6 stemmer for, 2 imod og 1 undlod")."""
    rest = _pairs(text, counts)
    for found in _STATED.finditer(rest):
        side, count, listed = (
            (found["side"].lower(), found["n"], found["list"])
            if found["side"]
            else ("undlod", found["u"], found["ulist"])
        )
        counts.setdefault(side, number(count))
        if listed:
            _take(listed[1:-1], side, counts, parties, count_people=False)
    for side, rule in _COUNTS:
        if side not in counts and (counted := rule.search(rest)):
            counts[side] = number(counted["n"] or counted["d"])


def number(word: str) -> int:
    return int(word) if word.isdigit() else NUMBERS[word.lower()]


def _pairs(text: str, counts: dict[str, int]) -> str:
    """ "med 5 stemmer mod 4": for and against at once; the text without them."""
    if found := _PAIR.search(text):
        counts["for"], counts["imod"] = number(found["a"]), number(found["b"])
        return text[: found.start()] + " " + text[found.end() :]
    return text


def _labelled(sentence: str, counts: dict[str, int], parties: dict[str, str]) -> None:
    for found in _LABELLED.finditer(sentence):
        side = _label_side(found["label"])
        listed = found["list"]
        if leading := re.match(r"\s*(\d+)\b", listed):
            counts.setdefault(side, int(leading[1]))
        _take(listed, side, counts, parties, count_people=False)


def _label_side(label: str) -> str:
    label = label.lower()
    return "for" if label == "for" else "imod" if label == "imod" else "undlod"


def _groups(sentence: str, counts: dict[str, int], parties: dict[str, str]) -> None:
    grouped = set()
    for found in _GROUP.finditer(sentence) if "(" in sentence else ():  # a group names its parties in parentheses
        side = _side(found["rest"])
        grouped.add(found.start("list"))
        if side is None:
            continue
        if found["num"]:
            counts.setdefault(side, number(found["num"]))
        _take(found["list"][1:-1], side, counts, parties, count_people=not found["num"])
    for found in _SUBJECT.finditer(sentence) if _SIDED.search(sentence) else ():
        side = _side(found["rest"])
        if side is not None and not any(found.start() <= at < found.end() for at in grouped):
            _take(found["list"], side, counts, parties, count_people=True)


def _side(words: str) -> str | None:
    """The side a verb phrase takes: "stemte imod" → imod, "undlod at stemme" → undlod."""
    words = " ".join(words.lower().split())
    if re.match(r"(?:stemte|stemmer|var|er)\s+(?:imod|mod)\b|(?:kunne|kan)\s+ikke\b", words):
        return "imod"
    if re.match(r"(?:undlod|undlader)\b|stemte\s+(?:blankt|hverken)\b", words):
        return "undlod"
    if re.match(
        r"(?:stemte|stemmer|var|er)\s+for\b|anbefal|godkend|(?:kunne|kan)\s+(?:anbefale|godkende|tiltræde)", words
    ):
        return "for"
    return None


def _take(listed: str, side: str, counts: dict[str, int], parties: dict[str, str], count_people: bool) -> None:
    """The parties (and, when ``count_people``, the number of members) of a list on one side."""
    people = 0
    for token in _TOKEN.findall(listed):
        party = party_letter(token)
        if party is not None:
            parties.setdefault(party, side)
            continue
        people += 1
        if member := re.search(r"\(([A-ZÆØÅ])\)", token):  # "Marie Jørgensen (F)"
            parties.setdefault(member[1], side)
    if count_people and people:
        counts.setdefault(side, people)


def party_letter(token: str) -> str | None:
    """ "Gruppe A", "Liste L", "Ø", "Enhedslisten" → the party's letter; None for a person."""
    token = " ".join(token.split())
    if found := re.fullmatch(r"(?:(?:gruppe|liste|partiet)\s+)?([A-ZÆØÅ])", token, re.IGNORECASE):
        return found[1].upper()
    return PARTY_NAMES.get(token)
