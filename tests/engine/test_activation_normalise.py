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
        "google_given": n.name_google(c["first_name"], n.NAME_PREFIXES, "prefix"),
        "google_family": n.name_google(c["last_name"], n.NAME_SUFFIXES, "suffix"),
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
    assert out["google_given"] == "mary-ann"      # Google: the prefix goes, nothing else
    assert out["google_family"] == "smith"
    assert out["meta_zip"] == "94025" and out["google_zip"] == "94025"
    assert out["country"] == "us"
    uk = fmt({"first_name": "Zoë", "postcode": "SW1A 1AA", "country": "uk"})
    assert uk["meta_name"] == "zoë"          # UTF-8 letters kept
    assert uk["meta_zip"] == "sw1a1aa" and uk["google_zip"] == "SW1A 1AA" and uk["country"] == "gb"
    assert fmt({"postcode": " 1229-076  ", "country": "PT"})["google_zip"] == "1229-076"


def test_meta_keys_follow_meta_rules():
    out = n.evaluate(n.meta_keys, {"email": "  Jane.Doe@Example.COM ", "first_name": "Jane", "last_name": "O'Neil",
                                   "city": "San Francisco", "state": "CA", "country": "US",
                                   "date_of_birth": "1990-03-04"})
    assert out["EMAIL"] == sha("jane.doe@example.com")
    assert out["LN"] == sha("oneil") and out["CT"] == sha("sanfrancisco") and out["ST"] == sha("ca")
    assert out["COUNTRY"] == sha("us")
    assert (out["DOBY"], out["DOBM"], out["DOBD"]) == (sha("1990"), sha("03"), sha("04"))
    assert out["MADID"] is None
    # Mobile advertiser ids: plain lowercase with hyphens, never hashed.
    ad = n.evaluate(n.meta_keys, {"madid": " 6D92078A-8246-4BA4-AE5B-76104861E7DC "})
    assert ad["MADID"] == "6d92078a-8246-4ba4-ae5b-76104861e7dc"


def test_google_address_parts_region_and_postcode_unhashed():
    out = n.evaluate(n.google_keys, {"first_name": "Dana", "last_name": "Doe", "country": "GB", "postcode": "sw1a 1aa"})
    assert out["givenName"] == sha("dana") and out["familyName"] == sha("doe")
    assert out["regionCode"] == "GB" and out["postalCode"] == "sw1a 1aa"   # trimmed, not rewritten


def test_google_formatting_guide_examples():
    """Every rule of the Data Manager API's "Format user data" guide, on its own examples
    (and those of Google's formatter library for the Data Manager API)."""
    # Email: lowercase; leading, trailing and intermediate whitespace removed; gmail dots and +suffix.
    assert fmt({"email": "QuinnY@EXAMPLE.com"})["google_email"] == "quinny@example.com"
    assert fmt({"email": "Jefferson.Loves.hiking@gmail.com"})["google_email"] == "jeffersonloveshiking@gmail.com"
    assert fmt({"email": " alexz @example.com "})["google_email"] == "alexz@example.com"
    assert n.evaluate(n.google_keys, {"email": "  ALEXZ@example.com   "})["emailAddress"] == \
        "509e933019bb285a134a9334b8bb679dff79d0ce023d529af4bd744d47b4fd8a"
    # Phone: E.164 with the plus sign and the country code.
    for typed in ("+18005550100", "   +1-800-555-0100", "1-800-555-0100   ", "1 800 555 0100", "(800)555-0100"):
        assert n.evaluate(n.google_keys, {"phone": typed}, default_country="US")["phoneNumber"] == \
            "fb4f73a6ec5fdb7077d564cdd22c3554b43ce49168550c3b12c547b78c517b30", typed
    assert fmt({"phone": "+44-113-496-0987"})["google_phone"] == "+441134960987"
    # Names: lowercase, trimmed, no prefix (given) or suffix (family); punctuation is kept.
    out = n.evaluate(n.google_keys, {"first_name": "  GivenName  ", "last_name": "  FamilyName "})
    assert (out["givenName"], out["familyName"]) == (
        "128a07bfe2df877c52076e60d7774cf5baaa046c5a6c48daf30ff43ecca2f814",
        "77762c287e61ce065bee5c15464012c6fbe088398b8057627d5577249430d574")
    out = fmt({"first_name": "Mrs. Siobhán", "last_name": " O'Sullivan Jr. "})
    assert (out["google_given"], out["google_family"]) == ("siobhán", "o'sullivan")
    assert fmt({"last_name": "Smith-Jones, III"})["google_family"] == "smith-jones"
    # Region code: two letters, upper case, unhashed; postal code trimmed, unhashed.
    out = n.evaluate(n.google_keys, {"country": " us", "postcode": "94043"})
    assert (out["regionCode"], out["postalCode"]) == ("US", "94043")


def test_values_already_hashed_pass_through():
    h = sha("someone@example.com").upper()
    assert n.evaluate(n.meta_keys, {"email": h})["EMAIL"] == h.lower()
    assert n.evaluate(n.google_keys, {"email": h, "phone": h})["phoneNumber"] == h.lower()
    assert n.evaluate(n.meta_keys, {"email": ""})["EMAIL"] is None
