"""Amounts in minor units, currency by currency."""
from decimal import Decimal

import pytest

from bridge.domain.money import AmountError, minor_units


@pytest.mark.parametrize("amount, currency, units", [
    ("14.00", "USD", 1400), ("0.5", "EUR", 50), ("1500", "JPY", 1500), ("1500.00", "JPY", 1500),
    ("32000", "KRW", 32000), ("1.250", "KWD", 1250), ("3", "BHD", 3000), ("0", "USD", 0),
])
def test_amounts_become_whole_minor_units(amount, currency, units):
    assert minor_units(Decimal(amount), currency) == units


@pytest.mark.parametrize("amount, currency", [("14.005", "USD"), ("1500.5", "JPY"),
                                              ("1.2345", "KWD")])
def test_more_precision_than_the_currency_allows_is_refused(amount, currency):
    with pytest.raises(AmountError, match=currency):
        minor_units(Decimal(amount), currency)
