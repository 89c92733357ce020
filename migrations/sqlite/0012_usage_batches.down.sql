DROP TABLE IF EXISTS usage_batches;
