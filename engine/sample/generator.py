"""Generate the bundled sample: one coffee roaster's customers seen through eight exports.

    python sample_data/generate.py [--people 5000] [--seed 20261128] [--out sample_data] [--end YYYY-MM-DD]

Seeded and free of clock reads: the same arguments rewrite every file byte for byte.
`end` is the day of the most recent activity (default `END`, the committed files' day);
another day moves every activity date (orders, visits, payments, consents, CRM changes)
by the same whole number of days and changes nothing else, so a sample built for any day
tells the same story. Dates of birth do not move. `cdp sample` generates for the build day
(engine.sample.build_sample_workspace).
The story (Kettle & Crane: online shop, cafés with tills, a beans subscription, a CRM for
office-coffee leads, a website with paid traffic) is described in sample_data/README.md.
Ground truth (which record is which person) is written to truth.csv beside the data.

This is a small, readable, per-person generator on purpose: the sample is about realistic
mess (nicknames, typos, phone formats, households). bench/generate.py is the vectorised
generator for millions of rows.
"""
from __future__ import annotations

import argparse
import csv
import json
import random
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import engine.sample.vocab as V

SEED = 20261128
PEOPLE = 5000
# The committed files' dates. END is early in the day so that a sample built for today holds
# nothing later than the moment it is built (unless it is built before 06:00 UTC).
START = datetime(2024, 11, 1, tzinfo=timezone.utc)
END = datetime(2026, 11, 25, 6, 0, tzinfo=timezone.utc)       # the current exports' moment
PREVIOUS_EXPORT = datetime(2026, 8, 31, 18, 0, tzinfo=timezone.utc)
POLICY_2025 = datetime(2025, 6, 1, tzinfo=timezone.utc)        # consent policy version 2025-06
UTC = timezone.utc
# Web behaviour: share of visitors also seen in the last 30 days, chance a viewed product is
# added to the cart, and chance a cart (without an order) reaches the checkout page.
RECENT_VISIT = 0.2
ADD_TO_CART = 0.3
CHECKOUT_FROM_CART = 0.75

FILES = ["crm_contacts_previous.csv", "crm_contacts.csv", "shop_orders.csv", "pos_purchases.csv",
         "billing_subscriptions.csv", "billing_payments.csv", "consents.csv", "web_events.ndjson"]


@dataclass
class Person:
    person_id: str
    household_id: str
    first_name: str
    last_name: str
    email: str
    phone: str                   # E.164
    address_line1: str
    city: str
    postcode: str
    country: str
    date_of_birth: date | None
    work_email: str | None = None
    customer_id: str | None = None
    sources: set = field(default_factory=set)
    orders: list = field(default_factory=list)   # (order_id, datetime, amount, items)


