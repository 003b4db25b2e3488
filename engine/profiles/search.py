"""Find people by name, email, phone or any identifier, typo-tolerant, as you type.

One DuckDB query over `profile_search_terms`, a table of lower-cased terms derived from
`profiles` and `profile_identifiers` and rebuilt whenever they change: exact, prefix and substring matches score highest; typos are caught by
Jaro-Winkler similarity of the query against the same-length prefix of each value (so
"jmaes" finds "james.smith@..." while the user is still typing). Phone-like queries
match on digits. The best candidates are re-ranked with rapidfuzz's token-set ratio,
which rewards "smith james" for "James Smith".
"""
from __future__ import annotations

import re

import pandas as pd
from rapidfuzz import fuzz, process

from engine.access import User, can, mask_frame, mask_value, require

MIN_FUZZY_LENGTH = 3          # below this, only exact and prefix matches (fuzzy is noise)
FUZZY_THRESHOLD = 0.86        # Jaro-Winkler similarity a typo'd prefix must reach
CANDIDATES = 200              # candidates re-ranked in Python
PII_ID_TYPES = ("email", "phone")
RESULT_COLUMNS = ["profile_id", "name", "email", "phone", "matched_on", "matched_value",
                  "score", "first_seen", "last_seen"]

SIGNATURE_KEY = "profile_search_signature"

# One row per (profile, thing a person might type). Phones also by their digits.
_BUILD_SQL = """
INSERT INTO profile_search_terms (profile_id, kind, term, display)
SELECT profile_id, 'name', lower(concat_ws(' ', first_name, last_name)), concat_ws(' ', first_name, last_name)
FROM profiles WHERE first_name IS NOT NULL OR last_name IS NOT NULL
UNION ALL
SELECT profile_id, 'name', lower(concat_ws(' ', last_name, first_name)), concat_ws(' ', first_name, last_name)
FROM profiles WHERE first_name IS NOT NULL AND last_name IS NOT NULL
UNION ALL
SELECT profile_id, 'profile_id', lower(profile_id), profile_id FROM profiles
UNION ALL
SELECT profile_id, id_type, lower(id_value), id_value FROM profile_identifiers
UNION ALL
SELECT profile_id, 'phone', regexp_replace(id_value, '[^0-9]', '', 'g'), id_value
FROM profile_identifiers WHERE id_type = 'phone' AND regexp_replace(id_value, '[^0-9]', '', 'g') <> ''
"""

_SIGNATURE_SQL = """
SELECT concat_ws('|', (SELECT count(*) FROM profiles), (SELECT max(updated_at) FROM profiles),
                      (SELECT count(*) FROM profile_identifiers),
                      (SELECT max(first_seen) FROM profile_identifiers))
"""

_SEARCH_SQL = """
WITH hits AS (
    SELECT profile_id, kind, display,
           CASE WHEN term = $q THEN 1.0
                WHEN starts_with(term, $q) THEN 0.95
                WHEN contains(term, $q) THEN 0.85
                WHEN $digits <> '' AND kind = 'phone' AND contains(term, $digits) THEN 0.9
                WHEN $fuzzy AND kind IN ('name', 'email')
                     -- a typo leaves the first or the second letter in place (cheap pre-filter)
                     AND (term[1] = $q[1] OR term[2] = $q[2] OR term[2] = $q[1]) THEN
                     0.9 * jaro_winkler_similarity(left(term, length($q)), $q)
           END AS score
    FROM profile_search_terms
),
best AS (
    SELECT profile_id, max(score) AS score,
           arg_max(kind, score) AS matched_on, arg_max(display, score) AS matched_value
    FROM hits WHERE score >= 0.9 * $threshold
    GROUP BY profile_id
    ORDER BY score DESC, profile_id LIMIT $candidates
)
SELECT b.profile_id, concat_ws(' ', p.first_name, p.last_name) AS name, p.email, p.phone,
       b.matched_on, b.matched_value, b.score, p.first_seen, p.last_seen
FROM best b LEFT JOIN profiles p USING (profile_id)
"""


def refresh_search_index(workspace, force: bool = False) -> bool:
    """Rebuild the search terms when profiles or identifiers changed (or force); True if rebuilt.

    Identity may call this after a resolve so the first search is instant.
    """
    with workspace.connect() as con:
        signature = con.execute(_SIGNATURE_SQL).fetchone()[0]
        stored = con.execute("SELECT value FROM meta WHERE key = ?", [SIGNATURE_KEY]).fetchone()
    if not force and stored and stored[0] == signature:
        return False
    with workspace.transaction() as con:
        con.execute("DELETE FROM profile_search_terms")
        con.execute(_BUILD_SQL)
        con.execute("DELETE FROM meta WHERE key = ?", [SIGNATURE_KEY])
        con.execute("INSERT INTO meta VALUES (?, ?)", [SIGNATURE_KEY, signature])
    return True


def normalise_query(query: str) -> tuple[str, str]:
    """(lower-cased text with single spaces, digits when the query looks like a phone number)."""
    text = re.sub(r"\s+", " ", (query or "").strip().lower())
    digits = ""
    if re.fullmatch(r"[+\d\s().-]{6,}", text):
        digits = re.sub(r"\D", "", text).lstrip("0")   # national trunk 0 is not in E.164
        if len(digits) < 5:
            digits = ""
    return text, digits


def search_profiles(workspace, user: User, query: str, limit: int = 20) -> pd.DataFrame:
    """Profiles best matching query, best first; personal columns masked for roles without view_pii."""
    require(user, "view")
    text, digits = normalise_query(query)
    if not text:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    params = {"q": text, "digits": digits, "fuzzy": len(text) >= MIN_FUZZY_LENGTH,
              "threshold": FUZZY_THRESHOLD, "candidates": max(CANDIDATES, limit)}
    with workspace.connect():   # one connection for the freshness check and the search
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
