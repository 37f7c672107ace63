-- Not a query of its own: the first line of the single-statement create-order transaction
-- (store/create_order.py), after `new_order_id` was drawn. The order row, with the receiver copied
-- from the buyer's live address read in the same statement; when the buyer has no such address the
-- whole statement stops with the error number :errno. The amount is filled in by
-- total_order_at_line_prices once the lines are in, at the prices of the locked SKU rows.
INSERT INTO order_info (order_id, user_id, address_id, receiver, receiver_mobile, address, tag, status,
                        total_count, total_amount, freight, idempotency_key, created_time, pay_deadline)
SELECT new_order_id, user_id, id, receiver, receiver_mobile, address, tag, 1 /* awaiting payment */,
       :total_count, 0, :freight, :idempotency_key, :created_time, :pay_deadline
FROM address
WHERE id = :address_id AND user_id = :user_id AND is_alive = 1;
IF ROW_COUNT() <> 1 THEN SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = :errno, MESSAGE_TEXT = :address_id; END IF;
