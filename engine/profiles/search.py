"""Find people by name, email, phone or any identifier, typo-tolerant, as you type.

One DuckDB query over `profile_search_terms`, a table of lower-cased terms derived from
`profiles` and `profile_identifiers` and rebuilt whenever they change (migration 0040):
exact and prefix matches score highest; typos are caught by Jaro-Winkler similarity of the query against the same-length prefix of each value (so
"jmaes" finds "james.smith@..." while the user is still typing). Phone-like queries
match on digits. The best candidates are re-ranked with rapidfuzz's token-set ratio,
which rewards "smith james" for "James Smith".
"""
from __future__ import annotations

import re

import pandas as pd
from rapidfuzz import fuzz, process

from engine.access import PII_FIELDS, User, can, mask_frame, mask_value, require
from engine.freshness import REBUILD, rebuilds

MIN_FUZZY_LENGTH = 3          # below this, only exact and prefix matches (fuzzy is noise)
FUZZY_THRESHOLD = 0.86        # Jaro-Winkler similarity a typo'd prefix must reach
CANDIDATES = 200              # candidates re-ranked in Python
PII_ID_TYPES = ("email", "phone")
RESULT_COLUMNS = ["profile_id", "name", "email", "phone", "matched_on", "matched_value",
                  "score", "first_seen", "last_seen"]

SIGNATURE_KEY = "profile_search_signature"

# One row per (profile, thing a person might type), sorted by term so that DuckDB's zone maps
# turn every prefix look-up into a read of one or two row groups. Phones are also stored as
# digits with the first 1-3 digits dropped, so "07700 900..." (national format, trunk 0
# dropped) finds "+447700900..." by prefix.
_BUILD_SQL = """
INSERT INTO profile_search_terms (profile_id, kind, term, display)
WITH terms AS (
    SELECT profile_id, 'name' AS kind, lower(concat_ws(' ', first_name, last_name)) AS term,
           concat_ws(' ', first_name, last_name) AS display
    FROM profiles WHERE first_name IS NOT NULL OR last_name IS NOT NULL
    UNION ALL
    SELECT profile_id, 'name', lower(concat_ws(' ', last_name, first_name)), concat_ws(' ', first_name, last_name)
    FROM profiles WHERE first_name IS NOT NULL AND last_name IS NOT NULL
    UNION ALL
    SELECT profile_id, 'profile_id', lower(profile_id), profile_id FROM profiles
    UNION ALL
    SELECT profile_id, id_type, lower(id_value), id_value FROM profile_identifiers
    UNION ALL
    SELECT profile_id, 'phone', substr(d.digits, 1 + k.k), d.id_value
    FROM (SELECT profile_id, id_value, regexp_replace(id_value, '[^0-9]', '', 'g') AS digits
          FROM profile_identifiers WHERE id_type = 'phone') d, range(0, 4) k(k)
    WHERE length(d.digits) - k.k >= 6
)
SELECT * FROM terms ORDER BY term
"""

_SIGNATURE_SQL = """
SELECT concat_ws('|', (SELECT count(*) FROM profiles), (SELECT max(updated_at) FROM profiles),
                      (SELECT count(*) FROM profile_identifiers),
                      (SELECT max(first_seen) FROM profile_identifiers))
"""

# Three kinds of hit, each a range scan of the sorted terms: a prefix of any term; a prefix of
# a phone's digits; and, for typos, Jaro-Winkler similarity of the query with the same-length
# start of names and emails that begin with the query's first or second letter (so a slip
# anywhere but the very first letter, or a swap of the first two, is forgiven).
_SEARCH_SQL = """
WITH hits AS (
    SELECT profile_id, kind, display, CASE WHEN term = $q THEN 1.0 ELSE 0.95 END AS score
    FROM profile_search_terms WHERE term >= $q AND term < $q_hi
    UNION ALL
    SELECT profile_id, kind, display, 0.9 FROM profile_search_terms
    WHERE term >= $digits AND term < $digits_hi AND kind = 'phone'
    UNION ALL
    SELECT profile_id, kind, display, 0.9 * jaro_winkler_similarity(left(term, length($q)), $q)
    FROM profile_search_terms
    WHERE term >= $c1 AND term < $c1_hi AND kind IN ('name', 'email')
      AND jaro_winkler_similarity(left(term, length($q)), $q) >= $threshold
    UNION ALL
    SELECT profile_id, kind, display, 0.9 * jaro_winkler_similarity(left(term, length($q)), $q)
    FROM profile_search_terms
    WHERE term >= $c2 AND term < $c2_hi AND kind IN ('name', 'email')
      AND jaro_winkler_similarity(left(term, length($q)), $q) >= $threshold
),
best AS (
    SELECT profile_id, max(score) AS score,
           arg_max(kind, score) AS matched_on, arg_max(display, score) AS matched_value
    FROM hits WHERE NOT list_contains($hidden_kinds, kind) GROUP BY profile_id
    ORDER BY score DESC, profile_id LIMIT $candidates
)
SELECT b.profile_id, concat_ws(' ', p.first_name, p.last_name) AS name, p.email, p.phone,
       b.matched_on, b.matched_value, b.score, p.first_seen, p.last_seen
FROM best b LEFT JOIN profiles p USING (profile_id)
"""


