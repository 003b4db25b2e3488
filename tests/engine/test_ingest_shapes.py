"""Export shapes: a file as each tool exports it (header from the tool's documented column list,
cited per case) is recognised and mapped entirely, with no --map."""
import csv
import datetime as dt
import io
import json

import pytest

from engine.ingest import ingest_file
from engine.ingest.fields import RECORD_ID, extra_fields_for, fields_for
from engine.ingest.headers import header_variants
from engine.ingest.shapes import SHAPES, recognise

pytestmark = pytest.mark.held_open   # in-process only: see held_open in tests/conftest.py


def _csv(header: str, rows: list[dict]) -> str:
    columns = header.split("|")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        assert set(row) <= set(columns), set(row) - set(columns)
        writer.writerow(row)
    return out.getvalue()


# (shape, kind, documented header ('|'-separated), rows, record id, stored values, consent, tags)
CASES = [
    # https://help.shopify.com/en/manual/customers/import-export-customers
    ("Shopify customers", "contacts",
     "Customer ID|First Name|Last Name|Email|Accepts Email Marketing|Default Address Company|"
     "Default Address Address1|Default Address Address2|Default Address City|Default Address Province Code|"
     "Default Address Country Code|Default Address Zip|Default Address Phone|Phone|Accepts SMS Marketing|"
     "Total Spent|Total Orders|Note|Tax Exempt|Tags",
     [{"Customer ID": "7001", "First Name": "Ann", "Last Name": "Lee", "Email": "ann@x.com",
       "Accepts Email Marketing": "yes", "Default Address Address1": "1 High St",
       "Default Address Address2": "Flat 2", "Default Address City": "Leeds",
       "Default Address Province Code": "WYK", "Default Address Country Code": "GB",
       "Default Address Zip": "LS1 4AB", "Total Spent": "120.50", "Total Orders": "3",
       "Tags": "VIP, wholesale"}],
     "7001", {"customer_id": "7001", "email": "ann@x.com", "first_name": "Ann", "address_line1": "1 High St",
              "address_line2": "Flat 2", "city": "Leeds", "state": "WYK", "country": "GB", "postcode": "LS1 4AB"},
     ("email", True), ["VIP", "wholesale"]),
    # https://help.shopify.com/en/manual/fulfillment/managing-orders/exporting-orders
    ("Shopify orders", "orders",
     "Name|Email|Financial Status|Paid at|Fulfillment Status|Fulfilled at|Accepts Marketing|Currency|Subtotal|"
     "Shipping|Taxes|Total|Discount Code|Discount Amount|Shipping Method|Created at|Lineitem quantity|"
     "Lineitem name|Lineitem price|Lineitem compare at price|Lineitem sku|Lineitem requires shipping|"
     "Lineitem taxable|Lineitem fulfillment status|Billing Name|Billing Street|Billing Address1|"
     "Billing Address2|Billing Company|Billing City|Billing Zip|Billing Province|Billing Country|"
     "Billing Phone|Notes|Cancelled at|Payment Method|Refunded Amount|Vendor|Id|Tags|Source|Location|Phone",
     [{"Name": "#1001", "Email": "cat@x.com", "Financial Status": "paid", "Accepts Marketing": "no",
       "Currency": "GBP", "Total": "40.00", "Created at": "2026-10-01 09:00:00 +0000", "Lineitem quantity": "1",
       "Lineitem name": "House Blend", "Lineitem price": "40.00", "Lineitem sku": "BN-1",
       "Billing Address1": "2 Quay Rd", "Billing City": "Hull", "Billing Zip": "HU1 1AA", "Billing Country": "GB",
       "Refunded Amount": "0.00", "Id": "5001", "Source": "web", "Tags": "first order"}],
     "5001", {"order_id": "#1001", "email": "cat@x.com", "status": "paid", "amount": 40.0, "currency": "GBP",
              "address_line1": "2 Quay Rd", "city": "Hull", "postcode": "HU1 1AA", "channel": "web"},
     ("email", False), ["first order"]),
    # https://woocommerce.com/document/import-and-export-of-woocommerce-orders/
    ("WooCommerce orders", "orders",
     "order_id|order_number|order_date|paid_date|status|shipping_total|shipping_tax_total|fee_total|"
     "fee_tax_total|tax_total|cart_discount|order_discount|discount_total|order_total|order_subtotal|"
     "order_currency|payment_method|payment_method_title|transaction_id|customer_ip_address|"
     "customer_user_agent|shipping_method|customer_id|customer_user|customer_email|billing_first_name|"
     "billing_last_name|billing_company|billing_email|billing_phone|billing_address_1|billing_address_2|"
     "billing_postcode|billing_city|billing_state|billing_country",
     [{"order_id": "812", "order_number": "1043", "order_date": "2026-09-06 06:29:00", "status": "completed",
       "order_total": "59.90", "order_currency": "GBP", "customer_id": "17", "customer_email": "dee@x.com",
       "billing_first_name": "Dee", "billing_last_name": "Roy", "billing_email": "dee@x.com",
       "billing_address_1": "9 Mill Ln", "billing_postcode": "YO1 7HH", "billing_city": "York",
       "billing_country": "GB"}],
     "812", {"order_id": "1043", "status": "paid", "amount": 59.9, "currency": "GBP", "customer_id": "17",
             "email": "dee@x.com", "first_name": "Dee", "city": "York", "postcode": "YO1 7HH"}, None, None),
    # https://woocommerce.com/document/import-and-export-of-woocommerce-customers/
    ("WooCommerce customers", "contacts",
     "customer_id|user_login|user_pass|user_email|user_registered|first_name|last_name|roles|billing_first_name|"
     "billing_last_name|billing_company|billing_email|billing_phone|billing_address_1|billing_address_2|"
     "billing_postcode|billing_city|billing_state|billing_country",
     [{"customer_id": "17", "user_login": "dee", "user_email": "dee@x.com", "user_registered": "2025-02-01 10:00:00",
       "first_name": "Dee", "last_name": "Roy", "roles": "customer", "billing_phone": "01904 000000",
       "billing_address_1": "9 Mill Ln", "billing_postcode": "YO1 7HH", "billing_city": "York",
       "billing_country": "GB"}],
     "17", {"customer_id": "17", "email": "dee@x.com", "first_name": "Dee", "last_name": "Roy",
            "address_line1": "9 Mill Ln", "city": "York", "postcode": "YO1 7HH", "country": "GB"}, None, None),
    # Stripe Payments > Export (https://docs.cello.so/guides/attribution/stripe-reports)
    ("Stripe payments", "orders",
     "id|Description|Created date (UTC)|Amount|Amount Refunded|Currency|Converted Amount|"
     "Converted Amount Refunded|Fee|Tax|Converted Currency|Status|Seller Message|Captured|Card ID|"
     "Customer ID|Customer Description|Customer Email|Card Address Line1|Card Address City|"
     "Card Address Country|Card Address Zip",
     [{"id": "ch_1", "Description": "Kettle", "Created date (UTC)": "2026-10-25 10:00:00", "Amount": "50.00",
       "Amount Refunded": "20.00", "Currency": "gbp", "Status": "Paid", "Customer ID": "cus_A",
       "Customer Email": "ann@x.com", "Card Address City": "Leeds", "Card Address Zip": "LS1 4AB"}],
     "ch_1", {"amount": 50.0, "amount_refunded": 20.0, "currency": "GBP", "status": "partially_refunded",
              "ordered_at": dt.datetime(2026, 10, 25, 10, 0, tzinfo=dt.timezone.utc), "customer_id": "cus_A", "email": "ann@x.com", "city": "Leeds", "postcode": "LS1 4AB"}, None, None),
    # https://docs.stripe.com/get-started/data-migrations/export-file-formats and Customers > Export
    ("Stripe customers", "contacts",
     "id|Description|Email|Name|Created (UTC)|Card ID|Card Name|Card Brand|Card Last4|Card Address Line1|"
     "Card Address City|Card Address Country|Card Address Zip|Plan|Status|Account Balance|Currency|Delinquent",
     [{"id": "cus_A", "Email": "ann@x.com", "Name": "Ann Lee", "Created (UTC)": "2025-01-02 03:04",
       "Card Address Line1": "1 High St", "Card Address City": "Leeds", "Card Address Zip": "LS1 4AB",
       "Delinquent": "false"}],
     "cus_A", {"customer_id": "cus_A", "email": "ann@x.com", "address_line1": "1 High St", "city": "Leeds",
               "postcode": "LS1 4AB"}, None, None),
    # Stripe Billing > Subscriptions > Export (default columns)
    ("Stripe subscriptions", "subscriptions",
     "id|Customer ID|Customer Description|Customer Email|Plan|Product|Quantity|Interval|Amount|Status|"
     "Created (UTC)|Start (UTC)|Current Period Start (UTC)|Current Period End (UTC)|Trial Start (UTC)|"
     "Trial End (UTC)|Application Fee Percent|Coupon|Tax Percent|Canceled At (UTC)|Cancel At Period End|"
     "Ended At (UTC)",
     [{"id": "sub_1", "Customer ID": "cus_A", "Customer Email": "ann@x.com", "Plan": "Beans Monthly",
       "Interval": "month", "Amount": "15.00", "Status": "canceled", "Created (UTC)": "2026-01-01 09:00",
       "Start (UTC)": "2026-01-02 09:00", "Canceled At (UTC)": "2026-06-02 09:00"}],
     "sub_1", {"subscription_id": "sub_1", "customer_id": "cus_A", "email": "ann@x.com", "plan": "Beans Monthly",
               "billing_interval": "month", "amount": 15.0, "status": "canceled",
               "started_at": dt.datetime(2026, 1, 2, 9, 0, tzinfo=dt.timezone.utc),
               "cancelled_at": dt.datetime(2026, 6, 2, 9, 0, tzinfo=dt.timezone.utc)}, None, None),
    # HubSpot Contacts > Export (default properties)
    ("HubSpot contacts", "contacts",
     "Record ID|First Name|Last Name|Email|Phone Number|Street Address|City|State/Region|Postal Code|"
     "Country/Region|Contact owner|Lifecycle Stage|Lead Status|Create Date|Last Modified Date|"
     "Marketing contact status",
     [{"Record ID": "901", "First Name": "Eve", "Last Name": "Ho", "Email": "eve@x.com",
       "Street Address": "3 Elm Rd", "City": "Bath", "State/Region": "Somerset", "Postal Code": "BA1 1AA",
       "Country/Region": "United Kingdom", "Contact owner": "Sam Rep", "Lifecycle Stage": "lead",
       "Create Date": "2026-03-01 10:00"}],
     "901", {"email": "eve@x.com", "address_line1": "3 Elm Rd", "state": "Somerset", "postcode": "BA1 1AA",
             "country": "United Kingdom", "owner": "Sam Rep", "lead_stage": "lead"}, None, None),
    # https://help.salesforce.com/s/articleView?id=xcloud.field_mapping_for_importing_leads.htm
    ("Salesforce leads", "contacts",
     "Lead ID|Lead Owner|First Name|Last Name|Title|Company / Account|Email|Phone|Mobile|Street|City|"
     "State/Province|Zip/Postal Code|Country|Lead Source|Lead Status|Rating|Email Opt Out|Create Date",
     [{"Lead ID": "00Q1", "Lead Owner": "Sam Rep", "First Name": "Fay", "Last Name": "Oh", "Company / Account": "Acme",
       "Email": "fay@x.com", "Mobile": "07700 900123", "Street": "4 Oak St", "City": "Derby",
       "State/Province": "Derbyshire", "Zip/Postal Code": "DE1 1AA", "Country": "UK", "Lead Status": "Open",
       "Email Opt Out": "1"}],
     "00Q1", {"owner": "Sam Rep", "phone": "07700900123", "postcode": "DE1 1AA", "state": "Derbyshire",
              "lead_stage": "Open", "email": "fay@x.com"}, ("email", False), None),
    # Salesforce contact fields (docs.pingidentity.com ... supported_attributes_reference)
    ("Salesforce contacts", "contacts",
     "Contact ID|Contact Owner|First Name|Last Name|Account Name|Title|Email|Phone|Mobile|Mailing Street|"
     "Mailing City|Mailing State/Province|Mailing Zip/Postal Code|Mailing Country|Birthdate|Lead Source|"
     "Email Opt Out|Created Date",
     [{"Contact ID": "0031", "Contact Owner": "Sam Rep", "First Name": "Gil", "Last Name": "Ash",
       "Account Name": "Acme", "Email": "gil@x.com", "Mailing Street": "5 Ash Way", "Mailing City": "Leeds",
       "Mailing Zip/Postal Code": "LS2 2BB", "Birthdate": "1990-05-06", "Email Opt Out": "0"}],
     "0031", {"owner": "Sam Rep", "address_line1": "5 Ash Way", "city": "Leeds", "postcode": "LS2 2BB",
              "email": "gil@x.com"}, ("email", True), None),
    # Mailchimp Audience > Export Audience (subscribed members file)
    ("Mailchimp audience", "contacts",
     "Email Address|First Name|Last Name|Address|Phone Number|Birthday|MEMBER_RATING|OPTIN_TIME|OPTIN_IP|"
     "CONFIRM_TIME|CONFIRM_IP|LATITUDE|LONGITUDE|GMTOFF|DSTOFF|TIMEZONE|CC|REGION|LAST_CHANGED|LEID|EUID|"
     "NOTES|TAGS",
     [{"Email Address": "hal@x.com", "First Name": "Hal", "Last Name": "Ng", "MEMBER_RATING": "2",
       "OPTIN_TIME": "2025-05-01 10:00:00", "CONFIRM_TIME": "2025-05-01 10:05:00", "CC": "GB",
       "LAST_CHANGED": "2025-06-01 10:00:00", "LEID": "123456789", "EUID": "abc123def", "TAGS": '"VIP","Customer"'}],
     "123456789", {"email": "hal@x.com", "first_name": "Hal", "country": "GB"}, None, ["VIP", "Customer"]),
    # Klaviyo profile properties (help.klaviyo.com ... Profiles-and-properties-glossary), segment CSV export
    ("Klaviyo profiles", "contacts",
     "Email|Phone Number|First Name|Last Name|Organization|Title|Address|Address 2|City|State / Region|"
     "Zip Code|Country|Email Marketing Consent|SMS Marketing Consent|Klaviyo ID|Profile Created On",
     [{"Email": "ivy@x.com", "First Name": "Ivy", "Address": "6 Pine Rd", "City": "Leeds", "State / Region": "WYK",
       "Zip Code": "LS3 3CC", "Country": "GB", "Email Marketing Consent": "NEVER_SUBSCRIBED",
       "Klaviyo ID": "01HABC", "Profile Created On": "2025-07-01 12:00:00"}],
     "01HABC", {"email": "ivy@x.com", "address_line1": "6 Pine Rd", "state": "WYK", "postcode": "LS3 3CC"},
     ("email", False), None),
    # https://squareup.com/help/ie/article/6632 (Email Subscription Status) and the directory export
    ("Square customers", "contacts",
     "Reference ID|First Name|Surname|Email Address|Phone Number|Nickname|Company Name|Street Address 1|"
     "Street Address 2|City|State|Postal Code|Birthday|Memo|Square Customer ID|Creation Source|First Visit|"
     "Last Visit|Transaction Count|Total Spend|Email Subscription Status",
     [{"Reference ID": "R-9", "First Name": "Jo", "Surname": "Kay", "Email Address": "jo@x.com",
       "Street Address 1": "7 Bay Rd", "City": "Hull", "Postal Code": "HU2 2DD", "Square Customer ID": "SQ7",
       "Email Subscription Status": "Subscribed", "First Visit": "2025-08-01"}],
     "SQ7", {"customer_id": "SQ7", "email": "jo@x.com", "last_name": "Kay", "address_line1": "7 Bay Rd",
             "postcode": "HU2 2DD"}, ("email", True), None),
    # Square Dashboard Transactions > Export
    ("Square transactions", "orders",
     "Date|Time|Time Zone|Gross Sales|Discounts|Service Charges|Net Sales|Gift Card Sales|Tax|Tip|"
     "Partial Refunds|Total Collected|Source|Card|Card Entry Methods|Cash|Fees|Net Total|Transaction ID|"
     "Payment ID|Card Brand|PAN Suffix|Device Name|Staff Name|Details|Description|Event Type|Location|"
     "Customer ID|Customer Name|Customer Reference ID|Transaction Status|Channel",
     [{"Date": "2026-10-03", "Time": "09:15:00", "Time Zone": "London", "Gross Sales": "£6.40",
       "Total Collected": "£6.40", "Transaction ID": "TX1", "Description": "2 x Croissant",
       "Event Type": "Payment", "Location": "Harbourside", "Customer ID": "SQ7", "Transaction Status": "Complete",
       "Channel": "Point of Sale"}],
     "TX1", {"order_id": "TX1", "amount": 6.4, "currency": "GBP", "store": "Harbourside", "customer_id": "SQ7",
             "status": "paid"}, None, None),
    # Lightspeed Retail (X-Series) customer import/export template
    ("Lightspeed Retail (X-Series) customers", "contacts",
     "id|customer_code|first_name|last_name|company_name|customer_group_name|email|phone|mobile|date_of_birth|"
     "physical_address1|physical_address2|physical_city|physical_postcode|physical_state|physical_country_id|"
     "note|do_not_email",
     [{"id": "0af7-11", "customer_code": "KIM-0001", "first_name": "Kim", "last_name": "Po",
       "customer_group_name": "Loyalty", "email": "kim@x.com", "mobile": "07700 900555",
       "physical_address1": "8 Dock St", "physical_city": "Hull", "physical_postcode": "HU3 3EE",
       "physical_country_id": "GB", "do_not_email": "false"}],
     "0af7-11", {"customer_id": "KIM-0001", "email": "kim@x.com", "phone": "07700900555",
                 "address_line1": "8 Dock St", "postcode": "HU3 3EE"}, ("email", True), ["Loyalty"]),
    # https://ecom-support.lightspeedhq.com/hc/en-us/articles/360016065014 (Customer column titles)
    ("Lightspeed eCom customers", "contacts",
     "Internal ID|Registered|Language|Firstname|LastnamePreposition|Lastname|E-Mail|Phone|Mobile|Customer type|"
     "Company|Streetname|Address 2|Number|Extension|Zipcode|City|Region|Country",
     [{"Internal ID": "55", "Registered": "2025-09-09 09:09:09", "Firstname": "Lou", "Lastname": "Vos",
       "E-Mail": "lou@x.com", "Streetname": "Kade", "Zipcode": "1011 AB", "City": "Amsterdam", "Country": "NL"}],
     "55", {"email": "lou@x.com", "first_name": "Lou", "last_name": "Vos", "address_line1": "Kade",
            "postcode": "1011 AB", "city": "Amsterdam"}, None, None),
]


