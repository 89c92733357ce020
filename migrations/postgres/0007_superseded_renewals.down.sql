-- Back to the narrower CHECK: a superseded renewal reads as the successful payment it was.
ALTER TABLE payments DROP COLUMN refund_requested_at;
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
UPDATE payments SET status = 'success' WHERE status = 'superseded';
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'success', 'failed', 'abandoned', 'mismatch', 'refunded'));
