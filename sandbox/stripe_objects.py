"""
Render stored Stripe sandbox objects as Stripe's API returns them.

The default shape is the current one (API 2026-08-26). A request pinned to
an older `Stripe-Version` gets the fields that version had:
`subscription.current_period_start`/`_end` and `invoice.paid`,
`paid_out_of_band`, `total_tax_amounts` before 2025-03-31, and
`product.features` before 2024-04-10 (later `marketing_features`).
"""

import orjson

from sandbox.stripe_store import (
    MARKETING_FEATURES_SINCE,
    PERIODS_ON_ITEMS_SINCE,
    Customer,
    Invoice,
    Subscription,
    version_before,
)

EMPTY_ADDRESS_KEYS = ("city", "country", "line1", "line2", "postal_code", "state")
STATEMENT_DESCRIPTOR_MAX_LENGTH = 22
# Characters Stripe rejects in a statement descriptor.
STATEMENT_DESCRIPTOR_FORBIDDEN = str.maketrans("", "", "<>\\'\"*")


def render_address(address):
    if address is None:
        return None
    return {key: address.get(key) for key in EMPTY_ADDRESS_KEYS}


def render_customer(account, customer: Customer, api_version, expand=()):
    rendered = {
        "id": customer.id,
        "object": "customer",
        "address": render_address(customer.address),
        "balance": customer.balance,
        "created": customer.created,
        "currency": customer.currency,
        "default_source": None,
        "delinquent": customer.delinquent,
        "description": customer.description,
        "discount": None,
        "email": customer.email,
        "invoice_prefix": customer.invoice_prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": dict(customer.metadata or {}),
        "name": customer.name,
        "next_invoice_sequence": len(account.invoices_by_customer.get(customer.id, ())) + 1,
        "phone": customer.phone,
        "preferred_locales": list(customer.preferred_locales or []),
        "shipping": None,
        "tax_exempt": customer.tax_exempt,
        "test_clock": None,
    }
    if "subscriptions" in expand:
        subscriptions = [
            render_subscription(account, account.subscriptions.get(subscription_id), api_version)
            for subscription_id in reversed(account.subscriptions_by_customer.get(customer.id, ()))
            if subscription_id in account.subscriptions
            and account.subscriptions.get(subscription_id).status not in ("canceled", "incomplete_expired")
        ]
        rendered["subscriptions"] = {
            "object": "list",
            "data": subscriptions,
            "has_more": False,
            "total_count": len(subscriptions),
            "url": f"/v1/customers/{customer.id}/subscriptions",
        }
    return rendered


def render_deleted_customer(customer_id):
    return {"id": customer_id, "object": "customer", "deleted": True}


def render_price(price, api_version):
    return {
        "id": price["id"],
        "object": "price",
        "active": price["active"],
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": price["lookup_key"],
        "metadata": dict(price["metadata"]),
        "nickname": price["nickname"],
        "product": price["product"],
        "recurring": {
            "interval": price["interval"],
            "interval_count": 1,
            "meter": None,
            "usage_type": "licensed",
            "trial_period_days": None,
        },
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "recurring",
        "unit_amount": price["unit_amount"],
        "unit_amount_decimal": str(price["unit_amount"]),
    }


def render_plan(price):
    """Render a price as the legacy `plan` object that subscription items still carry."""
    return {
        "id": price["id"],
        "object": "plan",
        "active": price["active"],
        "amount": price["unit_amount"],
        "amount_decimal": str(price["unit_amount"]),
        "billing_scheme": "per_unit",
        "created": price["created"],
        "currency": price["currency"],
        "interval": price["interval"],
        "interval_count": 1,
        "livemode": False,
        "metadata": dict(price["metadata"]),
        "meter": None,
        "nickname": price["nickname"],
        "product": price["product"],
        "tiers_mode": None,
        "transform_usage": None,
        "trial_period_days": None,
        "usage_type": "licensed",
    }


