-- Not a query of its own: one line of the single-statement create-order transaction, which only
-- store/create_order.py builds (BEGIN NOT ATOMIC ... COMMIT; END). It is the only way stock goes
-- down — never below zero, never for an off-shelf SKU — or it stops the whole statement with the
-- error number :errno and the SKU id as the message (the caller rolls back and raises
-- OutOfStock). Every matched row is changed (count >= 1), so ROW_COUNT() is the matched count.
UPDATE sku SET stock = stock - :count, sales = sales + :count
WHERE id = :sku_id AND stock >= :count AND is_launched = 1;
IF ROW_COUNT() <> 1 THEN SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = :errno, MESSAGE_TEXT = :sku_id; END IF;
