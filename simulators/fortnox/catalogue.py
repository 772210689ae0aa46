"""Generated master data for the Fortnox simulator: a lazy article catalogue and customers.

A generated catalogue holds up to millions of articles without storing them: article i
of a segment is computed from i (and the segment's seed) whenever it is read. Only the
articles changed after seeding are materialised into the simulator's normal dicts; the
segment then skips them (`excluded`).

Lists are served by merging two sorted sequences without building either in full:

* R, the stored records that pass the list's filters (small: materialised and ordinary
  records), as `(key, item)` pairs in key order;
* G, a virtual run over the segments' remaining indices, which can count how many of its
  elements sort below a key (`rank`) and produce elements from a position (`refs`).

R's element i sits at merged position ``i + G.rank(key_i)``; G's elements fill the other
positions in order. One page therefore costs O(|R|·log n + limit), never O(n).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from simulators.fortnox.company import SALES_ACCOUNT_BY_VAT
from simulators.numbers import ean_check_digit, luhn_digit

MASK64 = (1 << 64) - 1
NUMBER_WIDTH = 8  # digits after the prefix (at least): string order = numeric order
Key = tuple  # natural sort key, as simulators.fortnox.values.natural_key builds it
ZERO = Decimal(0)

ADJECTIVES = (
    "Robust",
    "Klassisk",
    "Lätt",
    "Kompakt",
    "Mjuk",
    "Stilren",
    "Hållbar",
    "Praktisk",
    "Elegant",
    "Nordisk",
    "Smidig",
    "Tålig",
    "Varm",
    "Sval",
    "Enkel",
    "Exklusiv",
)
NOUNS = (
    "kaffekopp",
    "tekanna",
    "skärbräda",
    "ullfilt",
    "kudde",
    "vas",
    "ljusstake",
    "handduk",
    "förkläde",
    "skål",
    "tallrik",
    "glas",
    "lampa",
    "korg",
    "pläd",
    "matta",
    "ryggsäck",
    "termos",
    "kastrull",
    "stekpanna",
    "kniv",
    "sax",
    "mugg",
    "duk",
)
COLOURS = ("svart", "vit", "grå", "blå", "grön", "röd", "beige", "gul", "rosa", "brun")
MANUFACTURERS = (
    ("Nordvik", "NV"),
    ("Fjällbo", "FB"),
    ("Skärgårdens", "SK"),
    ("Lindqvist & Co", "LQ"),
    ("Björkhem", "BH"),
    ("Sundström", "SU"),
    ("Ekdal Design", "ED"),
    ("Vättern Verkstad", "VV"),
    ("Hallands Hem", "HH"),
    ("Kiruna Kvalitet", "KK"),
    ("Gotlands Ull", "GU"),
    ("Dala Form", "DF"),
)
GROSS_PRICES = (29, 49, 79, 99, 129, 149, 199, 249, 299, 349, 399, 499, 599, 799, 999, 1299, 1499, 1999, 2499)

FIRST_NAMES = (
    "Anna",
    "Erik",
    "Maria",
    "Lars",
    "Karin",
    "Anders",
    "Eva",
    "Johan",
    "Sara",
    "Per",
    "Lena",
    "Mikael",
    "Emma",
    "Karl",
    "Ingrid",
    "Olof",
    "Elin",
    "Nils",
    "Frida",
    "Gustav",
    "Astrid",
    "Oskar",
)
LAST_NAMES = (
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Lindberg",
    "Berg",
    "Holm",
    "Sandberg",
    "Forsberg",
)
COMPANY_WORDS = (
    "Norrlands",
    "Västkust",
    "Mälardalens",
    "Skånska",
    "Fjäll",
    "Sjöstads",
    "Gröna",
    "Östra",
    "Solvik",
    "Björk",
    "Granit",
    "Kungs",
)
COMPANY_KINDS = ("Kontor", "Bygg", "Trädgård", "Café", "Design", "Konsult", "Hotell", "Handel", "Städ", "Foto")
STREETS = (
    "Storgatan",
    "Kungsgatan",
    "Drottninggatan",
    "Vasagatan",
    "Södra vägen",
    "Skolgatan",
    "Kyrkogatan",
    "Järnvägsgatan",
    "Parkvägen",
    "Strandvägen",
    "Hamngatan",
    "Nygatan",
)
CITIES = (
    ("Stockholm", "111"),
    ("Göteborg", "411"),
    ("Malmö", "211"),
    ("Uppsala", "753"),
    ("Västerås", "722"),
    ("Örebro", "702"),
    ("Linköping", "582"),
    ("Umeå", "903"),
    ("Luleå", "972"),
    ("Visby", "621"),
    ("Jönköping", "553"),
    ("Lund", "222"),
)


def mix64(value: int) -> int:
    """SplitMix64's finaliser: a well-spread 64-bit hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


