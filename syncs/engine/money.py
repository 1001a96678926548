"""
Turn amounts in a currency's minor unit into decimal amounts.

Rules:

- A money value is {"amount": ..., "currency": "usd"}. An int, float or
  string amount is in the currency's minor unit, as Stripe sends it
  (`amount`, and `unit_amount_decimal` as a string). A Decimal amount is
  already in major units: that is the engine's converted form.
- The exponent of a currency is 2 unless it is listed below. The lists are
  Stripe's zero-decimal and three-decimal currencies, from
  https://docs.stripe.com/currencies. Stripe takes ISK, HUF and TWD amounts
  with two decimals for backwards compatibility, so they keep exponent 2.
- Currency codes are three letters, stored lower case as Stripe sends them.
"""

from decimal import Decimal, InvalidOperation

ZERO_DECIMAL_CURRENCIES = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)
THREE_DECIMAL_CURRENCIES = frozenset("bhd jod kwd omr tnd".split())


class MoneyParseError(ValueError):
    """A value that is not a money amount. The message gives the reason."""


def currency_exponent(currency):
    """Return the number of decimal places of a currency's major unit."""
    code = currency.lower()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def normalize_currency(currency):
    """Return a three-letter currency code in lower case, or raise MoneyParseError."""
    if not isinstance(currency, str) or len(currency.strip()) != 3 or not currency.strip().isalpha():
        raise MoneyParseError(f"{currency!r} is not a three-letter currency code")
    return currency.strip().lower()


def parse_money(value):
    """Return (amount as Decimal in major units, currency) of a money value, or raise MoneyParseError."""
    if not isinstance(value, dict) or "amount" not in value or "currency" not in value:
        raise MoneyParseError('a money value is {"amount": ..., "currency": "usd"}')

    currency = normalize_currency(value["currency"])
    amount = value["amount"]
    if isinstance(amount, Decimal):
        if not amount.is_finite():
            raise MoneyParseError("the amount is not a finite number")
        return amount, currency
    return from_minor_units(amount, currency), currency


def from_minor_units(amount, currency):
    """Return an amount in minor units (cents) as a Decimal in major units (dollars)."""
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        raise MoneyParseError(f"the amount {amount!r} is not a number")
    try:
        minor = Decimal(str(amount).strip())
    except InvalidOperation:
        raise MoneyParseError(f"the amount {amount!r} is not a number") from None
    if not minor.is_finite():
        raise MoneyParseError(f"the amount {amount!r} is not a finite number")
    return minor.scaleb(-currency_exponent(currency))


def format_money(amount, currency):
    """Format a decimal amount with its currency's decimal places and upper-case code, as in "12.50 USD"."""
    places = Decimal(1).scaleb(-currency_exponent(currency))
    if amount == amount.quantize(places):
        amount = amount.quantize(places)
    return f"{amount:f} {currency.upper()}"
