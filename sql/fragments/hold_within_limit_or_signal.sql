-- Not a query of its own: one line of the single-statement create-order transaction
-- (store/create_order.py), for every SKU of the order, after its deduction (so this transaction
-- holds the SKU row: reading it here takes no lock another order could deadlock with). When the
-- SKU has a per-buyer limit, it counts the units into the buyer's hold (the row lock serialises
-- one buyer's concurrent orders) and stops the whole statement with :errno and the SKU id when the
-- hold would pass the limit. An SKU without a limit holds nothing.
IF (SELECT limit_per_buyer IS NOT NULL FROM sku WHERE id = :sku_id) THEN
  INSERT INTO buyer_hold (user_id, sku_id, held) VALUES (:user_id, :sku_id, :count)
  ON DUPLICATE KEY UPDATE held = held + :count;
  IF (SELECT held FROM buyer_hold WHERE user_id = :user_id AND sku_id = :sku_id)
     > (SELECT limit_per_buyer FROM sku WHERE id = :sku_id) THEN
    SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = :errno, MESSAGE_TEXT = :sku_id;
  END IF;
END IF;
