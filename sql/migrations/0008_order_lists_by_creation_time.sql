-- Order lists go newest first by creation time, not by AUTO_INCREMENT id: with several Galera
-- writers (auto_increment_increment = cluster size) ids are not in time order.
CREATE INDEX IF NOT EXISTS ix_order_info_user_created ON order_info (user_id, created_time);
CREATE INDEX IF NOT EXISTS ix_order_info_user_status_created ON order_info (user_id, status, created_time);
