"""A synthetic corpus with a planted analogy structure: every noun is (rank, gender); its
sentences mix it with words that signal its rank and words that signal its gender, so that
vector(king) - vector(man) + vector(woman) lands on queen."""

from __future__ import annotations

import random
from pathlib import Path

NOUNS = {  # rank -> (male, female)
    "royal": ("king", "queen"),
    "common": ("man", "woman"),
    "young": ("boy", "girl"),
    "heir": ("prince", "princess"),
    "parent": ("father", "mother"),
}
RANK_WORDS = {rank: [f"{rank}{i}" for i in range(4)] for rank in NOUNS}
GENDER_WORDS = {"male": ["he", "him", "his", "sir"], "female": ["she", "her", "hers", "madam"]}
FILLER = [f"w{i}" for i in range(30)]


def planted_lines(sentences: int = 6000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for _ in range(sentences):
        rank = rng.choice(list(NOUNS))
        gender = rng.randrange(2)
        noun = NOUNS[rank][gender]
        words = [noun]
        words += rng.sample(RANK_WORDS[rank], 2)
        words += rng.sample(GENDER_WORDS["male" if gender == 0 else "female"], 2)
        words += [rng.choice(FILLER)]
        rng.shuffle(words)
        lines.append(" ".join(words))
    return lines


def write_planted(path: Path, sentences: int = 6000, seed: int = 0) -> Path:
    path.write_text("\n".join(planted_lines(sentences, seed)) + "\n", encoding="utf-8")
    return path
