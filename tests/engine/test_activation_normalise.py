"""Per-platform normalisation and hashing, checked against the platforms' documented examples."""
import hashlib

from engine.activation import normalise as n


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fmt(values, default_country=None):
    """The normalised (not hashed) forms of one record, by each platform's rules."""
    return n.evaluate(lambda c, d: {
        "google_email": n.email_google(c["email"]),
        "google_phone": n.phone_e164(c["phone"], c["country"], d),
        "meta_phone": n.phone_meta(c["phone"], c["country"], d),
        "meta_name": n.letters_only(c["first_name"]),
        "google_given": n.name_google(c["first_name"], n.NAME_PREFIXES),
        "google_family": n.name_google(c["last_name"], n.NAME_SUFFIXES),
        "meta_zip": n.postcode_meta(c["postcode"], c["country"]),
        "google_zip": n.postcode_google(c["postcode"], c["country"]),
        "country": n.country_iso2(c["country"]),
    }, values, default_country)


def test_google_quickstart_email_hash():
    # Data Manager API quickstart: "dana@example.com" hashed and hex encoded.
    out = n.evaluate(n.google_keys, {"email": " Dana@Example.com"})
    assert out["emailAddress"] == "07e2f1394b0ea80e2adca010ea8318df697001a005ba7452720edda4b0ce57b3"


def test_google_gmail_dots_and_plus_removed_other_domains_kept():
    # Formatting guide: cloudy.sanfrancisco+shopping@gmail.com -> cloudysanfrancisco@gmail.com;
    # user.name+NYC@Example.com -> user.name+nyc@example.com.
    assert fmt({"email": "cloudy.sanfrancisco+shopping@gmail.com"})["google_email"] == "cloudysanfrancisco@gmail.com"
    assert fmt({"email": "Cloudy.SanFrancisco@GoogleMail.com"})["google_email"] == "cloudysanfrancisco@googlemail.com"
    assert fmt({"email": "user.name+NYC@Example.com"})["google_email"] == "user.name+nyc@example.com"
    assert fmt({"email": " baklavainthebalkans@gmail.com  "})["google_email"] == "baklavainthebalkans@gmail.com"


def test_phone_e164_for_google_digits_for_meta():
    # Google: US (800)555-0100 -> +18005550100. Meta: digits with country code, no "+".
    out = fmt({"phone": "(800)555-0100", "country": "US"})
    assert out["google_phone"] == "+18005550100"
    assert out["meta_phone"] == "18005550100"
    assert n.evaluate(n.google_keys, {"phone": "(800)555-0100", "country": "US"})["phoneNumber"] == sha("+18005550100")
    assert n.evaluate(n.meta_keys, {"phone": "+1 (800) 555-0100"})["PHONE"] == sha("18005550100")
    # A national number loses its trunk zero and gains the profile's (or default) country code.
    assert fmt({"phone": "07700 900123", "country": "United Kingdom"})["google_phone"] == "+447700900123"
    assert fmt({"phone": "0044 7700 900123"})["meta_phone"] == "447700900123"
    assert fmt({"phone": "(657)777-0000"}, default_country="us")["meta_phone"] == "16577770000"
    assert fmt({"phone": "555-0100"})["google_phone"] is None  # no way to know the country


def test_names_postcodes_countries():
    out = fmt({"first_name": " Mrs. Mary-Ann ", "last_name": "Smith Jr.", "postcode": "94025-1234",
               "country": "USA"})
    assert out["meta_name"] == "mrsmaryann"
    assert out["google_given"] == "maryann"
    assert out["google_family"] == "smith"
    assert out["meta_zip"] == "94025" and out["google_zip"] == "94025"
    assert out["country"] == "us"
    uk = fmt({"first_name": "Zoë", "postcode": "SW1A 1AA", "country": "uk"})
    assert uk["meta_name"] == "zoë"          # UTF-8 letters kept
    assert uk["meta_zip"] == "sw1a1aa" and uk["google_zip"] == "SW1A 1AA" and uk["country"] == "gb"


def test_meta_keys_follow_meta_rules():
    out = n.evaluate(n.meta_keys, {"email": "  Jane.Doe@Example.COM ", "first_name": "Jane", "last_name": "O'Neil",
                                   "city": "San Francisco", "state": "CA", "country": "US",
                                   "date_of_birth": "1990-03-04"})
    assert out["EMAIL"] == sha("jane.doe@example.com")
    assert out["LN"] == sha("oneil") and out["CT"] == sha("sanfrancisco") and out["ST"] == sha("ca")
    assert out["COUNTRY"] == sha("us")
    assert (out["DOBY"], out["DOBM"], out["DOBD"]) == (sha("1990"), sha("03"), sha("04"))
    assert out["MADID"] is None


def test_google_address_parts_region_and_postcode_unhashed():
    out = n.evaluate(n.google_keys, {"first_name": "Dana", "last_name": "Doe", "country": "GB", "postcode": "sw1a 1aa"})
    assert out["givenName"] == sha("dana") and out["familyName"] == sha("doe")
    assert out["regionCode"] == "GB" and out["postalCode"] == "SW1A 1AA"


def test_values_already_hashed_pass_through():
    h = sha("someone@example.com").upper()
    assert n.evaluate(n.meta_keys, {"email": h})["EMAIL"] == h.lower()
    assert n.evaluate(n.google_keys, {"email": h, "phone": h})["phoneNumber"] == h.lower()
    assert n.evaluate(n.meta_keys, {"email": ""})["EMAIL"] is None
