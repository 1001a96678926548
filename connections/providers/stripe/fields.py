"""
The fields of a Stripe customer, and the form fields of a customer update.

A customer's own fields are read from the customer object and written with
form parameters in Stripe's bracket notation (`address[city]`,
`metadata[plan_tier]`). Metadata keys become fields named `metadata.<key>`.
Derived fields are computed in `billing` and are never written.
"""

from connections.providers.types import FailureCategory, FieldSpec, FieldType

from .billing import SUBSCRIPTION_STATUSES, iso_datetime
from .wire import WireValueError, form_name, form_text

# Metadata limits from https://docs.stripe.com/metadata.
METADATA_KEY_MAX_LENGTH = 40
METADATA_VALUE_MAX_LENGTH = 500
METADATA_PREFIX = "metadata."

ADDRESS_PARTS = {
    "line1": "Address line 1",
    "line2": "Address line 2",
    "city": "City",
    "state": "State or region",
    "postal_code": "Postal code",
    "country": "Country (ISO 3166-1 alpha-2)",
}

OWN_FIELDS = [
    FieldSpec("email", "Email", FieldType.EMAIL, max_length=512),
    FieldSpec("name", "Name", FieldType.STRING, max_length=256),
    FieldSpec("phone", "Phone", FieldType.STRING, max_length=20),
    FieldSpec("description", "Description", FieldType.STRING, max_length=5000),
    *[
        FieldSpec(f"address.{part}", label, FieldType.STRING, max_length=5000)
        for part, label in ADDRESS_PARTS.items()
    ],
    FieldSpec("created", "Created at", FieldType.DATETIME, writable=False),
    FieldSpec(
        "currency",
        "Currency",
        FieldType.STRING,
        writable=False,
        description="The three-letter currency the customer is billed in.",
    ),
    FieldSpec(
        "balance",
        "Balance",
        FieldType.MONEY,
        writable=False,
        description="Credit (negative) or amount owed (positive) applied to the next invoice.",
    ),
    FieldSpec("delinquent", "Delinquent", FieldType.BOOLEAN, writable=False),
]

DERIVED_FIELDS = [
    FieldSpec(
        "subscription_status",
        "Subscription status",
        FieldType.ENUMERATION,
        writable=False,
        derived=True,
        options=SUBSCRIPTION_STATUSES,
        description="Status of the main subscription: the active one first, then trialing, past due, "
        "unpaid, paused, incomplete, canceled, and the newest among equals.",
    ),
    FieldSpec(
        "plan",
        "Plan",
        FieldType.STRING,
        writable=False,
        derived=True,
        description="The main subscription's price nicknames, else product names.",
    ),
    FieldSpec(
        "mrr",
        "MRR",
        FieldType.MONEY,
        writable=False,
        derived=True,
        description="Monthly recurring revenue of active, trialing and past-due subscriptions, before discounts.",
    ),
    FieldSpec(
        "lifetime_revenue",
        "Lifetime revenue",
        FieldType.MONEY,
        writable=False,
        derived=True,
        description="Sum of paid invoices in the customer's currency, before refunds.",
    ),
    FieldSpec(
        "next_renewal_date",
        "Next renewal date",
        FieldType.DATE,
        writable=False,
        derived=True,
        description="End of the main subscription's current period, unless it is set to cancel.",
    ),
    FieldSpec(
        "customer_since",
        "Customer since",
        FieldType.DATE,
        writable=False,
        derived=True,
        description="The date the customer was created in Stripe.",
    ),
]

OWN_FIELDS_BY_NAME = {spec.name: spec for spec in OWN_FIELDS}
DERIVED_FIELDS_BY_NAME = {spec.name: spec for spec in DERIVED_FIELDS}
SUBSCRIPTION_FIELDS = frozenset({"subscription_status", "plan", "mrr", "next_renewal_date"})


class InvalidWriteValue(ValueError):
    """A value that can't be sent to Stripe, found before any request."""

    def __init__(self, message, category=FailureCategory.TYPE_MISMATCH):
        super().__init__(message)
        self.category = category
        self.message = message


def customer_values(customer):
    """Return a customer's own fields as wire values: money as minor units, datetimes as ISO 8601."""
    address = customer.get("address") or {}
    currency = customer.get("currency")
    values = {
        "email": customer.get("email"),
        "name": customer.get("name"),
        "phone": customer.get("phone"),
        "description": customer.get("description"),
        "created": iso_datetime(customer.get("created")),
        "currency": currency,
        "balance": {"amount": customer.get("balance") or 0, "currency": currency} if currency else None,
        "delinquent": customer.get("delinquent"),
    }
    for part in ADDRESS_PARTS:
        values[f"address.{part}"] = address.get(part)
    return values


def customer_form(values):
    """
    Return the form fields of a customer update, or raise InvalidWriteValue.

    Metadata values must be single strings of at most 500 characters, and
    keys at most 40 characters without square brackets. NOTE: an update of
    one address part relies on Stripe keeping the parts not sent.
    """
    form = []
    for name, value in values.items():
        param = form_name(name)
        if name.startswith(METADATA_PREFIX):
            key = name.removeprefix(METADATA_PREFIX)
            if not key or len(key) > METADATA_KEY_MAX_LENGTH or "[" in key or "]" in key:
                raise InvalidWriteValue(
                    f"Stripe metadata keys have 1 to {METADATA_KEY_MAX_LENGTH} characters without square "
                    f"brackets, and {key!r} doesn't fit. Map the field to another key.",
                    FailureCategory.REJECTED_VALUE,
                )
            max_length = METADATA_VALUE_MAX_LENGTH
        else:
            spec = OWN_FIELDS_BY_NAME.get(name) or DERIVED_FIELDS_BY_NAME.get(name)
            if spec is None or not spec.writable:
                raise InvalidWriteValue(
                    f"The Stripe customer field {name!r} can't be written: it is read-only or unknown.",
                    FailureCategory.REJECTED_VALUE,
                )
            max_length = spec.max_length
        try:
            text = form_text(value, param)
        except WireValueError as exc:
            raise InvalidWriteValue(str(exc)) from None
        if max_length and len(text) > max_length:
            raise InvalidWriteValue(
                f"Stripe takes at most {max_length} characters in {param}, and the value has {len(text)}. "
                "Shorten the source value or set the mapping to truncate it."
            )
        form.append((param, text))
    return form
