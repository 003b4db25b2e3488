-- Value module: when CLV columns of profile_scores were computed, and a history of model
-- runs (fits and validations) with every prediction they made.

ALTER TABLE profile_scores ADD COLUMN clv_as_of DATE;
ALTER TABLE profile_scores ADD COLUMN clv_horizon_days INTEGER;

CREATE SEQUENCE value_run_seq;
CREATE TABLE value_model_runs (
    run_id BIGINT PRIMARY KEY DEFAULT nextval('value_run_seq'),
    kind VARCHAR NOT NULL,              -- fit | validation
    model VARCHAR NOT NULL,             -- bgnbd | mbgnbd | pareto | ml
    as_of DATE,                         -- fit date, or calibration end for a validation
    holdout_end DATE,                   -- validations only
    horizon_days INTEGER,
    margin DOUBLE,
    discount_rate DOUBLE,               -- annual
    params JSON,
    customers BIGINT,
    repeat_customers BIGINT,
    details JSON,                       -- validation figures, by-frequency table, messages
    made_at TIMESTAMPTZ DEFAULT now(),
    made_by VARCHAR
);

-- Every prediction a fit stored, with the date it was made as of.
CREATE TABLE value_predictions (
    run_id BIGINT NOT NULL,
    profile_id VARCHAR NOT NULL,
    as_of DATE,
    horizon_days INTEGER,
    predicted_purchases DOUBLE,
    p_alive DOUBLE,
    predicted_clv DOUBLE,
    clv_decile INTEGER
);
