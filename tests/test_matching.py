"""skills/matching.py: one clear fuzzy winner, or the close contenders, or nothing."""

from __future__ import annotations

from skills.matching import best_match, similarity


def same(x: str) -> str:
    return x


def test_a_slip_finds_the_one_clearly_closest_name():
    m = best_match("piza", ["pizza", "pasta", "tea"], same)
    assert m.winner == "pizza" and not m.ambiguous and m.contenders == ("pizza",)


def test_nothing_close_is_no_match_rather_than_a_guess():
    m = best_match("laundry", ["pizza", "tea"], same)
    assert m.winner is None and not m.ambiguous and m.contenders == ()


def test_two_names_equally_close_are_ambiguous_not_a_winner():
    m = best_match("tea 1", ["tea 2", "tea 3"], same)
    assert m.winner is None and m.ambiguous and set(m.contenders) == {"tea 2", "tea 3"}


def test_the_runner_up_counts_even_below_the_threshold():
    # 0.8 vs 0.73: the best reaches 0.75, but a close second means the words may have meant either.
    scores = {"a": 0.8, "b": 0.73}
    m = best_match("q", ["a", "b"], same, score=lambda q, c: scores[c])
    assert m.ambiguous and m.contenders == ("a", "b")


def test_a_winner_must_beat_the_runner_up_by_more_than_the_margin():
    scores = {"a": 0.9, "b": 0.8, "c": 0.3}
    assert best_match("q", "abc", same, score=lambda q, c: scores[c]).winner is None  # 0.1 apart: not clear
    assert best_match("q", "abc", same, score=lambda q, c: scores[c], margin=0.05).winner == "a"
    scores["b"] = 0.79
    assert best_match("q", "abc", same, score=lambda q, c: scores[c]).winner == "a"


def test_threshold_and_key_are_the_callers():
    items = [{"name": "Pizza"}, {"name": "Tea"}]
    m = best_match("pizz", items, lambda d: d["name"].lower())
    assert m.winner == {"name": "Pizza"}
    assert best_match("pizz", items, lambda d: d["name"].lower(), threshold=0.95).contenders == ()


def test_no_candidates_is_no_match():
    assert best_match("anything", [], same).contenders == ()


def test_contenders_come_best_first_and_ties_keep_their_order():
    scores = {"x": 0.8, "y": 0.9, "z": 0.8}
    assert best_match("q", "xyz", same, score=lambda q, c: scores[c], margin=0.2).contenders == ("y", "x", "z")


def test_similarity_is_difflibs_ratio():
    assert similarity("abc", "abc") == 1.0
    assert similarity("abc", "xyz") == 0.0
    assert 0.8 < similarity("pizza", "piza") < 1.0


def test_word_similarity_finds_a_slip_inside_a_longer_text_but_not_a_filler_word():
    from skills.matching import word_similarity

    assert word_similarity("by oat milk", "buy oat milk") > 0.75
    assert word_similarity("oat", "buy oat milk and bread for the weekend") < 0.75  # a small share of the text
    assert word_similarity("", "anything") == similarity("", "anything")
