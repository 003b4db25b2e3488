"""Seeded small people data for identity property tests: typos, shared household emails,
several systems' own customer ids, records without email or phone."""
from __future__ import annotations

import random

FIRST = ["anna", "bert", "carla", "dmitri", "elena", "farid", "greta", "hugo", "ines", "jonas", "kaito", "lena",
         "marco", "nadia", "oskar", "priya", "quinn", "rosa", "stefan", "tara"]
LAST = ["abbott", "becker", "costa", "dvorak", "eriksen", "fischer", "garcia", "horvat", "ivanova", "jensen",
        "kowalski", "lindqvist", "moreau", "nakamura", "okafor", "petrov"]
STREETS = ["Elm Road", "Mill Lane", "High Street", "Station Road", "Park Avenue", "Church Walk"]
SOURCES = ["crm", "shop", "pos", "billing"]


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4 or rng.random() < 0.5:
        return text
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1] + text[i] + text[i + 2:]


def people(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        household = i // 3 if rng.random() < 0.3 else i   # some share a home and an email
        out.append(dict(first=rng.choice(FIRST), last=LAST[household % len(LAST)],
                        dob=f"{1950 + rng.randrange(50)}-{1 + rng.randrange(12):02d}-{1 + rng.randrange(28):02d}",
                        address=f"{1 + household} {STREETS[household % len(STREETS)]}",
                        postcode=f"{10000 + household}", city="Springfield",
                        email=f"home{household}@mail.test" if household != i else f"p{i}@mail.test"))
    return out


def records(persons: list[dict], seed: int, start: int = 0) -> list[dict]:
    """One to three records per person, each in a source with that source's own customer id;
    some records carry no email (a till receipt, a mailing list)."""
    rng = random.Random(seed)
    rows = []
    for i, p in enumerate(persons):
        for k in range(1 + rng.randrange(3)):
            source = rng.choice(SOURCES)
            row = dict(source=source, source_record_id=f"r{start + i}-{k}", first_name=_typo(rng, p["first"]).title(),
                       last_name=_typo(rng, p["last"]).title(), date_of_birth=p["dob"],
                       address_line1=p["address"], city=p["city"], postcode=p["postcode"])
            if rng.random() < 0.7:
                row["email"] = p["email"]
            if rng.random() < 0.5:
                row["customer_id"] = f"{source[:2].upper()}{start + i:05d}"
            rows.append(row)
    return rows
