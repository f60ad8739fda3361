"""Held-out reviews must not come back into training under a slightly different form."""

from __future__ import annotations

from textlab.data.dedup import NearDuplicates, normalise

HELD = "房间很干净，服务也很周到，早餐品种丰富，下次还会再来入住这家酒店"


def test_copies_with_other_spacing_case_or_an_added_or_cut_end_are_found():
    held = NearDuplicates([HELD, "Great Hotel, would stay again and again!"])
    assert HELD in held
    assert " 房间很干净， 服务也很周到，\n早餐品种丰富，下次还会再来入住这家酒店 " in held  # re-spaced
    assert HELD + "补充点评：停车不方便" in held  # a line added at the end: same first 20 characters
    assert "前台态度一般。" + HELD[5:] in held  # a new start, same last 20 characters
    assert "great hotel,  WOULD stay again and again!" in held  # case and spacing


def test_different_reviews_are_not_matched():
    held = NearDuplicates([HELD, "很好"])
    assert "房间很小，隔音差，早餐一般，不会再来了，性价比太低，不推荐大家来住" not in held
    assert "很好吃" not in held  # a short held-out text matches on equality only
    assert "很 好" in held
    assert "" not in held and "   " not in held
    assert held.overlap(["很好", "不好", HELD]) == 2


def test_normalise_removes_all_white_space():
    assert normalise(" A b\tC\u3000d\n") == "abcd"
