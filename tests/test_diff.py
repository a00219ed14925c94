"""Word diffs of a section: what changed, as runs of kept, removed and added words."""

from __future__ import annotations

from difflib import SequenceMatcher

import pytest

from bot.store.diff import word_diff

DECISION = "Økonomiudvalget godkendte indstillingen med den bemærkning, at budgettet for 2027 genbesøges."


def test_a_changed_amount_is_one_removed_and_one_added_word_between_kept_words() -> None:
    assert word_diff("Rammen er 4,2 mio. kr. i 2027", "Rammen er 4,5 mio. kr. i 2027") == [
        ["=", "Rammen er"],
        ["-", "4,2"],
        ["+", "4,5"],
        ["=", "mio. kr. i 2027"],
    ]


def test_kept_words_far_from_a_change_are_cut_to_eight_on_each_side() -> None:
    words = [f"ord{n}" for n in range(30)]
    ops = word_diff(" ".join(words), " ".join([*words[:15], "nyt", *words[15:]]))
    assert ops == [["=", " ".join(["…", *words[7:15]])], ["+", "nyt"], ["=", " ".join([*words[15:23], "…"])]]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("", DECISION, [["+", DECISION]]),
        (DECISION, "", [["-", DECISION]]),
        (" \n ", f"  {DECISION}\n", [["+", DECISION]]),  # whitespace is not a word
        (f"{DECISION}\n\n", "\t", [["-", DECISION]]),
    ],
)
def test_a_section_added_or_removed_is_one_run_of_all_its_words(
    before: str, after: str, expected: list[list[str]]
) -> None:
    assert word_diff(before, after) == expected


def test_the_one_run_is_what_difflib_gives_for_an_empty_side() -> None:
    """word_diff answers an empty side without difflib; these are difflib's answers it stands for."""
    words = DECISION.split()
    assert SequenceMatcher(None, [], words, autojunk=False).get_opcodes() == [("insert", 0, 0, 0, len(words))]
    assert SequenceMatcher(None, words, [], autojunk=False).get_opcodes() == [("delete", 0, len(words), 0, 0)]
