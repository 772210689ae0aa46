"""Check digits the simulators' generated numbers carry."""

from __future__ import annotations


def luhn_digit(digits: str) -> str:
    """The Luhn (mod 10) check digit Swedish OCR and organisation numbers end with."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char) * (2 if index % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return str((10 - total % 10) % 10)


def ean_check_digit(first12: str) -> str:
    """The GTIN-13 (EAN) check digit of 12 digits."""
    total = sum(map(int, first12[0::2])) + 3 * sum(map(int, first12[1::2]))
    return str((10 - total % 10) % 10)