def test_every_shape_has_a_case_and_maps_to_fields_of_its_kind():
    assert {case[0] for case in CASES} == {shape.name for shape in SHAPES}
    for shape in SHAPES:
        known = {*fields_for(shape.kind), *extra_fields_for(shape.kind), RECORD_ID}
        assert {f for _, f in shape.columns if f} <= known, shape.name
        headers = {h for h, _ in shape.columns}
        assert set(shape.signature) <= headers and (shape.record_id is None or shape.record_id in headers)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_export_shape_is_recognised_and_mapped(workspace, admin, tmp_path, case):
    name, kind, header, rows, record_id, stored, consent, tags = case
    assert recognise(header.split("|"), kind).name == name
    path = tmp_path / "export.csv"
    path.write_text(_csv(header, rows), encoding="utf-8")
    result = ingest_file(workspace, admin, kind, path, "Tool")
    assert (result.rows_loaded, result.rows_quarantined) == (len(rows), 0), result.warnings
    columns = ", ".join(stored)
    got = workspace.query_rows(f"SELECT source_record_id, {columns}, traits FROM {kind} WHERE source = 'Tool'")
    assert len(got) == 1
    assert got[0][0] == record_id
    assert dict(zip(stored, got[0][1:-1])) == {
        k: pytest.approx(v) if isinstance(v, float) else v for k, v in stored.items()}
    traits = json.loads(got[0][-1] or "{}")
    assert traits.get("tags") == tags
    consents = workspace.query_rows("SELECT purpose, granted, source_record_id FROM consents WHERE source = 'Tool'")
    assert [c[:2] for c in consents] == ([consent] if consent else [])
    if consent:
        assert consents[0][2] == f"{record_id}#consent:email"
    # The same export again changes nothing.
    again = ingest_file(workspace, admin, kind, path, "Tool")
    assert again.already_loaded
    path.write_text(_csv(header, rows) + "\n", encoding="utf-8")    # the same rows in a new file
    again = ingest_file(workspace, admin, kind, path, "Tool")
    assert (again.rows_inserted, again.rows_updated) == (0, 0)
    assert workspace.scalar(f"SELECT count(*) FROM {kind} WHERE source = 'Tool'") == 1


