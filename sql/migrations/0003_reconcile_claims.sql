-- Reconciliation asks Alipay about an order at the cashier at most once per interval, and only
-- one server process does (the one whose conditional UPDATE claims it).
ALTER TABLE order_info ADD COLUMN IF NOT EXISTS reconciled_time DATETIME(6) NULL AFTER pay_started_time;
