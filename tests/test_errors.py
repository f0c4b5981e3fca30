"""The message helpers of mlops_nb/errors.py: capped listings and "did you mean"."""

from __future__ import annotations

from mlops_nb.errors import cap_lines, closest, listing


def test_a_listing_shows_at_most_limit_values_and_counts_the_rest():
    assert listing(["a", "b"], 3) == "a, b"
    assert listing(range(5), 3) == "0, 1, 2, ... (2 more)"
    assert listing({"c", "a", "b"}, 2, more=", ... (+{})") == "a, b, ... (+1)"


def test_closest_offers_similar_names_best_first():
    assert closest("trian", ["train", "test", "validate"]) == ["train"]
    assert closest("regoin", ["region", "regions", "reason"], n=3)[0] == "region"
    assert closest("zzz", ["train"]) == []


def test_cap_lines_says_how_many_lines_it_left_out():
    assert cap_lines("a\nb\nc", limit=2) == "a\nb\n... (1 more lines)"