def _ore_to_number(ore: int) -> float | int:
    return ore // 100 if ore % 100 == 0 else ore / 100


@dataclass
class Segment:
    """`count` generated articles numbered prefix + zero-padded (start .. start + count - 1)."""

    prefix: str
    start: int
    count: int
    seed: int
    stock_point: str
    modified: datetime  # every generated article's (and price's) change time: the seeding moment
    width: int = NUMBER_WIDTH
    excluded: list[int] = field(default_factory=list)  # materialised indices, sorted
    excluded_set: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.count < 1 or self.start < 0:
            raise ValueError("a generated catalogue needs count >= 1 and start >= 0")
        # A key must grow with the index: an all-digit prefix gives numeric keys, a prefix
        # that starts with a letter gives text keys; anything else ("-", "1E", " ") could not.
        if not (self.prefix == "" or self.prefix.isdigit() or self.prefix[0].isalpha()):
            raise ValueError(f"prefix {self.prefix!r} must be empty, all digits or start with a letter")
        self.width = max(self.width, len(str(self.start + self.count - 1)))
        self._numeric = self.prefix == "" or self.prefix.isdigit()
        self._lower_prefix = self.prefix.lower()

    # -- numbering and keys ------------------------------------------------------------------
    def number(self, index: int) -> str:
        return f"{self.prefix}{self.start + index:0{self.width}d}"

    def index_of(self, article_number: str) -> int | None:
        """The index of a generated article number (materialised or not), else None."""
        if not article_number.startswith(self.prefix):
            return None
        digits = article_number[len(self.prefix) :]
        if len(digits) != self.width or not digits.isascii() or not digits.isdigit():
            return None
        index = int(digits) - self.start
        return index if 0 <= index < self.count else None

    def key(self, index: int) -> Key:
        """natural_key(self.number(index)), computed without parsing."""
        if self._numeric:
            return (0, Decimal(int(self.prefix + str(self.start + index).zfill(self.width))), "")
        return (1, ZERO, f"{self._lower_prefix}{self.start + index:0{self.width}d}")

    def lower_bound(self, key: Key) -> int:
        """How many of the segment's indices (materialised or not) have a key below `key`."""
        lo, hi = 0, self.count
        if key <= self.key(0):
            return 0
        if key > self.key(self.count - 1):
            return self.count
        while lo < hi:
            mid = (lo + hi) // 2
            if self.key(mid) < key:
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
        """The index of the `position`-th (0-based) index that is not materialised."""
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

    # -- content ----------------------------------------------------------------------------------
    def _hash(self, index: int) -> int:
        return mix64((self.seed * 0x100000001B3) ^ (self.start + index))

    def stock(self, index: int) -> tuple[int, int]:
        """(in stock, reserved) at the segment's stock point."""
        h = self._hash(index)
        in_stock = 0 if h % 10 == 0 else (h >> 8) % 250
        reserved = min(in_stock, (h >> 20) % 6) if (h >> 28) % 3 == 0 else 0
        return in_stock, reserved

    def sales_price_ore(self, index: int) -> tuple[int, int]:
        """(sales price excluding VAT in öre, VAT rate): a round gross price, net rounded half up."""
        h = self._hash(index)
        bucket = (h >> 36) % 100
        vat = 25 if bucket < 82 else (12 if bucket < 93 else 6)
        gross_ore = GROSS_PRICES[(h >> 40) % len(GROSS_PRICES)] * 100
        return (gross_ore * 100 * 2 + (100 + vat)) // (2 * (100 + vat)), vat

    def _description(self, h: int, serial: int) -> str:
        return (
            f"{ADJECTIVES[(h >> 12) % len(ADJECTIVES)]} {NOUNS[(h >> 16) % len(NOUNS)]}, "
            f"{COLOURS[(h >> 24) % len(COLOURS)]} {serial}"
        )

    @staticmethod
    def _ean(serial: int) -> str:
        body = f"739{serial % 10**9:09d}"
        return body + ean_check_digit(body)

    def text(self, index: int, name: str) -> str:
        """One searchable text field of article `index` (what a search parameter matches)."""
        if name == "ArticleNumber":
            return self.number(index)
        h, serial = self._hash(index), self.start + index
        if name == "Description":
            return self._description(h, serial)
        if name == "EAN":
            return self._ean(serial)
        manufacturer, code = MANUFACTURERS[(h >> 4) % len(MANUFACTURERS)]
        if name == "Manufacturer":
            return manufacturer
        if name == "ManufacturerArticleNumber":
            return f"{code}-{(h >> 32) % 100000:05d}"
        value = self.article(index).get(name)
        return "" if value is None else str(value)

    def article(self, index: int) -> dict[str, Any]:
        """Article `index` with the same fields a stored article has."""
        h = self._hash(index)
        serial = self.start + index
        number_ = self.number(index)
        manufacturer, code = MANUFACTURERS[(h >> 4) % len(MANUFACTURERS)]
        description = self._description(h, serial)
        price_ore, vat = self.sales_price_ore(index)
        purchase_ore = price_ore * (45 + (h >> 44) % 20) // 100
        in_stock, reserved = self.stock(index)
        return {
            "Active": True,
            "ArticleNumber": number_,
            "Bulky": False,
            "DefaultStockPoint": self.stock_point,
            "Depth": 50 + (h >> 48) % 400,
            "Description": description,
            "DisposableQuantity": in_stock - reserved,
            "EAN": self._ean(serial),
            "Expired": False,
            "Height": 20 + (h >> 52) % 300,
            "Housework": False,
            "Manufacturer": manufacturer,
            "ManufacturerArticleNumber": f"{code}-{(h >> 32) % 100000:05d}",
            "Note": "",
            "PurchasePrice": _ore_to_number(purchase_ore),
            "QuantityInStock": in_stock,
            "ReservedQuantity": reserved,
            "SalesAccount": SALES_ACCOUNT_BY_VAT[vat],
            "SalesPrice": _ore_to_number(price_ore),
            "StockGoods": True,
            "StockPlace": "",
            "StockValue": _ore_to_number(purchase_ore * in_stock),
            "StockWarning": 0,
            "SupplierName": "",
            "SupplierNumber": "",
            "Type": "STOCK",
            "Unit": "st",
            "VAT": vat,
            "WebshopArticle": True,
            "Weight": 50 + (h >> 56) * 20,
            "Width": 30 + (h >> 40) % 500,
        }


