-- Buyers and their address books.

-- name: create_user<!
INSERT INTO user_profile (username, password_hash, email, phone)
VALUES (:username, :password_hash, :email, :phone);

-- name: get_user_by_name^
SELECT id, username, password_hash FROM user_profile WHERE username = :username;

-- name: list_addresses
-- Alive addresses of one buyer, the default first, then newest first.
SELECT id, receiver, receiver_mobile, address, postcode, tag, is_default
FROM address
WHERE user_id = :user_id AND is_alive = 1
ORDER BY is_default DESC, id DESC;

-- name: get_alive_address^
SELECT id, receiver, receiver_mobile, address, postcode, tag, is_default
FROM address
WHERE id = :address_id AND user_id = :user_id AND is_alive = 1;

-- name: count_alive_addresses$
SELECT COUNT(*) FROM address WHERE user_id = :user_id AND is_alive = 1;

-- name: add_address<!
INSERT INTO address (user_id, receiver, receiver_mobile, address, postcode, tag, is_default)
VALUES (:user_id, :receiver, :receiver_mobile, :address, :postcode, :tag, :is_default);

-- name: update_address!
-- Orders keep their own snapshot of the address: editing the book rewrites no history.
UPDATE address SET receiver = :receiver, receiver_mobile = :receiver_mobile, address = :address,
                   postcode = :postcode, tag = :tag
WHERE id = :address_id AND user_id = :user_id AND is_alive = 1;

-- name: clear_default_address!
UPDATE address SET is_default = 0 WHERE user_id = :user_id AND is_default = 1;

-- name: set_default_address!
UPDATE address SET is_default = 1 WHERE id = :address_id AND user_id = :user_id AND is_alive = 1;

-- name: soft_delete_address!
UPDATE address SET is_alive = 0, is_default = 0
WHERE id = :address_id AND user_id = :user_id AND is_alive = 1;

-- name: newest_alive_address$
SELECT id FROM address WHERE user_id = :user_id AND is_alive = 1 ORDER BY id DESC LIMIT 1;
