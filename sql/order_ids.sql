-- Order ids (store/create_order.new_order_id).

-- name: next_order_number$
-- The number part of a new order id, never drawn twice (sql/migrations/0006).
SELECT NEXT VALUE FOR order_number;