def render_product(product, api_version):
    rendered = {
        "id": product["id"],
        "object": "product",
        "active": product["active"],
        "created": product["created"],
        "default_price": product["default_price"],
        "description": product["description"],
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": dict(product["metadata"]),
        "name": product["name"],
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "unit_label": None,
        "updated": product["updated"],
        "url": None,
        "type": "service",
    }
    if version_before(api_version, MARKETING_FEATURES_SINCE):
        rendered["features"] = rendered.pop("marketing_features")
    return rendered


def render_subscription(account, subscription: Subscription, api_version):
    price = account.prices.get(subscription.price)
    item = {
        "id": subscription.item_id,
        "object": "subscription_item",
        "billing_thresholds": None,
        "created": subscription.created,
        "current_period_end": subscription.current_period_end,
        "current_period_start": subscription.current_period_start,
        "discounts": [],
        "metadata": {},
        "plan": render_plan(price),
        "price": render_price(price, api_version),
        "quantity": subscription.quantity,
        "subscription": subscription.id,
        "tax_rates": [],
    }
    rendered = {
        "id": subscription.id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"enabled": False, "liability": None, "disabled_reason": None},
        "billing_cycle_anchor": subscription.created,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "classic"},
        "billing_schedules": [],
        "billing_thresholds": None,
        "cancel_at": subscription.current_period_end if subscription.cancel_at_period_end else None,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "canceled_at": subscription.canceled_at,
        "cancellation_details": {
            "comment": None,
            "feedback": None,
            "reason": "cancellation_requested" if subscription.canceled_at else None,
        },
        "collection_method": "charge_automatically",
        "created": subscription.created,
        "currency": price["currency"],
        "customer": subscription.customer,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "ended_at": subscription.ended_at,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [item],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/subscription_items?subscription={subscription.id}",
        },
        "latest_invoice": subscription.latest_invoice,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": dict(subscription.metadata or {}),
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {
            "payment_method_options": None,
            "payment_method_types": None,
            "save_default_payment_method": "off",
        },
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "schedule": None,
        "start_date": subscription.created,
        "status": subscription.status,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": subscription.trial_end,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": subscription.trial_start,
    }
    if version_before(api_version, PERIODS_ON_ITEMS_SINCE):
        rendered["current_period_start"] = subscription.current_period_start
        rendered["current_period_end"] = subscription.current_period_end
    return rendered