class Gen:
    def __init__(self, people: int, seed: int, end: date | None = None):
        self.n = people
        shift = timedelta(days=(end - END.date()).days if end else 0)
        self.start, self.end = START + shift, END + shift
        self.previous_export, self.policy_2025 = PREVIOUS_EXPORT + shift, POLICY_2025 + shift
        self.r = random.Random(seed)
        self.truth: list[tuple] = []
        self.used_emails: set[str] = set()
        self.used_phones: set[str] = set()
        self.counters: dict[str, int] = {}

    # -- small helpers ------------------------------------------------------
    def next_id(self, prefix: str, start: int, width: int = 6) -> str:
        value = self.counters.get(prefix, start) + 1 + self.r.randrange(3)
        self.counters[prefix] = value
        return f"{prefix}{value:0{width}d}"

    def uid(self) -> str:
        return str(uuid.UUID(int=self.r.getrandbits(128), version=4))

    def when(self, lo: datetime, hi: datetime) -> datetime:
        seconds = max(1, int((hi - lo).total_seconds()))
        return lo + timedelta(seconds=self.r.randrange(seconds))

    def weighted(self, pairs):
        items, weights = zip(*pairs)
        return self.r.choices(items, weights=weights)[0]

    # -- people ---------------------------------------------------------------
    def new_phone(self, country: str, landline: bool = False) -> str:
        while True:
            if country == "IE":
                number = "+353" + ("1" if landline else self.r.choice(["83", "85", "86", "87"])) + \
                    f"{self.r.randrange(10**7):07d}"
            elif landline:
                number = "+44" + self.r.choice(["20", "161", "117", "131", "113"]) + f"{self.r.randrange(10**7):07d}"
            else:
                number = "+447" + self.r.choice(["4", "5", "7", "8", "9"]) + f"{self.r.randrange(10**8):08d}"
            if number not in self.used_phones:
                self.used_phones.add(number)
                return number

    def new_email(self, first: str, last: str, domain: str | None = None) -> str:
        f = _ascii(first).lower().replace(" ", "")
        la = _ascii(last).lower().replace("'", "").replace(" ", "").replace("-", "")
        domain = domain or self.weighted(V.EMAIL_DOMAINS)
        pattern = self.r.choice([f"{f}.{la}", f"{f}{la}", f"{f[0]}{la}", f"{f}_{la}",
                                 f"{f}.{la}{self.r.randrange(70, 100)}", f"{f}{self.r.randrange(1, 999)}"])
        email = f"{pattern}@{domain}"
        while email in self.used_emails:
            email = f"{pattern}{self.r.randrange(10, 9999)}@{domain}"
        self.used_emails.add(email)
        return email

    def people(self) -> list[Person]:
        out: list[Person] = []
        h = 0
        while len(out) < self.n:
            h += 1
            size = self.r.choices([1, 2, 3, 4], weights=[74, 16, 7, 3])[0]
            city, country, outwards, _ = self.r.choices(V.CITIES, weights=[c[3] for c in V.CITIES])[0]
            outward = self.r.choice(outwards)
            if country == "IE":
                postcode = f"{outward} {self.r.choice('ACDEFHKNPRTVWXY')}{self.r.randrange(100, 999)}"
            else:
                postcode = f"{outward} {self.r.randrange(1, 10)}{self.r.choice('ABDEFGHJLNPQRSTUWXYZ')}{self.r.choice('ABDEFGHJLNPQRSTUWXYZ')}"
            address = f"{self.r.randrange(1, 220)} {self.r.choice(V.STREETS)}"
            if self.r.random() < 0.2:
                address = f"Flat {self.r.randrange(1, 40)}, {address}"
            surname = self.r.choice(V.SAMPLE_LAST_NAMES)
            landline = self.new_phone(country, landline=True) if size > 1 and self.r.random() < 0.35 else None
            family_email = None
            if size > 1 and self.r.random() < 0.15:
                family_email = self.new_email("the", surname + "s")
            for k in range(size):
                if len(out) >= self.n:
                    break
                first = self.r.choice(V.SAMPLE_FIRST_NAMES)
                last = surname if (k == 0 or self.r.random() < 0.85) else self.r.choice(V.SAMPLE_LAST_NAMES)
                adult = k < 2 or self.r.random() < 0.5
                born = None
                if self.r.random() < 0.55:
                    age = self.r.randrange(19, 78) if adult else self.r.randrange(16, 24)
                    born = date(2026 - age, 1, 1) + timedelta(days=self.r.randrange(365))
                email = family_email if family_email and self.r.random() < 0.6 else self.new_email(first, last)
                phone = landline if landline and self.r.random() < 0.5 else self.new_phone(country)
                p = Person(f"P{len(out) + 1:05d}", f"H{h:05d}", first, last, email, phone, address,
                           city, postcode, country, born)
                if self.r.random() < 0.12:
                    p.work_email = self.new_email(first, last, domain=_company_domain(self.r))
                out.append(p)
        # which sources know each person
        for p in out:
            x = self.r.random
            if x() < 0.40:
                p.sources.add("shop")
            if x() < 0.12 or (p.city in {s[1] for s in V.STORES} and x() < 0.15):
                p.sources.add("pos")
            if x() < 0.13:
                p.sources.add("billing")
            if x() < 0.38:
                p.sources.add("crm")
            if x() < 0.42:
                p.sources.add("web")
            if not p.sources:
                p.sources.add(self.r.choice(["web", "web", "crm", "pos"]))
            if p.sources & {"shop", "billing"} or ("web" in p.sources and x() < 0.35):
                p.customer_id = self.next_id("C", 100000)
        return out

    def record(self, source: str, record_id: str, person: Person) -> None:
        self.truth.append((source, "record", record_id, person.person_id, person.household_id))

    # -- how people type themselves ------------------------------------------
    def first_variant(self, p: Person, messy: float) -> str:
        name = p.first_name
        roll = self.r.random()
        if roll < messy * 0.35 and name in V.NICKNAMES:
            name = self.r.choice(V.NICKNAMES[name])
        elif roll < messy * 0.5:
            name = _typo(self.r, name)
        elif roll < messy * 0.6:
            name = _ascii(name)
        return _case(self.r, name, messy)

    def last_variant(self, p: Person, messy: float) -> str:
        name = p.last_name
        roll = self.r.random()
        if roll < messy * 0.3:
            name = _typo(self.r, name)
        elif roll < messy * 0.55 and name != _ascii(name):
            name = self.r.choice([_ascii(name), name.replace("ü", "ue").replace("ä", "ae")])
        elif roll < messy * 0.65 and "'" in name:
            name = self.r.choice([name.replace("'", ""), name.replace("'", " "), name.replace("'", "’")])
        return _case(self.r, name, messy)

    def email_variant(self, p: Person, messy: float) -> str:
        email = p.email
        local, domain = email.split("@")
        roll = self.r.random()
        if roll < messy * 0.15 and domain in V.EMAIL_TYPO_DOMAINS:
            domain = self.r.choice(V.EMAIL_TYPO_DOMAINS[domain])
        elif roll < messy * 0.4:
            local = local.title() if self.r.random() < 0.5 else local.upper()
        elif roll < messy * 0.5:
            return f" {email} "
        return f"{local}@{domain}"

    def phone_variant(self, p: Person, messy: float) -> str:
        e164 = p.phone
        cc = "353" if e164.startswith("+353") else "44"
        national = "0" + e164[len(cc) + 1:]
        if self.r.random() > messy:
            return e164 if self.r.random() < 0.5 else national
        n = national
        formats = [
            e164, national, f"{n[:5]} {n[5:]}", f"+{cc} {n[1:5]} {n[5:]}", f"({n[:5]}) {n[5:8]}-{n[8:]}",
            f"00{cc} {n[1:]}", f"{n[:4]}-{n[4:7]}-{n[7:]}", n[1:], f"+{cc} (0){n[1:5]} {n[5:]}",
            f"{n[:3]} {n[3:7]} {n[7:]}",
        ]
        return self.r.choice(formats)

    # -- sources --------------------------------------------------------------
    def crm(self, people: list[Person]) -> tuple[list[list], list[list]]:
        header = ["contact_id", "customer_id", "first_name", "last_name", "email", "phone", "company",
                  "job_title", "city", "country", "lead_stage", "owner", "deal_value", "created_date",
                  "last_modified"]
        current, previous = [], []
        rank = {s: i for i, s in enumerate(V.LEAD_STAGES)}
        for p in (p for p in people if "crm" in p.sources):
            copies = 2 if self.r.random() < 0.08 else 1
            for copy in range(copies):
                cid = self.next_id("CRM-", 40000, 6)
                messy = 0.15 if copy == 0 else 0.8
                created = self.when(self.start - timedelta(days=300), self.end - timedelta(days=2))
                if p.customer_id or self.r.random() < 0.2:
                    stage = self.r.choices(V.LEAD_STAGES, weights=[10, 20, 15, 10, 12, 33])[0]
                else:
                    stage = self.r.choices(V.LEAD_STAGES[:5] + ["lost"], weights=[30, 30, 15, 8, 7, 10])[0]
                deal = ""
                if stage in {"opportunity", "customer", "sales_qualified"}:
                    deal = f"{self.r.choice([250, 480, 600, 900, 1200, 1800, 2400, 3600, 5000]) * (1 + self.r.randrange(3))}"
                email = p.work_email if (p.work_email and copy == 1) else self.email_variant(p, messy)
                company = self.r.choice(V.COMPANIES) if self.r.random() < 0.45 else ""
                updated = self.when(max(created, self.previous_export - timedelta(days=200)), self.end)
                row = [cid, p.customer_id if (p.customer_id and stage == "customer") else "",
                       self.first_variant(p, messy), self.last_variant(p, messy), email,
                       self.phone_variant(p, messy) if self.r.random() < 0.55 else "",
                       company, self.r.choice(["Office Manager", "Founder", "Operations Lead", "PA", ""]) if company else "",
                       p.city if self.r.random() < 0.8 else "", p.country,
                       stage, self.r.choice(V.CRM_OWNERS) if stage != "subscriber" else "", deal,
                       created.strftime("%Y-%m-%d %H:%M:%S"), updated.strftime("%Y-%m-%d %H:%M:%S")]
                current.append(row)
                self.record("crm", cid, p)
                if created < self.previous_export:
                    old = list(row)
                    if updated > self.previous_export:
                        old[14] = self.when(created, self.previous_export).strftime("%Y-%m-%d %H:%M:%S")
                        if stage in rank and rank[stage] > 0 and self.r.random() < 0.75:
                            old_stage = V.LEAD_STAGES[self.r.randrange(rank[stage])]
                            old[10] = old_stage
                            old[11] = row[11] if old_stage != "subscriber" else ""
                            old[12] = "" if old_stage not in {"opportunity", "sales_qualified"} else row[12]
                            old[1] = ""
                        elif stage == "lost":
                            old[10] = self.r.choice(["lead", "marketing_qualified", "opportunity"])
                    previous.append(old)
        current.sort(key=lambda r: r[0])
        previous.sort(key=lambda r: r[0])
        return [header] + current, [header] + previous

    def buying_history(self, p: Person, first_lo: datetime) -> list[datetime]:
        """Purchase times of a buyer: a personal rate and a chance to lapse after each order."""
        rate_days = self.r.gammavariate(1.2, 70)
        lapse = self.r.choice([0.2, 0.35, 0.5, 0.7])
        t = self.when(first_lo, self.end - timedelta(days=3))
        times = [t]
        while len(times) < 30 and self.r.random() > lapse:
            t = t + timedelta(days=max(2.0, self.r.expovariate(1 / max(rate_days, 5))))
            if t >= self.end:
                break
            times.append(t)
        return times

    def basket(self, n_max: int = 4) -> list[dict]:
        items = []
        for sku, name, category, price in self.r.sample(V.PRODUCTS, self.r.choices([1, 2, 3, 4][:n_max], weights=[55, 28, 12, 5][:n_max])[0]):
            qty = 1 if category != "beans" else self.r.choice([1, 1, 2, 3])
            items.append({"sku": sku, "name": name, "category": category, "quantity": qty, "price": price})
        return items

    def shop(self, people: list[Person]) -> list[list]:
        header = ["order_id", "created_at", "customer_id", "email", "billing_first_name", "billing_last_name",
                  "phone", "shipping_address", "shipping_city", "shipping_postcode", "shipping_country",
                  "total", "currency", "item_count", "line_items", "discount_code", "financial_status"]
        rows = []
        for p in (p for p in people if "shop" in p.sources):
            for t in self.buying_history(p, self.start):
                oid = self.next_id("KC", 10000, 6)
                items = self.basket()
                total = round(sum(i["price"] * i["quantity"] for i in items) + (0 if self.r.random() < 0.6 else 3.95), 2)
                guest = self.r.random() < 0.12
                discount = self.r.choice(["", "", "", "", "WELCOME10", "BLACKFRIDAY", "AUTUMN15"])
                if discount:
                    total = round(total * 0.9, 2)
                currency = "EUR" if p.country == "IE" else "GBP"
                email = p.work_email if (guest and p.work_email) else self.email_variant(p, 0.1)
                rows.append([oid, t.isoformat(timespec="seconds"), "" if guest else p.customer_id, email,
                             self.first_variant(p, 0.1), self.last_variant(p, 0.1),
                             self.phone_variant(p, 0.3) if self.r.random() < 0.7 else "",
                             p.address_line1, p.city, p.postcode, p.country, f"{total:.2f}", currency,
                             sum(i["quantity"] for i in items), json.dumps(items, ensure_ascii=False, separators=(",", ":")),
                             discount, "refunded" if self.r.random() < 0.03 else "paid"])
                p.orders.append((oid, t, total, items, currency))
                self.record("shop", oid, p)
        rows.sort(key=lambda r: r[0])
        return [header] + rows

    def pos(self, people: list[Person]) -> list[list]:
        header = ["Receipt No", "Date", "Time", "Store", "Staff", "First Name", "Surname", "Phone",
                  "Email", "Postcode", "Items", "Total", "Payment", "Loyalty Card"]
        rows = []
        stores_by_city = {city: name for name, city in V.STORES}
        for p in (p for p in people if "pos" in p.sources):
            store = stores_by_city.get(p.city) or self.r.choice(V.STORES)[0]
            card = f"LC{self.r.randrange(10**7):07d}" if self.r.random() < 0.3 else ""
            visits = self.buying_history(p, self.start)
            for t in visits:
                rid = f"{store[:3].upper()}-{self.next_id('R', 500000, 7)[1:]}"
                cafe = self.r.sample(V.CAFE_ITEMS, self.r.randrange(1, 4))
                amount = sum(price for _, price in cafe)
                names = [n for n, _ in cafe]
                if self.r.random() < 0.25:
                    sku, name, cat, price = self.r.choice(V.PRODUCTS[:6] + V.PRODUCTS[13:16])
                    amount += price
                    names.append(name)
                email = ""
                if self.r.random() < 0.35:
                    email = self.email_variant(p, 0.6)
                phone = self.phone_variant(p, 0.9) if self.r.random() < 0.75 else ""
                if not email and not phone and not card:
                    phone = self.phone_variant(p, 0.9)
                local = t.astimezone(UTC) + timedelta(hours=self.r.choice([0, 1]))
                local = local.replace(hour=self.r.randrange(7, 19))
                first = self.first_variant(p, 0.7) if self.r.random() < 0.9 else ""
                rows.append([rid, local.strftime("%d/%m/%Y"), local.strftime("%H:%M"), store,
                             self.r.choice(V.STAFF), first, self.last_variant(p, 0.7), phone, email,
                             p.postcode if self.r.random() < 0.4 else "", "; ".join(names),
                             f"{amount:.2f}".replace(".", ","), self.r.choice(["Card", "Card", "Card", "Cash", "Apple Pay"]),
                             card])
                self.record("pos", rid, p)
        rows.sort(key=lambda r: r[0])
        return [header] + rows

    def billing(self, people: list[Person]) -> tuple[list[list], list[list]]:
        sub_header = ["subscription_id", "customer_id", "customer_email", "customer_name", "plan", "status",
                      "start_date", "canceled_at", "unit_amount", "currency", "interval", "cancellation_reason"]
        pay_header = ["payment_id", "subscription_id", "customer_id", "customer_email", "paid_at", "amount",
                      "currency", "status"]
        subs, pays = [], []
        for p in (p for p in people if "billing" in p.sources):
            start = self.when(self.start, self.end - timedelta(days=5))
            count = 2 if self.r.random() < 0.12 else 1
            currency = "EUR" if p.country == "IE" else "GBP"
            for k in range(count):
                sid = self.next_id("sub_", 1000, 6)
                plan, price, interval = self.r.choice(V.PLANS)
                price = round(price * (1.08 if currency == "EUR" else 1.0), 2)
                cancelled = None
                if k + 1 < count:
                    cancelled = self.when(start + timedelta(days=35), min(self.end, start + timedelta(days=300)))
                elif self.r.random() < 0.32:
                    cancelled = self.when(start + timedelta(days=10), self.end)
                if cancelled:
                    status = "cancelled"
                elif (self.end - start).days < 14:
                    status = "trialing"
                else:
                    status = "past_due" if self.r.random() < 0.06 else "active"
                subs.append([sid, p.customer_id, p.email, f"{p.first_name} {p.last_name}", plan, status,
                             start.strftime("%Y-%m-%dT%H:%M:%SZ"),
                             cancelled.strftime("%Y-%m-%dT%H:%M:%SZ") if cancelled else "",
                             f"{price:.2f}", currency.lower(), interval,
                             self.r.choice(["too_expensive", "too_much_coffee", "moved_away", "switched_plan", ""])
                             if cancelled else ""])
                self.record("billing", sid, p)
                step = 30 if interval == "month" else 365
                t = start + timedelta(days=14)
                stop = min(cancelled or self.end, self.end)
                while t < stop:
                    pid = self.next_id("py_", 700000, 7)
                    failed = status == "past_due" and t + timedelta(days=step) >= stop or self.r.random() < 0.02
                    pays.append([pid, sid, p.customer_id, p.email, t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 f"{price:.2f}", currency.lower(), "failed" if failed else "succeeded"])
                    self.record("billing_payments", pid, p)
                    t += timedelta(days=step)
                start = cancelled + timedelta(days=self.r.randrange(0, 3)) if cancelled else start
        subs.sort(key=lambda r: r[0])
        pays.sort(key=lambda r: r[0])
        return [sub_header] + subs, [pay_header] + pays

    def consents(self, people: list[Person]) -> list[list]:
        header = ["consent_id", "email", "customer_id", "purpose", "granted", "recorded_at", "method", "policy_version"]
        rows = []
        for p in people:
            if not (p.sources & {"shop", "crm", "billing", "web"}) or self.r.random() > 0.4:
                continue
            t = self.when(self.start - timedelta(days=120), self.end - timedelta(days=10))
            method = self.r.choice(V.CONSENT_METHODS)
            for purpose, p_grant in zip(V.CONSENT_PURPOSES, [0.9, 0.7, 0.55, 0.3]):
                if purpose in ("sale_sharing", "analytics") and self.r.random() < 0.6:
                    continue
                granted = self.r.random() < p_grant
                cid = self.next_id("CN", 300000, 7)
                rows.append([cid, self.email_variant(p, 0.1), p.customer_id or "", purpose,
                             "true" if granted else "false", t.strftime("%Y-%m-%dT%H:%M:%SZ"), method,
                             "2024-06" if t < self.policy_2025 else "2025-06"])
                self.record("consent_platform", cid, p)
                if granted and self.r.random() < 0.12:
                    later = self.when(t + timedelta(days=1), self.end)
                    cid = self.next_id("CN", 300000, 7)
                    rows.append([cid, p.email, p.customer_id or "", purpose, "false",
                                 later.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 self.r.choice(["preference_center", "unsubscribe_link", "gpc"]), "2025-06"])
                    self.record("consent_platform", cid, p)
        rows.sort(key=lambda r: r[0])
        return [header] + rows

    # -- website --------------------------------------------------------------
    def web(self, people: list[Person]) -> list[dict]:
        events: list[dict] = []
        for p in (p for p in people if "web" in p.sources):
            devices = [self.uid() for _ in range(2 if self.r.random() < 0.18 else 1)]
            ua = {d: self.r.choice(V.USER_AGENTS) for d in devices}
            for d in devices:
                self.truth.append(("web", "anonymous_id", d, p.person_id, p.household_id))
            identifies = p.customer_id is not None or self.r.random() < 0.45
            if p.customer_id:
                self.truth.append(("web", "user_id", p.customer_id, p.person_id, p.household_id))
            consent = None
            if self.r.random() < 0.35:
                consent = {"categoryPreferences": {"analytics": True, "advertising": self.r.random() < 0.6,
                                                   "functional": True}}
            # sessions: a few browsing visits, plus the visits that ended in up to 3 recent shop orders
            starts = [self.when(self.start, self.end) for _ in range(self.r.choices([1, 2], weights=[85, 15])[0])]
            if self.r.random() < RECENT_VISIT:
                starts.append(self.when(self.end - timedelta(days=30), self.end))
            starts.sort()
            recent = p.orders[-1:] if self.r.random() < 0.4 else []
            purchases = {o[1] - timedelta(minutes=self.r.randrange(3, 25)): o for o in recent}
            sessions = sorted([(s, None) for s in starts] + list(purchases.items()), key=lambda x: x[0])
            identified: set[str] = set()
            for i, (t, order) in enumerate(sessions):
                device = devices[i % len(devices)]
                user_id = p.customer_id if device in identified else None
                t, evs = self.session(p, device, ua[device], user_id, t, order, consent)
                events.extend(evs)
                if identifies and device not in identified and (i == len(sessions) - 1 or self.r.random() < 0.5 or order):
                    if not identified and p.customer_id and not p.orders and self.r.random() < 0.8:
                        events.append(self.event("track", device, p.customer_id, t + timedelta(seconds=20), ua[device],
                                                 consent, event="Signed Up", properties={"method": "email"}))
                    traits = {"email": p.email, "firstName": p.first_name, "lastName": p.last_name}
                    if self.r.random() < 0.3:
                        traits["phone"] = p.phone
                    events.append(self.event("identify", device, p.customer_id, t + timedelta(seconds=30), ua[device],
                                             consent, traits=traits))
                    identified.add(device)
        events.sort(key=lambda e: (e["timestamp"], e["messageId"]))
        return events

    def session(self, p, device, ua, user_id, t, order, consent):
        out = []
        channel = self.r.random()
        query, campaign, referrer = "", None, self.r.choice(V.ORGANIC_REFERRERS)
        if channel < 0.55:
            src, medium, host, click, names = self.r.choice(V.CAMPAIGN_CHANNELS)
            name = self.r.choice(names)
            campaign = {"name": name, "source": src, "medium": medium}
            query = f"?utm_source={src}&utm_medium={medium}&utm_campaign={name}"
            if medium != "email" and self.r.random() < 0.5:
                campaign["content"] = self.r.choice(["video_a", "carousel_b", "static_c"])
                query += f"&utm_content={campaign['content']}"
            if click and self.r.random() < 0.7:
                query += f"&{click}={self.r.getrandbits(64):x}{self.r.getrandbits(32):x}"
            referrer = f"https://{host}/" if host else ""
        landing = self.r.choice(["/", "/shop/beans", "/shop/equipment", "/subscribe", "/journal/brew-guide-v60"])
        out.append(self.event("page", device, user_id, t, ua, consent, name=_title(landing),
                              page={"path": landing, "url": f"{V.SITE}{landing}{query}", "referrer": referrer,
                                    "title": f"{_title(landing)} | Kettle & Crane"},
                              campaign=campaign))
        viewed = [self.r.choice(V.PRODUCTS) for _ in range(self.r.choices([0, 1, 2, 3], weights=[40, 38, 16, 6])[0])]
        if order:
            viewed = [(i["sku"], i["name"], i["category"], i["price"]) for i in order[3][:2]]
        cart = []
        for sku, name, category, price in viewed:
            t += timedelta(seconds=self.r.randrange(15, 240))
            out.append(self.event("track", device, user_id, t, ua, consent, event="Product Viewed",
                                  properties={"product_id": sku, "sku": sku, "name": name, "category": category,
                                              "price": price, "currency": "GBP"}))
            if order or self.r.random() < ADD_TO_CART:
                t += timedelta(seconds=self.r.randrange(5, 90))
                out.append(self.event("track", device, user_id, t, ua, consent, event="Product Added",
                                      properties={"product_id": sku, "sku": sku, "name": name, "price": price,
                                                  "quantity": 1, "currency": "GBP"}))
                cart.append({"product_id": sku, "sku": sku, "name": name, "price": price, "quantity": 1,
                             "category": category})
        if not order and cart and self.r.random() < CHECKOUT_FROM_CART:
            # An abandoned checkout: the cart reached the checkout page and no order followed.
            # The checkout asks for an email first, so most abandoners can be recognised.
            t += timedelta(seconds=self.r.randrange(20, 300))
            if user_id is None and self.r.random() < 0.7:
                out.append(self.event("identify", device, p.customer_id, t, ua, consent, traits={"email": p.email}))
            out.append(self.event("track", device, user_id or p.customer_id, t + timedelta(seconds=5), ua, consent,
                                  event="Checkout Started",
                                  properties={"checkout_id": f"chk_{self.r.getrandbits(64):016x}",
                                              "value": round(sum(i["price"] for i in cart), 2),
                                              "currency": "EUR" if p.country == "IE" else "GBP", "products": cart}))
            t += timedelta(seconds=5)
        if order:
            oid, when, total, items, currency = order
            products = [{"product_id": i["sku"], "sku": i["sku"], "name": i["name"], "price": i["price"],
                         "quantity": i["quantity"], "category": i["category"]} for i in items]
            out.append(self.event("track", device, user_id, when - timedelta(minutes=2), ua, consent,
                                  event="Checkout Started",
                                  properties={"order_id": oid, "value": total, "currency": currency, "products": products}))
            out.append(self.event("track", device, user_id, when, ua, consent, event="Order Completed",
                                  properties={"order_id": oid, "total": total, "revenue": total, "currency": currency,
                                              "products": products}))
            t = when
        return t, out

    def event(self, type_, anonymous_id, user_id, t, ua, consent, *, event=None, name=None, properties=None,
              traits=None, page=None, campaign=None):
        msg: dict = {"messageId": self.uid(), "type": type_}
        if event:
            msg["event"] = event
        if name:
            msg["name"] = name
        msg["anonymousId"] = anonymous_id
        if user_id:
            msg["userId"] = user_id
        if properties is not None:
            msg["properties"] = properties
        if traits is not None:
            msg["traits"] = traits
        context: dict = {"library": {"name": "analytics.js", "version": "next-1.70.0"}, "userAgent": ua}
        if page:
            context["page"] = page
        if campaign:
            context["campaign"] = campaign
        if consent:
            context["consent"] = consent
        msg["context"] = context
        msg["timestamp"] = _iso_ms(t)
        skew = timedelta(seconds=self.r.randrange(1, 4)) if self.r.random() < 0.95 else timedelta(minutes=-7)
        msg["sentAt"] = _iso_ms(t + skew)
        return msg


