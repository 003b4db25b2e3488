"""One lifecycle vocabulary for CRM lead stages, so that a segment works across CRMs.

HubSpot's `lifecyclestage` (subscriber, lead, marketingqualifiedlead, ...) and Salesforce's lead
Status (Open - Not Contacted, Working - Contacted, Closed - Converted, Closed - Not Converted) say
the same few things in their own words. Ingest keeps the tool's word in `contacts.lead_stage` and
stores its stage in this vocabulary in `contacts.lifecycle_stage` (`stage_sql`, the one call, in
engine/ingest/typed_rows.py). The word table is SQL in the workspace (macro `lifecycle_stage(raw)`,
migration 0019_lifecycle_stage.sql) so every reader sees one rule; WORDS below is its Python
reference, and tests hold the two to each other.

The view `profile_lifecycle` gives each profile's current stage: the stage of its contact
record changed last (updated_at, else created_at, else loaded), with the raw word and source;
`lifecycle_stage_changes` is `lead_stage_changes` with both stages in the vocabulary.
"""
from __future__ import annotations

import re

# In funnel order; "other" is a word no CRM we know uses (kept raw in lead_stage).
STAGES = ("subscriber", "lead", "marketing_qualified_lead", "sales_qualified_lead", "opportunity",
          "customer", "evangelist", "disqualified", "other")

# stage -> the words (lower case, runs of spaces, '_' and '-' read as one space) that mean it.
WORDS: dict[str, tuple[str, ...]] = {
    "subscriber": ("subscriber", "subscribed", "newsletter subscriber"),
    "lead": ("lead", "new", "new lead", "open", "open not contacted", "not contacted", "working",
             "working contacted", "contacted", "attempting contact", "attempted to contact", "in progress",
             "nurturing", "nurture", "prospect", "raw", "inquiry", "enquiry"),
    "marketing_qualified_lead": ("marketingqualifiedlead", "marketing qualified lead", "mql"),
    "sales_qualified_lead": ("salesqualifiedlead", "sales qualified lead", "sql", "qualified",
                             "sales accepted lead", "sal"),
    "opportunity": ("opportunity", "closed converted", "converted", "open deal", "negotiation"),
    "customer": ("customer", "closed won", "won", "client"),
    "evangelist": ("evangelist", "advocate", "promoter"),
    "disqualified": ("closed not converted", "not converted", "unqualified", "disqualified", "closed lost",
                     "lost", "junk", "bad fit"),
}

LIFECYCLE_COLUMN = "lifecycle_stage"           # on contacts (and so on profile_contacts)
PROFILE_LIFECYCLE = "profile_lifecycle"        # profile_id -> current lifecycle_stage, lead_stage
STAGE_CHANGES = "lifecycle_stage_changes"      # lead_stage_changes + lifecycle_stage, previous_lifecycle_stage

_SEPARATORS = re.compile(r"[\s_\-]+")


def stage_key(raw: str | None) -> str | None:
    """The word as the vocabulary reads it (the macro lifecycle_stage_key)."""
    if raw is None:
        return None
    return _SEPARATORS.sub(" ", str(raw).strip().lower()).strip()


def lifecycle_stage(raw: str | None) -> str | None:
    """Python reference of the macro lifecycle_stage(raw): a stage of STAGES, None when empty."""
    key = stage_key(raw)
    if not key:
        return None
    for stage, words in WORDS.items():
        if key in words:
            return stage
    return "other"


def stage_sql(expr: str) -> str:
    """SQL for the stage of a lead-stage expression (an identifier or SQL the caller owns)."""
    return f"lifecycle_stage({expr})"
