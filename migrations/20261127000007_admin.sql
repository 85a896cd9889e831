-- Operators. There are no default accounts: the first admin is granted by `portcullis admin grant EMAIL`.
ALTER TABLE users ADD COLUMN is_admin BIGINT NOT NULL DEFAULT 0;
