"""Canonical fields per source kind: their type, whether a row needs them, and header synonyms.

The typed tables in 0001_core.sql are the contract; this registry says how a
file's columns become their columns.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.ingest.events import FLAT_FIELDS


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "text"          # text | email | phone | date | timestamp | money | integer | boolean | json
                                # (pseudo-fields: consent | tags)
    synonyms: tuple[str, ...] = ()
    required: bool = False      # a row without a readable value is quarantined
    strict: bool = False        # a present but unreadable value quarantines the row


def _f(name, type_="text", *synonyms, required=False, strict=False) -> Field:
    return Field(name, type_, tuple(synonyms), required, strict)


PERSON = (
    _f("email", "email", "email address", "e-mail", "mail", "email addr", "contact email",
       "customer email", "courriel"),
    _f("phone", "phone", "phone number", "mobile", "mobile phone", "mobile number", "cell",
       "cell phone", "telephone", "tel", "contact number"),
    _f("first_name", "text", "first name", "firstname", "given name", "forename", "fname"),
    _f("last_name", "text", "last name", "lastname", "surname", "family name", "lname"),
    _f("address_line1", "text", "address", "address line 1", "address1", "street",
       "street address", "addr1", "address 1"),
    _f("address_line2", "text", "address line 2", "address2", "addr2", "address 2", "apartment",
       "suite"),
    _f("city", "text", "city", "town", "locality"),
    _f("postcode", "text", "postcode", "post code", "postal code", "zip", "zip code", "zipcode",
       "zip postal code"),
    _f("state", "text", "state", "region", "province", "county", "state province", "state region",
       "province code"),
    _f("country", "text", "country", "country code", "nation", "country region"),
    _f("date_of_birth", "date", "date of birth", "dob", "birth date", "birthdate", "birthday"),
    _f("customer_id", "text", "customer id", "customer number", "customer no", "client id",
       "cust id", "account id", "customer ref"),
    _f("user_id", "text", "user id", "userid", "uid", "member id", "login id"),
    _f("anonymous_id", "text", "anonymous id", "anon id", "cookie id", "device id", "visitor id"),
)
IDENTIFIERS = ("email", "phone", "customer_id", "user_id", "anonymous_id")

KIND_FIELDS: dict[str, tuple[Field, ...]] = {
    "contacts": PERSON + (
        _f("lead_stage", "text", "lead stage", "stage", "lifecycle stage", "lead status",
           "deal stage", "pipeline stage"),
        _f("owner", "text", "owner", "contact owner", "account owner", "sales rep", "assigned to",
           "lead owner", "record owner"),
        _f("deal_value", "money", "deal value", "deal amount", "opportunity value", "deal size"),
        _f("created_at", "timestamp", "created at", "created", "create date", "created date",
           "date created", "signup date", "signed up"),
        _f("updated_at", "timestamp", "updated at", "updated", "last modified", "modified",
           "modified date", "last updated", "last activity"),
    ),
    "orders": (
        # (Shopify's orders export calls the order number "Name": #1001)
        _f("order_id", "text", "order id", "order number", "order no", "order ref",
           "transaction id", "receipt number", "receipt no", "invoice number", "order", "order name",
           "name"),
        _f("ordered_at", "timestamp", "ordered at", "order date", "purchase date",
           "transaction date", "date", "sale date", "purchased at", "created at", "created date",
           "created date utc", "created utc", "order created", required=True),
        # A till export often splits the moment into a date column and a time column.
        _f("order_time", "text", "order time", "time", "purchase time", "sale time", "time of sale"),
        _f("amount", "money", "amount", "total", "order total", "grand total", "revenue",
           "total amount", "order value", "sale amount", "total price", required=True),
        _f("currency", "text", "currency", "currency code", "ccy"),
        # Payment status in the tool's words (Stripe "Status", Shopify "Financial Status", a
        # billing file's "status"); ingest stores it normalised (migration 0015, engine/revenue.py).
        _f("status", "text", "status", "order status", "payment status", "financial status",
           "transaction status", "charge status", "payment state"),
        _f("amount_refunded", "money", "amount refunded", "refunded amount", "refund amount",
           "total refunded", "refunded total", "refunds"),
        _f("quantity", "integer", "quantity", "qty", "units", "item count", "number of items"),
        _f("items", "json", "items", "line items", "products"),
        # One row per line item (a Shopify-style export): rows sharing an order id become one
        # order whose items list holds them.
        _f("sku", "text", "sku", "lineitem sku", "item sku", "product sku", "product code"),
        _f("product_name", "text", "product name", "lineitem name", "item name", "item", "product title"),
        _f("category", "text", "category", "product category", "product type"),
        _f("item_price", "money", "item price", "lineitem price", "unit price", "line price"),
        _f("item_quantity", "integer", "item quantity", "lineitem quantity", "line quantity", "item qty"),
        _f("line_total", "money", "line total", "line amount", "lineitem total", "line value",
           "item total", "extended price"),
        _f("store", "text", "store", "store name", "shop", "branch", "location", "store id"),
        _f("channel", "text", "channel", "sales channel"),
    ) + PERSON,
    "subscriptions": (
        _f("subscription_id", "text", "subscription id", "subscription", "sub id",
           "subscription number", "contract id"),
        _f("plan", "text", "plan", "plan name", "tier", "product", "package"),
        _f("status", "text", "status", "subscription status", "state of subscription"),
        _f("started_at", "timestamp", "started at", "start date", "subscribed at", "start",
           "subscription start", "created at", strict=True),
        _f("cancelled_at", "timestamp", "cancelled at", "canceled at", "cancel date",
           "cancellation date", "end date", "ended at", "churned at"),
        _f("amount", "money", "amount", "price", "mrr", "recurring amount", "plan price", strict=True),
        _f("currency", "text", "currency", "currency code", "ccy"),
        _f("billing_interval", "text", "billing interval", "interval", "billing period",
           "billing cycle", "frequency"),
    ) + PERSON,
    "consents": (
        _f("purpose", "text", "purpose", "consent purpose", "consent type", "category", "topic",
           required=True),
        _f("granted", "boolean", "granted", "consent", "consent given", "opted in", "opt in",
           "subscribed", "agreed", required=True),
        _f("recorded_at", "timestamp", "recorded at", "consent date", "date", "timestamp",
           "captured at", "given at"),
        _f("method", "text", "method", "consent method", "collected via", "capture method"),
    ) + tuple(f for f in PERSON if f.name in (
        "email", "phone", "first_name", "last_name", "customer_id", "user_id", "anonymous_id")),
    "events": tuple(
        _f(name, "timestamp" if name in ("timestamp", "sent_at", "received_at") else "text",
           *{"message_id": ("message id", "messageid", "event id"),
             "type": ("type", "event type", "call type"),
             "event": ("event", "event name", "action"),
             "name": ("name", "page name", "screen name"),
             "user_id": ("user id", "userid", "uid"),
             "anonymous_id": ("anonymous id", "anonymousid", "anon id", "cookie id", "device id"),
             "previous_id": ("previous id", "previousid"),
             "group_id": ("group id", "groupid", "account id"),
             "timestamp": ("timestamp", "time", "event time", "occurred at", "date"),
             "sent_at": ("sent at", "sentat"),
             "received_at": ("received at", "receivedat")}[name])
        for name in FLAT_FIELDS),
}

# The pseudo-field a column maps to when it holds the source's own record id.
RECORD_ID = "source_record_id"
RECORD_ID_SYNONYMS = ("id", "record id", "row id", "contact id", "lead id", "crm id", "external id",
                      "source id", "record number")
# What identifies a record when the file has no id column of its own.
DEFAULT_ID_FIELD = {"orders": "order_id", "subscriptions": "subscription_id"}
# Order fields that describe one line item rather than the whole order.
LINE_ITEM_FIELDS = ("sku", "product_name", "category", "item_price", "item_quantity", "line_total")


# Columns of a people file that become something besides the table's own columns. A consent
# column's yes/no (or a tool's subscription word) becomes a consents row for its purpose, read
# again from the record's traits after the load (engine/ingest/record_consents.py); an opt-out
# column says the opposite. A tags column becomes the list `tags` in traits.
CONSENT_FIELDS: dict[str, tuple[str, bool]] = {  # field -> (purpose, the column says "opted out")
    "email_consent": ("email", False),
    "email_opt_out": ("email", True),
    "advertising_consent": ("advertising", False),
}
TAGS = "tags"
EXTRA_FIELDS = (
    _f("email_consent", "consent", "accepts email marketing", "accepts marketing", "email marketing consent",
       "email subscription status", "email consent", "marketing consent", "newsletter", "opted in to email",
       "subscribed to email"),
    _f("email_opt_out", "consent", "email opt out", "unsubscribed", "do not email", "opted out of email"),
    _f("advertising_consent", "consent", "advertising consent", "ads consent", "accepts advertising"),
    _f(TAGS, "tags", "tags", "tag", "labels", "customer tags", "contact tags", "groups", "segments"),
)
EXTRA_KINDS = ("contacts", "orders", "subscriptions")


def extra_fields_for(kind: str) -> dict[str, Field]:
    """The consent and tags pseudo-fields a kind's columns may map to (none for events, consents)."""
    return {f.name: f for f in EXTRA_FIELDS} if kind in EXTRA_KINDS else {}


def fields_for(kind: str) -> dict[str, Field]:
    if kind not in KIND_FIELDS:
        raise ValueError(f"Unknown kind {kind!r}; choose one of {', '.join(KIND_FIELDS)}.")
    return {f.name: f for f in KIND_FIELDS[kind]}
