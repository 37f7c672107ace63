-- What the merchant ships with (the storefront's category filter uses the catalogs of 0006).
ALTER TABLE order_info ADD COLUMN IF NOT EXISTS carrier VARCHAR(32) NULL,
                       ADD COLUMN IF NOT EXISTS tracking_no VARCHAR(64) NULL;
-- The merchant's lists: all buyers' orders (of one status), newest first.
CREATE INDEX IF NOT EXISTS ix_order_info_created ON order_info (created_time);
CREATE INDEX IF NOT EXISTS ix_order_info_status_created ON order_info (status, created_time);
