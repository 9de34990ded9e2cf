"""Go's sort.Sort, ported: the same order as Go 1.19, equal items included."""

from __future__ import annotations

import random

from confpy.engines.gotemplate.gosort import sort


def by_length(a: str, b: str) -> bool:
    return len(a) < len(b)


def test_equal_items_end_where_go_leaves_them() -> None:
    """Go 1.19's sort.Sort of these 19 strings by length (confd's sortByLength) printed this order."""
    words = "ecba,aggab,ebac,dd,hagce,bdaf,hcbg,cagh,bafci,eeecj,afak,ahal,bgghm,an,gcho,gbbhp,caq,aabr,bdbcs"
    items = words.split(",")
    sort(items, by_length)
    assert " ".join(items) == (
        "an dd caq aabr ebac bdaf hcbg cagh ecba gcho afak ahal bafci bgghm eeecj gbbhp hagce aggab bdbcs"
    )
    assert items != sorted(words.split(","), key=len)  # a stable sort would not give Go's order


def test_sorts_every_shape() -> None:
    rng = random.Random(1)
    for n in [0, 1, 2, 12, 13, 49, 50, 51, 200, 1000]:
        for shape in ("random", "sorted", "reversed", "equal"):
            items = [rng.randrange(n // 3 + 1) for _ in range(n)]
            if shape == "sorted":
                items.sort()
            elif shape == "reversed":
                items.sort(reverse=True)
            elif shape == "equal":
                items = [7] * n
            got = list(items)
            sort(got, lambda a, b: a < b)
            assert got == sorted(items), (n, shape)
