-- CRM lead stages in one lifecycle vocabulary, so that a segment works across two CRMs.
--
-- contacts.lead_stage keeps the tool's own word (HubSpot's lifecyclestage, Salesforce's lead
-- Status, ...); contacts.lifecycle_stage holds its stage in the vocabulary engine/lifecycle.py
-- lists (subscriber, lead, marketing_qualified_lead, sales_qualified_lead, opportunity,
-- customer, evangelist, disqualified; other for a word no CRM we know uses; NULL when empty).
-- Ingest fills it through the macro below on every contact it loads.
ALTER TABLE contacts ADD COLUMN lifecycle_stage VARCHAR;

CREATE MACRO lifecycle_stage_key(raw) AS
    trim(regexp_replace(lower(trim(CAST(raw AS VARCHAR))), '[\s_\-]+', ' ', 'g'));
CREATE MACRO lifecycle_stage(raw) AS (CASE
    WHEN raw IS NULL OR lifecycle_stage_key(raw) = '' THEN NULL
    WHEN lifecycle_stage_key(raw) IN ('subscriber', 'subscribed', 'newsletter subscriber')
        THEN 'subscriber'
    WHEN lifecycle_stage_key(raw) IN ('lead', 'new', 'new lead', 'open', 'open not contacted', 'not contacted', 'working', 'working contacted', 'contacted', 'attempting contact', 'attempted to contact', 'in progress', 'nurturing', 'nurture', 'prospect', 'raw', 'inquiry', 'enquiry')
        THEN 'lead'
    WHEN lifecycle_stage_key(raw) IN ('marketingqualifiedlead', 'marketing qualified lead', 'mql')
        THEN 'marketing_qualified_lead'
    WHEN lifecycle_stage_key(raw) IN ('salesqualifiedlead', 'sales qualified lead', 'sql', 'qualified', 'sales accepted lead', 'sal')
        THEN 'sales_qualified_lead'
    WHEN lifecycle_stage_key(raw) IN ('opportunity', 'closed converted', 'converted', 'open deal', 'negotiation')
        THEN 'opportunity'
    WHEN lifecycle_stage_key(raw) IN ('customer', 'closed won', 'won', 'client')
        THEN 'customer'
    WHEN lifecycle_stage_key(raw) IN ('evangelist', 'advocate', 'promoter')
        THEN 'evangelist'
    WHEN lifecycle_stage_key(raw) IN ('closed not converted', 'not converted', 'unqualified', 'disqualified', 'closed lost', 'lost', 'junk', 'bad fit')
        THEN 'disqualified'
    ELSE 'other' END);

UPDATE contacts SET lifecycle_stage = lifecycle_stage(lead_stage) WHERE lead_stage IS NOT NULL;

-- Each profile's current stage: that of its contact record changed last, with the raw word and
-- the source it came from (what a segment's "current stage is" reads).
CREATE VIEW profile_lifecycle AS
SELECT profile_id, latest.lifecycle_stage, latest.lead_stage, latest.source, latest.seen_at
FROM (SELECT profile_id,
             arg_max(struct_pack(lifecycle_stage := lifecycle_stage, lead_stage := lead_stage, source := source,
                                 seen_at := COALESCE(updated_at, created_at, loaded_at)),
                     COALESCE(updated_at, created_at, loaded_at)) AS latest
      FROM profile_contacts WHERE lifecycle_stage IS NOT NULL GROUP BY profile_id);

-- Stage changes in the vocabulary too (the raw words stay in stage / previous_stage), for
-- conditions such as "became a customer" across CRMs.
CREATE VIEW lifecycle_stage_changes AS
SELECT *, lifecycle_stage(stage) AS lifecycle_stage, lifecycle_stage(previous_stage) AS previous_lifecycle_stage
FROM lead_stage_changes;
