-- Not a query of its own: the last line of the single-statement create-order transaction
-- (store/create_order.py): what the buyer pays, the lines at their locked prices and the freight.
UPDATE order_info
SET total_amount = freight + (SELECT SUM(count * price) FROM order_goods WHERE order_id = new_order_id)
WHERE order_id = new_order_id;
