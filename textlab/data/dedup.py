"""Near-duplicate texts across datasets: the check that keeps a held-out set held out.

Review collections are often assembled from one another (most ChnSentiCorp hotel reviews
reappear in the hotel category of ``online_shopping_10_cats``, some with a line added or cut,
or re-spaced), so an exact match alone lets copies of held-out reviews into training. Two
texts are taken for the same review when, with white space removed and letters lowercased,
they are equal, or share their first ``affix`` characters, or their last ``affix``.
"""

from __future__ import annotations

from typing import Iterable

AFFIX = 20


def normalise(text: str) -> str:
    """The text with all white space removed and letters lowercased."""
    return "".join(text.split()).lower()


class NearDuplicates:
    """``text in NearDuplicates(reference)``: whether ``text`` is (a near copy of) one of the
    reference texts: equal after :func:`normalise`, or sharing its first or last ``affix``
    characters with one. A text shorter than ``affix`` characters matches on equality only
    (its "first 20 characters" are itself)."""

    def __init__(self, texts: Iterable[str], affix: int = AFFIX):
        self.affix = affix
        self.exact: set[str] = set()
        self.heads: set[str] = set()
        self.tails: set[str] = set()
        for text in texts:
            self.add(text)

    def add(self, text: str) -> None:
        key = normalise(text)
        if not key:
            return
        self.exact.add(key)
        if len(key) >= self.affix:
            self.heads.add(key[: self.affix])
            self.tails.add(key[-self.affix:])

    def __len__(self) -> int:
        return len(self.exact)

    def __contains__(self, text: str) -> bool:
        key = normalise(text)
        if not key:
            return False
        if key in self.exact:
            return True
        return len(key) >= self.affix and (key[: self.affix] in self.heads or key[-self.affix:] in self.tails)

    def overlap(self, texts: Iterable[str]) -> int:
        """How many of ``texts`` are near copies of a reference text."""
        return sum(text in self for text in texts)
