DROP INDEX IF EXISTS payments_one_renewal_per_period;
ALTER TABLE payments DROP COLUMN renewal_period_end;
ALTER TABLE payments DROP COLUMN renewal_of;
ALTER TABLE subscriptions DROP COLUMN auto_renew;
