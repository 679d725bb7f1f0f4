"""Products and lot numbers (ロット番号, lot number) for synthetic vaccination records.

A product is chosen among those of the vaccine on the market that day, weighted by a rough
market share per maker. Each product ships a handful of lots a year; every lot number follows
the product's pattern in the catalogue and is derived from the seed, maker, product and year,
so the same product carries the same lots under every vaccine code (MR1 and MR2, say).
"""

from __future__ import annotations

import random
from bisect import bisect
from collections.abc import Callable
from datetime import date
from itertools import accumulate

from core.catalog import Product, Vaccine

LOTS_PER_YEAR = 6
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_MAKER_SHARE = {"PFIZER": 6.0, "MODERNA": 3.0, "BIKEN": 2.0, "TAKEDA": 0.3, "ASTRAZENECA": 0.05}
"""Relative weight of a maker where several products are on the market; others weigh 1."""


def lot_number(pattern: str, rng: random.Random) -> str:
    """A lot number following ``pattern``: ``#`` a digit, ``@`` a letter, others literal."""
    out = []
    for char in pattern:
        if char == "#":
            out.append(str(rng.randrange(10)))
        elif char == "@":
            out.append(_LETTERS[rng.randrange(len(_LETTERS))])
        else:
            out.append(char)
    return "".join(out)


class LotBook:
    """Lot numbers of every product for every year, numbered by product id."""

    def __init__(self, seed: int, first_year: int, last_year: int) -> None:
        self._seed = seed
        self.first_year = first_year
        self._years = range(first_year, last_year + 1)
        self._ids: dict[tuple[str, str, str], int] = {}
        self.makers: list[str] = []
        self.pools: list[list[tuple[str, ...]]] = []

    def register(self, product: Product) -> int:
        """The product id of ``product``, the same for the same maker, name and pattern."""
        key = (product.maker, product.name, product.lot_pattern)
        found = self._ids.get(key)
        if found is not None:
            return found
        pools = []
        for year in self._years:
            rng = random.Random(f"sesshu-demo-lots:{self._seed}:{':'.join(key)}:{year}")
            pools.append(tuple(lot_number(product.lot_pattern, rng) for _ in range(LOTS_PER_YEAR)))
        self._ids[key] = len(self.makers)
        self.makers.append(product.maker)
        self.pools.append(pools)
        return self._ids[key]


class ProductPicker:
    """Chooses, by day, among the products of one vaccine; answers product ids of a LotBook."""

    def __init__(self, vaccine: Vaccine, book: LotBook) -> None:
        ids = [book.register(product) for product in vaccine.products]
        bounds = {date.min.toordinal()}
        for product in vaccine.products:
            if product.available_from:
                bounds.add(product.available_from.toordinal())
            if product.available_until:
                bounds.add(product.available_until.toordinal() + 1)
        self._bounds = sorted(bounds)
        self._segments: list[tuple[tuple[int, ...], tuple[float, ...]]] = []
        for start in self._bounds:
            day = date.fromordinal(start)
            available = [
                (ids[i], _MAKER_SHARE.get(product.maker, 1.0))
                for i, product in enumerate(vaccine.products)
                if product.available_on(day)
            ]
            self._segments.append(
                (tuple(i for i, _ in available), tuple(accumulate(w for _, w in available)))
            )
        self._only = ids[0] if len(ids) == 1 and len(self._bounds) == 1 else None

    def pick(self, day: int, random_: Callable[[], float], keep: int) -> int:
        """A product available on ``day``: ``keep`` if it still is, else a weighted choice;
        -1 when none is available."""
        if self._only is not None:
            return self._only
        available, cumulative = self._segments[bisect(self._bounds, day) - 1]
        if keep in available:
            return keep
        if not available:
            return -1
        return available[bisect(cumulative, random_() * cumulative[-1])]
