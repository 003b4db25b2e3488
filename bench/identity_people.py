"""Labelled synthetic person records for the identity benchmark.

People live in households (shared surname, address, sometimes a family email; now and
then twins with one birth date), and each person appears in 1-5 source records typed by
different people: typos, nicknames, swapped first/last names, day/month swaps in birth
dates, missing values, street-type abbreviations, people who moved. `person_id` is the
truth. Names come from Faker's US frequency lists (weighted, so Smiths are common).

Everything is seeded: the same (n, seed, contacts) always gives the same rows.
"""
from __future__ import annotations

import string

import numpy as np
import pandas as pd

from engine.identity.nicknames import NICKNAMES

SOURCES = np.array(["crm", "pos", "shop", "billing"])
STREET_TYPES = [("Street", "St"), ("Road", "Rd"), ("Avenue", "Ave"), ("Drive", "Dr"), ("Lane", "Ln"),
                ("Court", "Ct"), ("Place", "Pl"), ("Boulevard", "Blvd"), ("Terrace", "Ter"), ("Way", "Way")]
EMAIL_DOMAINS = np.array(["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com", "icloud.com"])


def _weighted(rng, table: dict, size: int) -> np.ndarray:
    names = np.array(list(table.keys()))
    p = np.array(list(table.values()), dtype=float)
    return names[rng.choice(len(names), size=size, p=p / p.sum())]


def _typo(rng, word: str) -> str:
    if not word or len(word) < 3:
        return word
    i = int(rng.integers(1, len(word)))  # first letter usually survives
    op = rng.integers(4)
    letter = string.ascii_lowercase[int(rng.integers(26))]
    if op == 0:
        return word[:i] + letter + word[i + 1:]
    if op == 1:
        return word[:i] + word[i + 1:]
    if op == 2:
        return word[:i] + letter + word[i:]
    j = min(i + 1, len(word) - 1)
    return word[:i] + word[j] + word[i] + word[j + 1:] if j > i else word


def _apply(rng, values: np.ndarray, mask: np.ndarray, fn) -> np.ndarray:
    out = values.copy()
    idx = np.flatnonzero(mask)
    out[idx] = [fn(rng, v) if isinstance(v, str) else v for v in values[idx]]
    return out