def render_invoice(account, invoice: Invoice, api_version):
    price = account.prices.get(invoice.price)
    product = account.products.get(price["product"]) if price else None
    paid = invoice.status == "paid"
    finalized = invoice.status != "draft"
    legacy = version_before(api_version, PERIODS_ON_ITEMS_SINCE)
    line = {
        "id": invoice.line_id,
        "object": "line_item",
        "amount": invoice.total,
        "currency": invoice.currency,
        "description": f"{invoice.quantity} × {product['name'] if product else 'Subscription'} "
        f"(at {price['unit_amount'] / 100:.2f} {invoice.currency.upper()} / {price['interval']})",
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": invoice.id,
        "livemode": False,
        "metadata": {},
        "parent": {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": False,
                "proration_details": {"credited_items": None},
                "subscription": invoice.subscription,
                "subscription_item": None,
            },
            "type": "subscription_item_details",
        },
        "period": {"end": invoice.period_end, "start": invoice.period_start},
        "pretax_credit_amounts": [],
        "pricing": {
            "price_details": {"price": invoice.price, "product": price["product"] if price else None},
            "type": "price_details",
            "unit_amount_decimal": str(price["unit_amount"]) if price else None,
        },
        "quantity": invoice.quantity,
        "quantity_decimal": str(invoice.quantity),
        "subscription": invoice.subscription,
        "subtotal": invoice.total,
        "taxes": [],
    }
    if legacy:
        line.update(
            {
                "proration": False,
                "type": "subscription",
                "price": render_price(price, api_version),
                "plan": render_plan(price),
                "amount_excluding_tax": invoice.total,
                "tax_amounts": [],
                "tax_rates": [],
            }
        )
        for new_field in ("parent", "pricing", "pretax_credit_amounts", "taxes", "quantity_decimal", "subtotal"):
            line.pop(new_field)
    rendered = {
        "id": invoice.id,
        "object": "invoice",
        "account_country": "US",
        "account_name": account.name,
        "account_tax_ids": None,
        "amount_due": invoice.total,
        "amount_overpaid": 0,
        "amount_paid": invoice.total if paid else 0,
        "amount_remaining": 0 if paid else invoice.total,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 1 if finalized else 0,
        "attempted": finalized,
        "auto_advance": invoice.status in ("draft", "open"),
        "automatic_tax": {"enabled": False, "liability": None, "status": None, "disabled_reason": None, "provider": None},
        "automatically_finalizes_at": None,
        "billing_reason": invoice.billing_reason,
        "collection_method": "charge_automatically",
        "created": invoice.created,
        "currency": invoice.currency,
        "custom_fields": None,
        "customer": invoice.customer,
        "customer_account": None,
        "customer_address": None,
        "customer_email": invoice.customer_email,
        "customer_name": invoice.customer_name,
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": [],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": invoice.created if finalized else None,
        "ending_balance": 0 if finalized else None,
        "footer": None,
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": [line],
            "has_more": False,
            "total_count": 1,
            "url": f"/v1/invoices/{invoice.id}/lines",
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": invoice.created + 3 * 86400 if invoice.status == "open" else None,
        "number": invoice.number if finalized else None,
        "on_behalf_of": None,
        "parent": {
            "quote_details": None,
            "subscription_details": {"metadata": {}, "subscription": invoice.subscription},
            "type": "subscription_details",
        },
        "payment_settings": {"default_mandate": None, "payment_method_options": None, "payment_method_types": None},
        "period_end": invoice.period_end,
        "period_start": invoice.period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": 0,
        "statement_descriptor": None,
        "status": invoice.status,
        "status_transitions": {
            "finalized_at": invoice.created if finalized else None,
            "marked_uncollectible_at": invoice.created + 30 * 86400 if invoice.status == "uncollectible" else None,
            "paid_at": invoice.paid_at,
            "voided_at": None,
        },
        "subscription": invoice.subscription,
        "subtotal": invoice.total,
        "subtotal_excluding_tax": invoice.total,
        "test_clock": None,
        "total": invoice.total,
        "total_discount_amounts": [],
        "total_excluding_tax": invoice.total,
        "total_pretax_credit_amounts": [],
        "total_taxes": [],
        "webhooks_delivered_at": invoice.created,
    }
    if legacy:
        rendered["paid"] = paid
        rendered["paid_out_of_band"] = False
        rendered["total_tax_amounts"] = rendered.pop("total_taxes")
        rendered["tax"] = None
    return rendered


def render_object(account, kind, obj, api_version):
    """Render a stored object of any kind that events carry."""
    if kind == "customer":
        return render_customer(account, obj, api_version)
    if kind == "subscription":
        return render_subscription(account, obj, api_version)
    if kind == "invoice":
        return render_invoice(account, obj, api_version)
    if kind == "price":
        return render_price(obj, api_version)
    if kind == "product":
        return render_product(obj, api_version)
    raise ValueError(f"Unknown Stripe object kind {kind!r}.")


def render_event(account, event, api_version):
    """
    Render an event with its object as it was when the event happened.

    NOTE: Stripe renders an event's object in the API version that was the
    account's default when the event was created. The sandbox renders it in
    the version of the request instead, so a client pinned to one version
    always reads one shape.
    """
    data = {"object": render_object(account, event.kind, event.snapshot, api_version)}
    if event.previous_attributes is not None:
        data["previous_attributes"] = event.previous_attributes
    return {
        "id": event.id,
        "object": "event",
        "api_version": account.api_version,
        "created": event.created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": event.request_id, "idempotency_key": event.idempotency_key},
        "type": event.type,
    }


