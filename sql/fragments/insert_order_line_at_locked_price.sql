-- Not a query of its own: one line of the single-statement create-order transaction
-- (store/create_order.py), after the SKU row was deducted (and so is locked by this transaction):
-- the order line at the SKU's price as it is now, which no other transaction can change before
-- the commit. A price changed since the buyer's confirmation is the price paid.
INSERT INTO order_goods (order_id, sku_id, count, price)
SELECT new_order_id, id, :count, price FROM sku WHERE id = :sku_id;