def test_an_edited_shopify_customer_updates_the_person(workspace, admin, tmp_path):
    """Customer ID is the record id: an edited re-upload updates the person, and consent follows."""
    header, rows = CASES[0][2], [dict(CASES[0][3][0])]
    path = tmp_path / "customers_export.csv"
    path.write_text(_csv(header, rows), encoding="utf-8")
    ingest_file(workspace, admin, "contacts", path, "Shopify")
    rows[0].update({"Default Address City": "York", "Accepts Email Marketing": "no"})
    path.write_text(_csv(header, rows), encoding="utf-8")
    result = ingest_file(workspace, admin, "contacts", path, "Shopify")
    assert (result.rows_inserted, result.rows_updated) == (0, 1)
    assert workspace.query_rows("SELECT source_record_id, city FROM contacts") == [("7001", "York")]
    assert workspace.query_rows("SELECT purpose, granted FROM consents") == [("email", False)]


@pytest.mark.parametrize("header, inner", [
    ("Default Address City", "city"), ("Created date (UTC)", "created date"), ("Start (UTC)", "start"),
    ("Billing Email Address", "email address"), ("Customer - Mobile", "mobile"),
])
def test_header_prefixes_and_suffixes_are_read(header, inner):
    assert inner in [text for text, _ in header_variants(header)]


