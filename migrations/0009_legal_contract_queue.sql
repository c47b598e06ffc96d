-- Legal's queue of contracts requested and not yet signed, across customers, oldest
-- request first (GET /api/v1/legal/contracts/requested and the legal desk). The
-- expression is the query's order exactly (undated requests last), so a page is one
-- range of this partial index and the keyset cursor one row comparison on it.
--
-- Indexes belong to their tables: a rebuild's copy of the schema has it too.
CREATE INDEX contracts_requested_queue ON legal.contracts
    ((coalesce(requested_on, 'infinity'::date)), contract_id)
    WHERE status = 'requested';
