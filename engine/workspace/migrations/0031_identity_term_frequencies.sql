-- How common each normalised first name key and surname is among the records (rebuilt by each run):
-- agreeing on a rare surname is stronger evidence than agreeing on 'smith'.
CREATE TABLE identity_term_frequencies (
    field VARCHAR NOT NULL,             -- first_name | last_name
    value VARCHAR NOT NULL,
    frequency DOUBLE NOT NULL,          -- share of records with this value
    PRIMARY KEY (field, value)
);