def _upper(prefix: str) -> str:
    """The smallest string above every string starting with prefix ('' for an empty range)."""
    if not prefix:
        return ""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _signatures(con) -> tuple[str, str | None]:
    """(what profiles and identifiers look like now, what they looked like at the last build)."""
    stored = con.execute("SELECT value FROM meta WHERE key = ?", [SIGNATURE_KEY]).fetchone()
    return con.execute(_SIGNATURE_SQL).fetchone()[0], (stored[0] if stored else None)


def refresh_search_index(workspace, force: bool = False) -> bool:
    """Rebuild the search terms when profiles or identifiers changed (or force); True if rebuilt.

    Identity may call this after a resolve so the first search is instant.
    """
    with workspace.connect() as con:
        signature, stored = _signatures(con)
    if not force and stored == signature:
        return False
    with workspace.transaction() as con:
        signature, stored = _signatures(con)   # again inside the write: another may have built it
        if not force and stored == signature:
            return False
        con.execute("DELETE FROM profile_search_terms")
        con.execute(_BUILD_SQL)
        con.execute("DELETE FROM meta WHERE key = ?", [SIGNATURE_KEY])
        con.execute("INSERT INTO meta VALUES (?, ?)", [SIGNATURE_KEY, signature])
    return True


def search_index_stale(workspace) -> bool:
    """True when the term table does not reflect profiles and identifiers as they are now."""
    with workspace.connect() as con:
        signature, stored = _signatures(con)
    return stored != signature


def search_index_built(workspace) -> bool:
    """True once the term table has been built at least once (searching can answer)."""
    with workspace.connect() as con:
        return _signatures(con)[1] is not None


def normalise_query(query: str) -> tuple[str, str]:
    """(lower-cased text with single spaces, digits when the query looks like a phone number)."""
    text = re.sub(r"\s+", " ", (query or "").strip().lower())
    digits = ""
    if re.fullmatch(r"[+\d\s().-]{6,}", text):
        digits = re.sub(r"\D", "", text).lstrip("0")   # national trunk 0 is not in E.164
        if len(digits) < 5:
            digits = ""
    return text, digits


def search_profiles(workspace, user: User, query: str, limit: int = 20, *,
                    freshness: str = REBUILD) -> pd.DataFrame:
    """Profiles best matching query, best first; personal columns masked for roles without view_pii,
    who find people by profile id and non-personal identifiers (customer, user, anonymous id) only.
    The term table is brought up to date first, or (AS_BUILT) searched as last built."""
    require(user, "view")
    text, digits = normalise_query(query)
    if not text:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    fuzzy = len(text) >= MIN_FUZZY_LENGTH
    c1 = text[0] if fuzzy else ""
    c2 = text[1] if fuzzy and text[1] != text[0] and text[1] != " " else ""
    params = {"q": text, "q_hi": _upper(text), "digits": digits, "digits_hi": _upper(digits),
              "c1": c1, "c1_hi": _upper(c1), "c2": c2, "c2_hi": _upper(c2),
              "threshold": FUZZY_THRESHOLD, "candidates": max(CANDIDATES, limit),
              # Without view_pii, typing a name, email or phone must not tell whether it exists
              # (a prefix search would spell a masked email out): match on ids only.
              "hidden_kinds": [] if can(user, "view_pii") else sorted(PII_FIELDS)}
    with workspace.connect():   # one connection for the freshness check and the search
        if rebuilds(freshness):
            refresh_search_index(workspace)
        found = workspace.query_df(_SEARCH_SQL, params)
    if found.empty:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    # Re-rank candidates: word order and extra words should not cost much ("smith james").
    labels = (found["name"].fillna("") + " " + found["matched_value"].fillna("")).str.lower()
    token = process.cdist([text], labels.tolist(), scorer=fuzz.token_set_ratio)[0] / 100.0
    found["score"] = (0.9 * found["score"] + 0.1 * token).round(3)
    found = found.sort_values(["score", "profile_id"], ascending=[False, True]).head(limit)
    found = found.reset_index(drop=True)[RESULT_COLUMNS]
    if not can(user, "view_pii"):
        found = mask_frame(found, user)
        personal = found["matched_on"].isin(PII_ID_TYPES + ("name",))
        found.loc[personal, "matched_value"] = found.loc[personal, "matched_value"].map(mask_value)
    return found


def recent_profiles(workspace, user: User, limit: int = 25) -> pd.DataFrame:
    """The most recently active people, for the screen before anyone types a search."""
    require(user, "view")
    found = workspace.query_df("""
        SELECT profile_id, trim(concat_ws(' ', first_name, last_name)) AS name, email, phone,
               record_count AS records, last_seen
        FROM profiles WHERE last_seen IS NOT NULL
        ORDER BY last_seen DESC, profile_id LIMIT ?""", [int(limit)])
    return mask_frame(found, user)
