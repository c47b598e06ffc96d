-- Indexes of the department query routes (crates/api/src/routes/queries): customer
-- search by name prefix in a stable order, by e-mail, by phone and by customer number
-- (already indexed by 0003), on the contact card of each department that holds one.
--
-- The order of a customer list is (last name, first name, customer id), lower-cased and
-- compared byte by byte (COLLATE "C") whatever the database's collation: a name prefix
-- is then one contiguous range of the index, and the keyset cursor of the next page is
-- one row comparison on the same three index columns. The query routes use exactly
-- these expressions.
--
-- Indexes belong to their tables: a rebuild's copy of a schema (lae_read_model_clone,
-- CREATE TABLE ... LIKE ... INCLUDING ALL) has them too.

CREATE INDEX customers_search_order ON customer_service.customers
    ((lower(coalesce(last_name, '')) COLLATE "C"), (lower(coalesce(first_name, '')) COLLATE "C"), customer_id);
CREATE INDEX customers_search_order ON legal.customers
    ((lower(coalesce(last_name, '')) COLLATE "C"), (lower(coalesce(first_name, '')) COLLATE "C"), customer_id);
CREATE INDEX customers_search_order ON sales.customers
    ((lower(coalesce(last_name, '')) COLLATE "C"), (lower(coalesce(first_name, '')) COLLATE "C"), customer_id);
CREATE INDEX customers_search_order ON billing.customers
    ((lower(coalesce(last_name, '')) COLLATE "C"), (lower(coalesce(first_name, '')) COLLATE "C"), customer_id);

-- E-mail addresses are stored lower-cased (lae_domain::Email); the index on lower()
-- keeps a case-insensitive lookup exact even for a row written otherwise.
CREATE INDEX customers_email ON customer_service.customers (lower(email));
CREATE INDEX customers_email ON legal.customers (lower(email));
CREATE INDEX customers_email ON sales.customers (lower(email));
CREATE INDEX customers_email ON billing.customers (lower(email));

-- Phones are stored in E.164 (lae_domain::PhoneNumber); the routes normalise the
-- searched number the same way.
CREATE INDEX customers_phone ON customer_service.customers (phone);
CREATE INDEX customers_phone ON legal.customers (phone);
CREATE INDEX customers_phone ON sales.customers (phone);
CREATE INDEX customers_phone ON billing.customers (phone);

