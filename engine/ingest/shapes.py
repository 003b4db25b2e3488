"""Export shapes: the column lists of the tools marketers export from, as data.

A file is recognised as a tool's export when its header holds every column of a shape's
signature; the shape then maps each of its columns it finds (record id, person fields,
address, status, dates, money, consent and tags), and the header-and-values suggestion
(engine/ingest/mapping.py) maps only what is left. Headers are compared normalised
(`headers.normalise_header`), so 'Created date (UTC)' and 'created_date_utc' are one.

Each shape names where its column list is documented. A column mapped to RECORD_ID holds the
tool's own record id; `record_id` names a column that is the record id *and* maps to a field
(Shopify's Customer ID is both the record and the customer_id identifier). When two columns
of a shape map to one field, the first one the file has wins (Salesforce's Mobile before
Phone) and the other is kept as a trait.
"""
from __future__ import annotations

from dataclasses import dataclass

from engine.ingest.fields import RECORD_ID
from engine.ingest.headers import normalise_header


@dataclass(frozen=True)
class Shape:
    name: str
    kind: str
    signature: tuple[str, ...]
    columns: tuple[tuple[str, str | None], ...]   # (header as the tool writes it, field or None)
    documented: str                                 # where the column list comes from
    record_id: str | None = None

    def mapping_for(self, headers: dict[str, str]) -> dict[str, str | None]:
        """{file column: field} for the shape's columns the file has (headers: normalised -> column)."""
        out: dict[str, str | None] = {}
        taken: set[str] = set()
        for header, field in self.columns:
            column = headers.get(normalise_header(header))
            if column is None or column in out:
                continue
            if field is not None and field in taken:
                field = None
            out[column] = field
            if field is not None:
                taken.add(field)
        return out


def _shape(name, kind, signature, columns, documented, record_id=None) -> Shape:
    return Shape(name, kind, tuple(signature), tuple(columns), documented, record_id)


