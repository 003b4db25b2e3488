-- Value module: a range around each customer's predicted lifetime value (90%, from the
-- fitted model's parameter uncertainty: engine/value/ranges.py). NULL where the model gives
-- none (gradient boosting) or the uncertainty could not be estimated.

ALTER TABLE profile_scores ADD COLUMN clv_low DOUBLE;
ALTER TABLE profile_scores ADD COLUMN clv_high DOUBLE;