def test_unknown_headers_still_use_prefix_and_suffix_matching(workspace, admin, tmp_path):
    """Not a known shape: 'Billing City' and 'Order Date (UTC)' still find their fields."""
    path = tmp_path / "orders.csv"
    path.write_text("Ref,Order Date (UTC),Grand Total,Billing Email,Billing City\n"
                    "A1,2026-01-02 10:00,12.50,a@x.com,Leeds\n")
    result = ingest_file(workspace, admin, "orders", path, "Shop")
    assert result.rows_loaded == 1
    assert result.mapping["Billing City"] == "city" and result.mapping["Billing Email"] == "email"


def test_a_generic_inner_name_is_not_a_field(workspace, admin, tmp_path):
    """'Customer Name' is no order number and 'Customer ID' no record id, whatever is inside them."""
    assert "name" not in [text for text, _ in header_variants("Customer Name")]
    path = tmp_path / "orders.csv"
    path.write_text("Customer Name,Customer ID,Order Date,Total,Email\n"
                    "Ann Lee,C1,2026-01-02,12.50,a@x.com\nAnn Lee,C1,2026-01-03,8.00,a@x.com\n")
    result = ingest_file(workspace, admin, "orders", path, "Shop")
    assert result.mapping["Customer Name"] is None and result.mapping["Customer ID"] == "customer_id"
    assert workspace.scalar("SELECT count(*) FROM orders") == 2
