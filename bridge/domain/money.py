"""Amounts in a currency's smallest unit, as card processors and POS APIs count them.

Most currencies have 2 decimals, but JPY or KRW have none and KWD or BHD have three (ISO 4217).
A Wix amount with more precision than its currency allows is refused rather than rounded: money
that silently changes is worse than an order that asks for a look.
"""
from __future__ import annotations

from decimal import Decimal

ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
                          "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"})
THREE_DECIMAL = frozenset({"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"})
FOUR_DECIMAL = frozenset({"CLF", "UYW"})


class AmountError(ValueError):
    pass


def decimals(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    if code in FOUR_DECIMAL:
        return 4
    return 2


def minor_units(amount: Decimal, currency: str) -> int:
    """14.00 USD -> 1400; 1500 JPY -> 1500; 1.250 KWD -> 1250."""
    scaled = amount.scaleb(decimals(currency))
    if scaled != scaled.to_integral_value():
        raise AmountError(f"{amount} {currency} has more decimals than {currency} allows")
    return int(scaled)


def from_minor_units(amount: int, currency: str) -> Decimal:
    """1400 USD -> 14.00; 1500 JPY -> 1500."""
    return Decimal(amount).scaleb(-decimals(currency))