def generate(n_records: int, seed: int = 7, contacts: bool = False) -> pd.DataFrame:
    """n_records rows: person_id (truth), source, source_record_id and person fields."""
    from faker.providers.person.en_US import Provider as People

    rng = np.random.default_rng(seed)
    sizes = rng.choice([1, 2, 3, 4, 5], size=n_records, p=[0.35, 0.30, 0.20, 0.10, 0.05])
    n_people = int(np.searchsorted(np.cumsum(sizes), n_records)) + 1
    sizes = sizes[:n_people]
    sizes[-1] -= sizes.sum() - n_records

    # Households of 1-4 people.
    hh_sizes = rng.choice([1, 2, 3, 4], size=n_people, p=[0.55, 0.25, 0.12, 0.08])
    household = np.repeat(np.arange(n_people), hh_sizes)[:n_people]
    n_hh = household.max() + 1
    surnames = _weighted(rng, People.last_names, n_hh)
    streets = _weighted(rng, People.last_names, n_hh)
    street_type = rng.integers(len(STREET_TYPES), size=n_hh)
    house_no = rng.integers(1, 9999, size=n_hh)
    n_cities = max(50, n_hh // 150)
    city_names = np.char.add(_weighted(rng, People.last_names, n_cities).astype(str),
                             rng.choice(["ville", "ton", " City", "burg", " Falls", "field", " Springs"], n_cities))
    hh_city = rng.integers(n_cities, size=n_hh)
    hh_postcode = np.char.zfill((hh_city * 7 + rng.integers(7, size=n_hh) + 10000).astype(str), 5)

    # People.
    female = rng.random(n_people) < 0.5
    first = np.where(female, _weighted(rng, People.first_names_female, n_people),
                     _weighted(rng, People.first_names_male, n_people))
    last = surnames[household].copy()
    own_name = rng.random(n_people) < 0.1
    last[own_name] = _weighted(rng, People.last_names, int(own_name.sum()))
    dob = np.datetime64("1940-01-01") + rng.integers(0, 68 * 365, size=n_people).astype("timedelta64[D]")
    twins = (np.r_[False, household[1:] == household[:-1]]) & (rng.random(n_people) < 0.03)
    dob[twins] = dob[np.flatnonzero(twins) - 1]
    street = np.array([f"{n} {s} {STREET_TYPES[t][0]}" for n, s, t in zip(house_no, streets, street_type)])
    address = street[household]
    city = city_names[hh_city][household]
    postcode = hh_postcode[household]

    # Records: one row per appearance of a person.
    pid = np.repeat(np.arange(n_people), sizes)
    n = len(pid)
    rec = pd.DataFrame({
        "person_id": pid,
        "first_name": first[pid].astype(object), "last_name": last[pid].astype(object),
        "address_line1": address[pid].astype(object), "city": city[pid].astype(object),
        "postcode": postcode[pid].astype(object), "date_of_birth": dob[pid],
    })
    first_rec = np.r_[True, pid[1:] != pid[:-1]]

    # People who moved: later records carry another address.
    moved = (~first_rec) & (rng.random(n) < 0.12)
    other = rng.integers(n_hh, size=int(moved.sum()))
    rec.loc[moved, "address_line1"] = street[other]
    rec.loc[moved, "city"] = city_names[hh_city][other]
    rec.loc[moved, "postcode"] = hh_postcode[other]

    lower = {k: v for k, v in NICKNAMES.items()}
    variants: dict[str, list[str]] = {}
    for nick, canon in lower.items():
        variants.setdefault(canon, []).append(nick)
    fn = rec["first_name"].to_numpy()
    nick_mask = (rng.random(n) < 0.12) & np.isin(np.char.lower(fn.astype(str)), list(variants))
    rec["first_name"] = _apply(rng, fn, nick_mask, lambda r, v: (lambda opts: opts[int(r.integers(len(opts)))].title())(
        variants[v.lower()]))
    rec["first_name"] = _apply(rng, rec["first_name"].to_numpy(), rng.random(n) < 0.12,
                               lambda r, v: _typo(r, v))
    rec["last_name"] = _apply(rng, rec["last_name"].to_numpy(), rng.random(n) < 0.12, lambda r, v: _typo(r, v))
    swap = rng.random(n) < 0.02
    rec.loc[swap, ["first_name", "last_name"]] = rec.loc[swap, ["last_name", "first_name"]].to_numpy()

    # Street types written short or long; address and city typos.
    addr = rec["address_line1"].to_numpy()
    short = rng.random(n) < 0.35
    full_to_short = {full: abbr for full, abbr in STREET_TYPES}
    addr = _apply(rng, addr, short, lambda r, v: " ".join(full_to_short.get(w, w) for w in v.split(" ")))
    addr = _apply(rng, addr, rng.random(n) < 0.08, lambda r, v: _typo(r, v))
    addr = _apply(rng, addr, rng.random(n) < 0.04, lambda r, v: v + f" Apt {int(r.integers(1, 40))}")
    rec["address_line1"] = addr
    rec["city"] = _apply(rng, rec["city"].to_numpy(), rng.random(n) < 0.05, lambda r, v: _typo(r, v))
    rec["postcode"] = _apply(rng, rec["postcode"].to_numpy(), rng.random(n) < 0.03,
                             lambda r, v: v[:-1] + str(int(r.integers(10))))

    # Birth dates: day/month swapped, a day or a year off.
    d = rec["date_of_birth"].to_numpy().copy()
    kind = rng.random(n)
    ts = pd.DatetimeIndex(d)
    swap_dm = (kind < 0.03) & (ts.day <= 12) & (ts.day != ts.month)
    swapped = pd.to_datetime(pd.DataFrame({"year": ts.year[swap_dm], "month": ts.day[swap_dm],
                                           "day": ts.month[swap_dm]})).to_numpy()
    d[swap_dm] = swapped
    day_off = (kind >= 0.03) & (kind < 0.05)
    d[day_off] = d[day_off] + np.timedelta64(1, "D")
    year_off = (kind >= 0.05) & (kind < 0.07)
    d[year_off] = d[year_off] - np.timedelta64(365, "D")
    rec["date_of_birth"] = pd.Series(d).dt.date.astype(object)

    # Missing values and shouting.
    for col, p in (("first_name", 0.02), ("last_name", 0.02), ("address_line1", 0.08), ("city", 0.05),
                   ("postcode", 0.05), ("date_of_birth", 0.08)):
        rec.loc[rng.random(n) < p, col] = None
    upper = rng.random(n) < 0.1
    for col in ("first_name", "last_name", "address_line1", "city"):
        rec.loc[upper, col] = rec.loc[upper, col].str.upper()

    if contacts:
        # Personal emails (some typed with dots or +tags), a family email in some households, phones.
        fam = (rng.random(n_hh) < 0.3)
        personal = np.char.add(np.char.add(np.char.lower(first.astype(str)), "."),
                               np.char.lower(last.astype(str)))
        personal = np.char.add(np.char.add(personal, (np.arange(n_people) % 97).astype(str)), "@")
        personal = np.char.add(personal, EMAIL_DOMAINS[rng.integers(len(EMAIL_DOMAINS), size=n_people)])
        family = np.char.add(np.char.lower(surnames.astype(str)), np.char.add("family", (np.arange(n_hh) % 89).astype(str)))
        family = np.char.add(family, "@gmail.com")
        use_family = fam[household][pid] & (rng.random(n) < 0.5)
        email = np.where(use_family, family[household][pid], personal[pid]).astype(object)
        email[rng.random(n) < 0.4] = None
        rec["email"] = email
        phone = (2000000000 + rng.integers(0, 7999999999, size=n_people)).astype(str)
        ph = phone[pid].astype(object)
        ph[rng.random(n) < 0.5] = None
        rec["phone"] = ph

    order = rng.permutation(n)
    rec = rec.iloc[order].reset_index(drop=True)
    rec.insert(1, "source", SOURCES[rng.integers(len(SOURCES), size=n)])
    rec.insert(2, "source_record_id", np.char.add("r", np.arange(n).astype(str)))
    return rec


def pairwise_scores(truth, predicted) -> dict:
    """Pairwise precision, recall and F1 of a clustering against the truth."""
    frame = pd.DataFrame({"t": np.asarray(truth), "p": np.asarray(predicted)})

    def pairs(counts):
        c = counts.to_numpy(dtype=np.int64)
        return int((c * (c - 1) // 2).sum())

    tp = pairs(frame.groupby(["t", "p"]).size())
    predicted_pairs = pairs(frame.groupby("p").size())
    true_pairs = pairs(frame.groupby("t").size())
    precision = tp / predicted_pairs if predicted_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": true_pairs,
            "predicted_pairs": predicted_pairs}