# -- text helpers ---------------------------------------------------------------
def _ascii(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _typo(r: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = r.randrange(1, len(text) - 1)
    kind = r.randrange(3)
    if kind == 0:
        return text[:i] + text[i + 1] + text[i] + text[i + 2:]   # swap
    if kind == 1:
        return text[:i] + text[i + 1:]                            # drop
    return text[:i] + text[i] + text[i:]                          # double


def _case(r: random.Random, text: str, messy: float) -> str:
    roll = r.random()
    if roll < messy * 0.15:
        return text.upper()
    if roll < messy * 0.25:
        return text.lower()
    if roll < messy * 0.3:
        return f" {text}"
    return text


def _company_domain(r: random.Random) -> str:
    name = r.choice(V.COMPANIES).lower()
    return "".join(ch for ch in name if ch.isalnum()) + ".co.uk"


def _title(path: str) -> str:
    return {"/": "Home", "/shop/beans": "Coffee Beans", "/shop/equipment": "Brewing Equipment",
            "/subscribe": "Subscribe", "/journal/brew-guide-v60": "V60 Brew Guide"}[path]


def _iso_ms(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> int:
    with open(path, "w", newline="", encoding=encoding) as fh:
        csv.writer(fh, lineterminator="\r\n" if encoding == "cp1252" else "\n").writerows(rows)
    return len(rows) - 1


# -- manifest -------------------------------------------------------------------
PERSON = {"customer_id": "customer_id", "email": "email", "first_name": "first_name", "last_name": "last_name",
          "phone": "phone"}
MANIFEST = [
    {"file": "crm_contacts_previous.csv", "kind": "contacts", "source": "crm", "id_column": "contact_id",
     "description": "CRM export of {previous} (older: loaded first so lead stage changes show)",
     "mapping": {**PERSON, "city": "city", "country": "country", "lead_stage": "lead_stage", "owner": "owner",
                 "deal_value": "deal_value", "created_date": "created_at", "last_modified": "updated_at"}},
    {"file": "crm_contacts.csv", "kind": "contacts", "source": "crm", "id_column": "contact_id",
     "description": "CRM export of {end}",
     "mapping": {**PERSON, "city": "city", "country": "country", "lead_stage": "lead_stage", "owner": "owner",
                 "deal_value": "deal_value", "created_date": "created_at", "last_modified": "updated_at"}},
    {"file": "shop_orders.csv", "kind": "orders", "source": "shop", "id_column": "order_id",
     "description": "Online shop orders (ISO timestamps, guest checkouts without customer_id)",
     "mapping": {"order_id": "order_id", "created_at": "ordered_at", "customer_id": "customer_id", "email": "email",
                 "billing_first_name": "first_name", "billing_last_name": "last_name", "phone": "phone",
                 "shipping_address": "address_line1", "shipping_city": "city", "shipping_postcode": "postcode",
                 "shipping_country": "country", "total": "amount", "currency": "currency",
                 "item_count": "quantity", "line_items": "items", "financial_status": "status"}},
    {"file": "pos_purchases.csv", "kind": "orders", "source": "pos", "id_column": "Receipt No",
     "description": "Café till purchases typed by staff: Windows-1252, DD/MM/YYYY dates, decimal commas",
     "encoding": "cp1252", "date_format": "DD/MM/YYYY", "decimal": ",",
     "mapping": {"Receipt No": "order_id", "Date": "ordered_at", "Store": "store", "First Name": "first_name",
                 "Surname": "last_name", "Phone": "phone", "Email": "email", "Postcode": "postcode",
                 "Total": "amount"}},
    {"file": "billing_subscriptions.csv", "kind": "subscriptions", "source": "billing", "id_column": "subscription_id",
     "description": "Subscription billing: plans, status, starts and cancellations",
     "mapping": {"subscription_id": "subscription_id", "customer_id": "customer_id", "customer_email": "email",
                 "plan": "plan", "status": "status", "start_date": "started_at", "canceled_at": "cancelled_at",
                 "unit_amount": "amount", "currency": "currency", "interval": "billing_interval"}},
    {"file": "billing_payments.csv", "kind": "orders", "source": "billing_payments", "id_column": "payment_id",
     "description": "Subscription payments (one row per charge, failed ones included)",
     "mapping": {"payment_id": "order_id", "customer_id": "customer_id", "customer_email": "email",
                 "paid_at": "ordered_at", "amount": "amount", "currency": "currency", "status": "status"}},
    {"file": "consents.csv", "kind": "consents", "source": "consent_platform", "id_column": "consent_id",
     "description": "Consent given or withdrawn per purpose (analytics, email, advertising, sale_sharing)",
     "mapping": {"email": "email", "customer_id": "customer_id", "purpose": "purpose", "granted": "granted",
                 "recorded_at": "recorded_at", "method": "method"}},
    {"file": "web_events.ndjson", "kind": "events", "source": "web", "id_column": "messageId",
     "description": "Website events in Segment-spec NDJSON (page, track, identify)",
     "mapping": None},
]


def generate(out: Path, people: int = PEOPLE, seed: int = SEED, end: date | None = None,
             truth: bool = True) -> dict:
    """Write every sample file into out, the most recent activity on day `end` (default END's);
    returns row counts per file. `truth=False` leaves out truth.csv (a build does not read it)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    g = Gen(people, seed, end)
    persons = g.people()
    crm_now, crm_before = g.crm(persons)
    shop = g.shop(persons)
    pos = g.pos(persons)
    subs, pays = g.billing(persons)
    consents = g.consents(persons)
    events = g.web(persons)
    counts = {
        "crm_contacts_previous.csv": _write_csv(out / "crm_contacts_previous.csv", crm_before),
        "crm_contacts.csv": _write_csv(out / "crm_contacts.csv", crm_now),
        "shop_orders.csv": _write_csv(out / "shop_orders.csv", shop),
        "pos_purchases.csv": _write_csv(out / "pos_purchases.csv", pos, encoding="cp1252"),
        "billing_subscriptions.csv": _write_csv(out / "billing_subscriptions.csv", subs),
        "billing_payments.csv": _write_csv(out / "billing_payments.csv", pays),
        "consents.csv": _write_csv(out / "consents.csv", consents),
    }
    with open(out / "web_events.ndjson", "w", encoding="utf-8", newline="\n") as fh:
        for e in events:
            fh.write(json.dumps(e, ensure_ascii=False, separators=(",", ":")) + "\n")
    counts["web_events.ndjson"] = len(events)
    if truth:
        _write_csv(out / "truth.csv", [["source", "id_type", "source_record_id", "person_id", "household_id"]]
                   + sorted(set(g.truth)))
    dates = {"end": g.end.strftime("%Y-%m-%d"), "previous": g.previous_export.strftime("%Y-%m-%d")}
    manifest = {
        "description": "Kettle & Crane sample: one coffee roaster's customers seen through eight exports. "
                       "Load the files in this order; generated by sample_data/generate.py.",
        "seed": seed, "people": people, "as_of": dates["end"],
        "truth": "truth.csv" if truth else None,
        "files": [{**m, "description": m["description"].format(**dates), "rows": counts[m["file"]]}
                  for m in MANIFEST],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return counts


def main(argv: list[str] | None = None, default_out: Path | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=PEOPLE)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--end", type=date.fromisoformat, default=None,
                        help=f"day of the most recent activity (default {END:%Y-%m-%d}, the committed files)")
    args = parser.parse_args(argv)
    if args.out is None:
        parser.error("--out is required")
    counts = generate(args.out, args.people, args.seed, args.end)
    for name, n in counts.items():
        print(f"{name:28s} {n:7d} rows")
    return 0
