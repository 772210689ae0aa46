"""A generated inventory: up to a million items computed on demand, never stored.

Item i of a segment is computed from i and the segment's seed whenever it is read; only
items changed after seeding (a price, a stock level, a description) are materialised into
the company's ordinary `inventory` dict, and the segment skips them from then on.

Lists run in item-number order. A page merges two sorted sequences without building
either: S, the stored items that pass the filters (few), and G, the segments' remaining
indices. Stored item j sits at merged position ``j + rank_G(key_j)``; G fills the other
positions in order, so a page costs O(|S|·log n + pageSize), never O(n).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.numbers import ean_check_digit

MASK64 = (1 << 64) - 1
MAX_GENERATED = 1_000_000
ADJECTIVES = ("Robust", "Klassisk", "Lätt", "Kompakt", "Mjuk", "Stilren", "Hållbar", "Praktisk", "Nordisk", "Smidig")
NOUNS = ("kaffekopp", "tekanna", "skärbräda", "ullfilt", "kudde", "vas", "ljusstake", "handduk", "pläd", "termos")
COLOURS = ("svart", "vit", "grå", "blå", "grön", "röd", "beige", "gul")
# Gross (VAT-included) shelf prices in whole kronor; the base price is net of VAT.
GROSS_PRICES = (29, 49, 79, 99, 129, 149, 199, 249, 299, 349, 399, 499, 599, 799, 999, 1299, 1999)


def mix64(value: int) -> int:
    """SplitMix64's finaliser: a well-spread 64-bit hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


@dataclass
class Segment:
    """`count` generated items numbered prefix + zero-padded (start .. start + count - 1)."""

    prefix: str
    start: int
    count: int
    seed: int
    warehouse: str
    modified: datetime  # every generated item's (and price's and stock's) change time: the seeding moment
    width: int = 7
    excluded: list[int] = field(default_factory=list)  # materialised indices, sorted
    excluded_set: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if not 1 <= self.count <= MAX_GENERATED or self.start < 0:
            raise ValueError(f"a generated inventory holds 1 to {MAX_GENERATED} items from a start >= 0")
        if not self.prefix or not self.prefix[0].isalpha():
            raise ValueError("the prefix of generated item numbers must start with a letter")
        self.width = max(self.width, len(str(self.start + self.count - 1)))

    # -- numbering -------------------------------------------------------------------------------
    def number(self, index: int) -> str:
        return f"{self.prefix}{self.start + index:0{self.width}d}"

    def index_of(self, number: str) -> int | None:
        digits = number[len(self.prefix) :] if number.startswith(self.prefix) else ""
        if len(digits) != self.width or not digits.isascii() or not digits.isdigit():
            return None
        index = int(digits) - self.start
        return index if 0 <= index < self.count else None

    def contains(self, number: str) -> bool:
        index = self.index_of(number)
        return index is not None and index not in self.excluded_set

    def lower_bound(self, key: str) -> int:
        """How many indices (materialised or not) have a number sorting below `key`."""
        lo, hi = 0, self.count
        while lo < hi:
            mid = (lo + hi) // 2
            if self.number(mid) < key:
                lo = mid + 1
            else:
                hi = mid
        return lo

    @property
    def remaining(self) -> int:
        return self.count - len(self.excluded)

    def exclude(self, index: int) -> None:
        if index not in self.excluded_set:
            self.excluded_set.add(index)
            bisect.insort(self.excluded, index)

    def nth_remaining(self, position: int) -> int:
        index = position
        while True:
            following = position + bisect.bisect_right(self.excluded, index)
            if following == index:
                return index
            index = following

    def remaining_from(self, position: int) -> Iterator[int]:
        index = self.nth_remaining(position) if position < self.remaining else self.count
        while index < self.count:
            if index not in self.excluded_set:
                yield index
            index += 1

    # -- content -----------------------------------------------------------------------------------
    def _hash(self, index: int) -> int:
        return mix64((self.seed * 0x100000001B3) ^ (self.start + index))

    def vat_rate(self, index: int) -> int:
        bucket = (self._hash(index) >> 36) % 100
        return 25 if bucket < 82 else (12 if bucket < 93 else 6)

    def base_price(self, index: int) -> Decimal:
        """The base sales price excluding VAT: a round gross price, net rounded half up to öre."""
        gross_ore = GROSS_PRICES[(self._hash(index) >> 40) % len(GROSS_PRICES)] * 100
        rate = self.vat_rate(index)
        net_ore = (gross_ore * 100 * 2 + (100 + rate)) // (2 * (100 + rate))
        return Decimal(net_ore) / 100

    def on_hand(self, index: int) -> Decimal:
        h = self._hash(index)
        return Decimal(0 if h % 10 == 0 else (h >> 8) % 250)

    def description(self, index: int) -> str:
        h = self._hash(index)
        return (
            f"{ADJECTIVES[(h >> 12) % len(ADJECTIVES)]} {NOUNS[(h >> 16) % len(NOUNS)]}, "
            f"{COLOURS[(h >> 24) % len(COLOURS)]} {self.start + index}"
        )

    def ean(self, index: int) -> str:
        body = f"739{(self.start + index) % 10**9:09d}"
        return body + ean_check_digit(body)

    def item(self, index: int, item_id: int) -> dict[str, Any]:
        """Item `index` with the fields a stored item has (see `inventory.new_item`)."""
        return {
            "inventoryId": item_id,
            "inventoryNumber": self.number(index),
            "status": "Active",
            "type": "FinishedGoodItem",
            "description": self.description(index),
            "vatRate": self.vat_rate(index),
            "defaultPrice": self.base_price(index),
            "baseUnit": "STK",
            "salesUnit": "STK",
            "ean": self.ean(index),
            "defaultWarehouse": self.warehouse,
            "lastModifiedDateTime": self.modified,
            "availabilityLastModifiedDateTime": self.modified,
            "createdDateTime": self.modified,
        }


