-- Not a query of its own: the expression of a new order id (store/create_order.py). 16 digits, as
-- the seed shapes them (its example: 2019111811504601): the Shanghai minute :minute (yyMMddHHmm,
-- from the caller's clock) and the last 6 digits of the sequence order_number (migration 0006),
-- which never gives a number twice to any process on any host. ORDER_NUMBER_DIGITS in Python is
-- the 6 here.
CONCAT(:minute, LPAD(NEXT VALUE FOR order_number MOD 1000000, 6, '0'))