class Run(Protocol):
    """A virtual sorted sequence merged with stored records."""

    count: int

    def rank(self, key: Key) -> int: ...

    def refs(self, position: int) -> Iterator[tuple[Segment, int]]: ...


class SegmentsRun:
    """The remaining (not materialised) indices of some segments, in key order.

    Segments never overlap in key space (checked when seeding), so the run is their
    concatenation in key order.
    """

    def __init__(self, segments: Sequence[Segment]) -> None:
        self.segments = sorted((s for s in segments if s.remaining), key=lambda s: s.key(0))
        self.count = sum(s.remaining for s in self.segments)

    def rank(self, key: Key) -> int:
        total = 0
        for segment in self.segments:
            below = segment.lower_bound(key)
            total += below - bisect.bisect_left(segment.excluded, below)
        return total

    def refs(self, position: int) -> Iterator[tuple[Segment, int]]:
        for segment in self.segments:
            if position >= segment.remaining:
                position -= segment.remaining
                continue
            for index in segment.remaining_from(position):
                yield segment, index
            position = 0


class RefListRun:
    """An explicit, key-ordered list of (segment, index): the generated part after a search."""

    def __init__(self, refs: list[tuple[Segment, int]]) -> None:
        self._refs = refs
        self._keys = [segment.key(index) for segment, index in refs]
        self.count = len(refs)

    def rank(self, key: Key) -> int:
        return bisect.bisect_left(self._keys, key)

    def refs(self, position: int) -> Iterator[tuple[Segment, int]]:
        return iter(self._refs[position:])