def render_account(account, api_version):
    return {
        "id": account.account_id,
        "object": "account",
        "business_profile": {
            "annual_revenue": None,
            "estimated_worker_count": None,
            "mcc": None,
            "minority_owned_business_designation": None,
            "name": account.name,
            "product_description": None,
            "support_address": None,
            "support_email": account.email,
            "support_phone": None,
            "support_url": None,
            "url": None,
        },
        "business_type": "company",
        "capabilities": {"card_payments": "active", "transfers": "active"},
        "charges_enabled": True,
        "controller": {"type": "account"},
        "country": "US",
        "created": account.created,
        "default_currency": "usd",
        "details_submitted": True,
        "email": account.email,
        "external_accounts": {
            "object": "list",
            "data": [],
            "has_more": False,
            "total_count": 0,
            "url": f"/v1/accounts/{account.account_id}/external_accounts",
        },
        "future_requirements": None,
        "metadata": {},
        "payouts_enabled": True,
        "requirements": None,
        "settings": render_account_settings(account),
        "tos_acceptance": {"date": account.created, "ip": None, "user_agent": None},
        "type": "standard",
    }



def statement_descriptor(name):
    """Build the card statement text Stripe derives from a business name: upper case, at most 22 characters."""
    return name.translate(STATEMENT_DESCRIPTOR_FORBIDDEN).upper()[:STATEMENT_DESCRIPTOR_MAX_LENGTH].strip()


def render_account_settings(account):
    """Render the settings of a standard test-mode account that has set only its name, with Stripe's defaults."""
    return {
        "bacs_debit_payments": {"display_name": None, "service_user_number": None},
        "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
        "card_issuing": {"tos_acceptance": {"date": None, "ip": None}},
        "card_payments": {
            "decline_on": {"avs_failure": True, "cvc_failure": True},
            "statement_descriptor_prefix": None,
            "statement_descriptor_prefix_kana": None,
            "statement_descriptor_prefix_kanji": None,
        },
        "dashboard": {"display_name": account.name, "timezone": "Etc/UTC"},
        "invoices": {"default_account_tax_ids": None, "hosted_payment_method_save": None},
        "payments": {
            "statement_descriptor": statement_descriptor(account.name),
            "statement_descriptor_kana": None,
            "statement_descriptor_kanji": None,
            "statement_descriptor_prefix_kana": None,
            "statement_descriptor_prefix_kanji": None,
        },
        "payouts": {
            "debit_negative_balances": True,
            "schedule": {"delay_days": 2, "interval": "daily"},
            "statement_descriptor": None,
        },
        "sepa_debit_payments": {},
    }


def cached_render(account, obj, api_version, render):
    """
    Return a customer, subscription or invoice as a list page shows it, as encoded JSON.

    The JSON is kept in the account's render cache until the account
    changes. The list renders of these objects differ only before and after
    PERIODS_ON_ITEMS_SINCE, so one entry serves every API version on the
    same side of it.
    """
    key = (obj.id, version_before(api_version, PERIODS_ON_ITEMS_SINCE))
    encoded = account.rendered.get(key)
    if encoded is None:
        encoded = account.rendered[key] = orjson.Fragment(orjson.dumps(render(account, obj, api_version)))
    return encoded


def prerender(account, api_version=None):
    """
    Render every customer, subscription and invoice of the account into its render cache.

    The benchmark calls this after seeding, so that building JSON for a
    full read's list pages, which a real Stripe serves from its own
    servers, doesn't count against the client that waits for them.
    """
    api_version = api_version or account.api_version
    with account.lock:
        for collection, render in (
            (account.customers, render_customer),
            (account.subscriptions, render_subscription),
            (account.invoices, render_invoice),
        ):
            for obj in collection.values():
                cached_render(account, obj, api_version, render)