SHAPES: tuple[Shape, ...] = (
    _shape("Shopify customers", "contacts", ("Customer ID", "Accepts Email Marketing"), [
        ("Customer ID", "customer_id"), ("First Name", "first_name"), ("Last Name", "last_name"),
        ("Email", "email"), ("Accepts Email Marketing", "email_consent"),
        ("Default Address Company", None), ("Default Address Address1", "address_line1"),
        ("Default Address Address2", "address_line2"), ("Default Address City", "city"),
        ("Default Address Province Code", "state"), ("Default Address Country Code", "country"),
        ("Default Address Zip", "postcode"), ("Phone", "phone"), ("Default Address Phone", None),
        ("Accepts SMS Marketing", None), ("Total Spent", None), ("Total Orders", None), ("Note", None),
        ("Tax Exempt", None), ("Tags", "tags")],
        "https://help.shopify.com/en/manual/customers/import-export-customers (customer CSV columns)",
        record_id="Customer ID"),
    _shape("Shopify orders", "orders", ("Name", "Financial Status", "Lineitem name"), [
        ("Name", "order_id"), ("Id", RECORD_ID), ("Email", "email"), ("Financial Status", "status"),
        ("Accepts Marketing", "email_consent"), ("Currency", "currency"), ("Total", "amount"),
        ("Created at", "ordered_at"), ("Lineitem quantity", "item_quantity"),
        ("Lineitem name", "product_name"), ("Lineitem price", "item_price"), ("Lineitem sku", "sku"),
        ("Refunded Amount", "amount_refunded"), ("Billing Address1", "address_line1"),
        ("Billing Address2", "address_line2"), ("Billing City", "city"), ("Billing Zip", "postcode"),
        ("Billing Province", "state"), ("Billing Country", "country"), ("Phone", "phone"),
        ("Billing Phone", "phone"), ("Location", "store"), ("Source", "channel"), ("Tags", "tags")],
        "https://help.shopify.com/en/manual/fulfillment/managing-orders/exporting-orders "
        "(order export columns)"),
    _shape("WooCommerce orders", "orders", ("order_number", "order_total", "billing_email"), [
        ("order_id", RECORD_ID), ("order_number", "order_id"), ("order_date", "ordered_at"),
        ("status", "status"), ("order_total", "amount"), ("order_currency", "currency"),
        ("customer_id", "customer_id"), ("customer_email", "email"), ("billing_email", "email"),
        ("billing_first_name", "first_name"), ("billing_last_name", "last_name"),
        ("billing_phone", "phone"), ("billing_address_1", "address_line1"),
        ("billing_address_2", "address_line2"), ("billing_postcode", "postcode"),
        ("billing_city", "city"), ("billing_state", "state"), ("billing_country", "country"),
        ("created_via", "channel")],
        "https://woocommerce.com/document/import-and-export-of-woocommerce-orders/ (Mapping of "
        "WooCommerce Orders)"),
    _shape("WooCommerce customers", "contacts", ("user_email", "user_registered"), [
        ("customer_id", "customer_id"), ("user_email", "email"), ("user_registered", "created_at"),
        ("first_name", "first_name"), ("last_name", "last_name"), ("billing_first_name", "first_name"),
        ("billing_last_name", "last_name"), ("billing_email", "email"), ("billing_phone", "phone"),
        ("billing_address_1", "address_line1"), ("billing_address_2", "address_line2"),
        ("billing_postcode", "postcode"), ("billing_city", "city"), ("billing_state", "state"),
        ("billing_country", "country"), ("user_login", None), ("user_pass", None), ("roles", None)],
        "https://woocommerce.com/document/import-and-export-of-woocommerce-customers/ (Mapping of "
        "WooCommerce Customers, the same suite as the orders export)",
        record_id="customer_id"),
    _shape("Stripe payments", "orders", ("id", "Created date (UTC)", "Amount Refunded"), [
        ("id", RECORD_ID), ("Created date (UTC)", "ordered_at"), ("Amount", "amount"),
        ("Amount Refunded", "amount_refunded"), ("Currency", "currency"), ("Status", "status"),
        ("Customer ID", "customer_id"), ("Customer Email", "email"),
        ("Card Address Line1", "address_line1"), ("Card Address Line2", "address_line2"),
        ("Card Address City", "city"), ("Card Address State", "state"),
        ("Card Address Country", "country"), ("Card Address Zip", "postcode"), ("Description", None),
        ("Converted Amount", None), ("Converted Amount Refunded", None), ("Fee", None), ("Tax", None)],
        "https://docs.cello.so/guides/attribution/stripe-reports (Stripe Payments > Export columns) "
        "and the Stripe Dashboard's default payments export"),
    _shape("Stripe customers", "contacts", ("id", "Created (UTC)", "Delinquent"), [
        ("id", "customer_id"), ("Email", "email"), ("Created (UTC)", "created_at"), ("Phone", "phone"),
        ("Address Line1", "address_line1"), ("Address Line2", "address_line2"),
        ("Address City", "city"), ("Address State", "state"), ("Address Country", "country"),
        ("Address Zip", "postcode"), ("Card Address Line1", "address_line1"),
        ("Card Address Line2", "address_line2"), ("Card Address City", "city"),
        ("Card Address State", "state"), ("Card Address Country", "country"),
        ("Card Address Zip", "postcode"), ("Name", None), ("Description", None), ("Delinquent", None),
        ("Account Balance", None), ("Currency", None)],
        "https://docs.stripe.com/get-started/data-migrations/export-file-formats (customer fields) and "
        "https://docs.cello.so/guides/attribution/stripe-reports (ID, Created (UTC))",
        record_id="id"),
    _shape("Stripe subscriptions", "subscriptions", ("id", "Start (UTC)", "Current Period End (UTC)"), [
        ("id", "subscription_id"), ("Customer ID", "customer_id"), ("Customer Email", "email"),
        ("Plan", "plan"), ("Product", None), ("Interval", "billing_interval"), ("Amount", "amount"),
        ("Currency", "currency"), ("Status", "status"), ("Start (UTC)", "started_at"),
        ("Canceled At (UTC)", "cancelled_at"), ("Ended At (UTC)", None), ("Created (UTC)", None),
        ("Current Period Start (UTC)", None), ("Current Period End (UTC)", None)],
        "Stripe Dashboard Billing > Subscriptions > Export (default columns); "
        "https://stripe.com/docs/reports/report-types"),
    _shape("HubSpot contacts", "contacts", ("Record ID", "Lifecycle Stage"), [
        ("Record ID", RECORD_ID), ("First Name", "first_name"), ("Last Name", "last_name"),
        ("Email", "email"), ("Phone Number", "phone"), ("Mobile Phone Number", "phone"),
        ("Street Address", "address_line1"), ("City", "city"), ("State/Region", "state"),
        ("Postal Code", "postcode"), ("Country/Region", "country"), ("Contact owner", "owner"),
        ("Lifecycle Stage", "lead_stage"), ("Create Date", "created_at"),
        ("Last Modified Date", "updated_at"), ("Lead Status", None), ("Marketing contact status", None)],
        "HubSpot Contacts > Export (default properties: Record ID, Create Date, Lifecycle Stage ...)"),
    _shape("Salesforce leads", "contacts", ("Lead Owner", "Lead Status"), [
        ("Lead ID", RECORD_ID), ("Lead Owner", "owner"), ("First Name", "first_name"),
        ("Last Name", "last_name"), ("Email", "email"), ("Mobile", "phone"), ("Phone", "phone"),
        ("Street", "address_line1"), ("City", "city"), ("State/Province", "state"),
        ("Zip/Postal Code", "postcode"), ("Country", "country"), ("Lead Status", "lead_stage"),
        ("Email Opt Out", "email_opt_out"), ("Create Date", "created_at"),
        ("Last Modified Date", "updated_at"), ("Company / Account", None), ("Title", None),
        ("Lead Source", None), ("Rating", None)],
        "https://help.salesforce.com/s/articleView?id=xcloud.field_mapping_for_importing_leads.htm "
        "(lead field labels)"),
    _shape("Salesforce contacts", "contacts", ("Contact Owner", "Account Name"), [
        ("Contact ID", RECORD_ID), ("Contact Owner", "owner"), ("First Name", "first_name"),
        ("Last Name", "last_name"), ("Email", "email"), ("Mobile", "phone"), ("Phone", "phone"),
        ("Mailing Street", "address_line1"), ("Mailing City", "city"),
        ("Mailing State/Province", "state"), ("Mailing Zip/Postal Code", "postcode"),
        ("Mailing Country", "country"), ("Birthdate", "date_of_birth"),
        ("Email Opt Out", "email_opt_out"), ("Created Date", "created_at"),
        ("Last Modified Date", "updated_at"), ("Account Name", None), ("Title", None),
        ("Lead Source", None)],
        "https://docs.pingidentity.com/integrations/salesforce/salesforce_contacts_provisioner/"
        "pf_salesforce_contacts_connector_supported_attributes_reference.html (contact attributes)"),
    _shape("Mailchimp audience", "contacts", ("MEMBER_RATING", "OPTIN_TIME"), [
        ("LEID", RECORD_ID), ("Email Address", "email"), ("First Name", "first_name"),
        ("Last Name", "last_name"), ("Address", "address_line1"), ("Phone Number", "phone"),
        ("Birthday", None), ("OPTIN_TIME", "created_at"), ("LAST_CHANGED", "updated_at"),
        ("CC", "country"), ("REGION", "state"), ("TAGS", "tags"), ("EUID", None),
        ("MEMBER_RATING", None), ("CONFIRM_TIME", None), ("OPTIN_IP", None), ("CONFIRM_IP", None),
        ("LATITUDE", None), ("LONGITUDE", None), ("GMTOFF", None), ("DSTOFF", None),
        ("TIMEZONE", None), ("NOTES", None)],
        "Mailchimp Audience > Export Audience (subscribed members CSV); member fields at "
        "https://schemas.apis.io/schemas/mailchimp/member/"),
    _shape("Klaviyo profiles", "contacts", ("Klaviyo ID",), [
        ("Klaviyo ID", RECORD_ID), ("Email", "email"), ("Phone Number", "phone"),
        ("First Name", "first_name"), ("Last Name", "last_name"), ("Address", "address_line1"),
        ("Address 2", "address_line2"), ("City", "city"), ("State / Region", "state"),
        ("Zip Code", "postcode"), ("Country", "country"),
        ("Email Marketing Consent", "email_consent"), ("Profile Created On", "created_at"),
        ("Organization", None), ("Title", None), ("SMS Marketing Consent", None)],
        "https://help.klaviyo.com/hc/en-us/articles/360053679071-Profiles-and-properties-glossary "
        "(profile properties) and Klaviyo's segment/list CSV export"),
    _shape("Square customers", "contacts", ("Square Customer ID",), [
        ("Square Customer ID", "customer_id"), ("Reference ID", None), ("First Name", "first_name"),
        ("Surname", "last_name"), ("Email Address", "email"), ("Phone Number", "phone"),
        ("Street Address 1", "address_line1"), ("Street Address 2", "address_line2"),
        ("City", "city"), ("State", "state"), ("Postal Code", "postcode"),
        ("Birthday", "date_of_birth"), ("Email Subscription Status", "email_consent"),
        ("First Visit", "created_at"), ("Company Name", None), ("Memo", None), ("Groups", "tags")],
        "https://squareup.com/help/ie/article/6632 (customer CSV: Email Subscription Status) and "
        "https://squareup.com/help/gb/en/article/5498-manage-your-customer-directory-online",
        record_id="Square Customer ID"),
    _shape("Square transactions", "orders", ("Transaction ID", "Gross Sales", "Total Collected"), [
        ("Transaction ID", "order_id"), ("Date", "ordered_at"), ("Time", "order_time"),
        ("Total Collected", "amount"), ("Transaction Status", "status"), ("Location", "store"),
        ("Channel", "channel"), ("Customer ID", "customer_id"), ("Gross Sales", None),
        ("Net Sales", None), ("Partial Refunds", None), ("Description", None), ("Event Type", None),
        ("Customer Name", None), ("Customer Reference ID", None)],
        "Square Dashboard Transactions > Export (Transactions CSV columns)"),
    _shape("Lightspeed Retail (X-Series) customers", "contacts", ("customer_code", "physical_address1"), [
        ("id", RECORD_ID), ("customer_code", "customer_id"), ("first_name", "first_name"),
        ("last_name", "last_name"), ("email", "email"), ("mobile", "phone"), ("phone", "phone"),
        ("physical_address1", "address_line1"), ("physical_address2", "address_line2"),
        ("physical_city", "city"), ("physical_postcode", "postcode"), ("physical_state", "state"),
        ("physical_country_id", "country"), ("date_of_birth", "date_of_birth"),
        ("do_not_email", "email_opt_out"), ("customer_group_name", "tags"), ("company_name", None),
        ("note", None)],
        "Lightspeed Retail (X-Series) Customers > Import/Export customer CSV template"),
    _shape("Lightspeed eCom customers", "contacts", ("Internal ID", "Firstname", "Lastname"), [
        ("Internal ID", RECORD_ID), ("Firstname", "first_name"), ("Lastname", "last_name"),
        ("E-Mail", "email"), ("Mobile", "phone"), ("Phone", "phone"), ("Streetname", "address_line1"),
        ("Address 2", "address_line2"), ("Zipcode", "postcode"), ("City", "city"), ("Region", "state"),
        ("Country", "country"), ("Registered", "created_at"), ("Company", None), ("Language", None)],
        "https://ecom-support.lightspeedhq.com/hc/en-us/articles/360016065014 (Customer column titles)"),
)


def recognise(columns: list[str], kind: str) -> Shape | None:
    """The shape of kind whose signature the header holds (the one knowing most columns wins)."""
    have = {normalise_header(c) for c in columns}
    best, best_known = None, 0
    for shape in SHAPES:
        if shape.kind != kind or not all(normalise_header(h) in have for h in shape.signature):
            continue
        known = sum(normalise_header(h) in have for h, _ in shape.columns)
        if known > best_known:
            best, best_known = shape, known
    return best
