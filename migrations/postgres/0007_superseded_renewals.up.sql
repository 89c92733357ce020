-- A renewal charge that settles after the customer switched to another plan paid for a period
-- nobody wants any more: it becomes 'superseded' (paid, nothing activated) and is refunded
-- through Paystack; refund_requested_at says the refund was asked for (housekeeping asks
-- again until Paystack takes it), and refund.processed then marks it 'refunded'.
ALTER TABLE payments DROP CONSTRAINT payments_status_check;
ALTER TABLE payments ADD CONSTRAINT payments_status_check
    CHECK (status IN ('pending', 'success', 'failed', 'abandoned', 'mismatch', 'refunded',
                      'superseded'));
ALTER TABLE payments ADD COLUMN refund_requested_at BIGINT;
