-- Ids of the usage batches the gateways wrote, stored in the same transaction as their
-- counts: a batch sent again (its commit's answer lost, or replayed from a spool after a
-- crash) is recognised and adds nothing. Pruned after 30 days by housekeeping.
CREATE TABLE usage_batches (
    id TEXT PRIMARY KEY,
    recorded_at INTEGER NOT NULL
);
CREATE INDEX usage_batches_recorded_at ON usage_batches (recorded_at);
