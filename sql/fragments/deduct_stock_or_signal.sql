-- Not a query of its own: one line of the single-statement create-order transaction, which only
-- store/create_order.py builds (BEGIN NOT ATOMIC ... COMMIT; END). It is the only way stock goes
-- down — never below zero, never for an off-shelf SKU, never outside its sale window — or it
-- stops the whole statement with the error number :errno and the SKU id as the message (the
-- caller rolls back and tells which rule refused). Every matched row is changed (count >= 1), so
-- ROW_COUNT() is the matched count.
UPDATE sku SET stock = stock - :count, sales = sales + :count
WHERE id = :sku_id AND stock >= :count AND is_launched = 1
  AND (sale_start IS NULL OR sale_start <= UTC_TIMESTAMP()) AND (sale_end IS NULL OR sale_end > UTC_TIMESTAMP());
IF ROW_COUNT() <> 1 THEN SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = :errno, MESSAGE_TEXT = :sku_id; END IF;