def merge_window(
    stored: Sequence[tuple[Key, Any]], run: Run, start: int, stop: int, make: Callable[[Segment, int], Any]
) -> list[Any]:
    """Merged positions [start, stop) of `stored` (sorted (key, item) pairs) and `run`."""
    total = len(stored) + run.count
    stop = min(stop, total)
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


def window_positions(total: int, start: int, count: int, descending: bool) -> tuple[int, int]:
    """The ascending positions [a, b) holding page positions [start, start + count)."""
    if not descending:
        return start, start + count
    return max(total - start - count, 0), max(total - start, 0)


# -- generated customers ---------------------------------------------------------------------------


def generated_customer(serial: int, seed: int, companies_share: float) -> dict[str, Any]:
    """Customer fields (without CustomerNumber) for the `serial`-th generated customer."""
    h = mix64((seed * 0x2545F4914F6CDD1D) ^ serial)
    company = (h % 10_000) < companies_share * 10_000
    street = f"{STREETS[(h >> 8) % len(STREETS)]} {1 + (h >> 12) % 120}"
    city, zip_head = CITIES[(h >> 20) % len(CITIES)]
    zip_code = f"{zip_head} {(h >> 24) % 100:02d}"
    phone = f"07{(h >> 28) % 10}-{(h >> 32) % 1000:03d} {(h >> 42) % 100:02d} {(h >> 50) % 100:02d}"
    fields: dict[str, Any] = {
        "Address1": street,
        "Address2": "",
        "ZipCode": zip_code,
        "City": city,
        "CountryCode": "SE",
        "Country": "Sverige",
        "Phone1": phone,
        "Active": (h >> 60) % 16 != 0,  # about 6 % inactive
    }
    if company:
        name = (
            f"{COMPANY_WORDS[(h >> 4) % len(COMPANY_WORDS)]} {COMPANY_KINDS[(h >> 36) % len(COMPANY_KINDS)]} "
            f"AB {serial}"
        )
        body = f"55{(h >> 16) % 10_000_000:07d}"
        organisation_number = f"{body[:6]}-{body[6:]}{luhn_digit(body)}"
        slug = name.split()[0].lower().translate(str.maketrans("åäö", "aao"))
        fields.update(
            {
                "Name": name,
                "Type": "COMPANY",
                "OrganisationNumber": organisation_number,
                "VATNumber": f"SE{organisation_number.replace('-', '')}01",
                "Email": f"faktura{serial}@{slug}.example.se",
                "EmailInvoice": f"faktura{serial}@{slug}.example.se",
                "Phone2": f"0{(h >> 40) % 90 + 10}-{serial % 1000000:06d}",
            }
        )
        if (h >> 56) % 3 == 0:  # a separate delivery address (a warehouse or a branch)
            delivery_city, delivery_zip = CITIES[(h >> 44) % len(CITIES)]
            fields.update(
                {
                    "DeliveryName": name,
                    "DeliveryAddress1": f"Lagervägen {1 + (h >> 46) % 40}",
                    "DeliveryZipCode": f"{delivery_zip} {(h >> 52) % 100:02d}",
                    "DeliveryCity": delivery_city,
                    "DeliveryCountry": "Sverige",
                    "DeliveryCountryCode": "SE",
                }
            )
    else:
        first, last = FIRST_NAMES[(h >> 4) % len(FIRST_NAMES)], LAST_NAMES[(h >> 36) % len(LAST_NAMES)]
        name = f"{first} {last}"
        local = f"{first}.{last}{serial}".lower().translate(str.maketrans("åäöé", "aaoe"))
        fields.update({"Name": name, "Type": "PRIVATE", "Email": f"{local}@example.se", "Phone2": ""})
    return fields