class SegmentsRun:
    """The remaining indices of disjoint segments, in item-number order (or an explicit list)."""

    def __init__(self, segments: Sequence[Segment], refs: list[tuple[Segment, int]] | None = None) -> None:
        self._refs = refs
        if refs is not None:
            self._keys = [s.number(i) for s, i in refs]
            self.count = len(refs)
            self.segments: list[Segment] = []
        else:
            self.segments = sorted((s for s in segments if s.remaining), key=lambda s: s.number(0))
            self.count = sum(s.remaining for s in self.segments)

    def rank(self, key: str) -> int:
        if self._refs is not None:
            return bisect.bisect_left(self._keys, key)
        total = 0
        for segment in self.segments:
            below = segment.lower_bound(key)
            total += below - bisect.bisect_left(segment.excluded, below)
        return total

    def refs(self, position: int) -> Iterator[tuple[Segment, int]]:
        if self._refs is not None:
            yield from self._refs[position:]
            return
        for segment in self.segments:
            if position >= segment.remaining:
                position -= segment.remaining
                continue
            for index in segment.remaining_from(position):
                yield segment, index
            position = 0


def merge_window(
    stored: Sequence[tuple[str, Any]],
    run: SegmentsRun,
    start: int,
    stop: int,
    make: Callable[[Segment, int], Any],
) -> list[Any]:
    """Merged positions [start, stop) of `stored` (sorted (key, item) pairs) and `run`."""
    stop = min(stop, len(stored) + run.count)
    if start >= stop:
        return []
    positions = [i + run.rank(key) for i, (key, _) in enumerate(stored)]
    stored_index = bisect.bisect_left(positions, start)
    generated = run.refs(start - stored_index)
    window: list[Any] = []
    for position in range(start, stop):
        if stored_index < len(stored) and positions[stored_index] == position:
            window.append(stored[stored_index][1])
            stored_index += 1
        else:
            segment, index = next(generated)
            window.append(make(segment, index))
    return window
