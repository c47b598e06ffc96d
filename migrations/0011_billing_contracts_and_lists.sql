-- Billing sees the contracts it must invoice (product, monthly premium, status and
-- dates: no health data, no signed document), and its three cross-customer lists are
-- ranges of partial indexes (GET /api/v1/billing/invoices/unpaid,
-- /api/v1/billing/invoices/rejected, /api/v1/billing/contracts/uninvoiced and the
-- billing desk). Each list is sortable on two keys, ascending or descending; each index
-- is the list's order exactly (the expression and the id as the tie-breaker), so a
-- page is one index range and the keyset cursor one row comparison on it.
--
-- Billing's projector follows Contract events from this version on: a database that
-- already holds contracts rebuilds billing's read model once after the upgrade
-- (`lae projections rebuild billing`), as for any projector that follows a new stream.
-- Indexes belong to their tables: a rebuild's copy of the schema has them too.

CREATE TABLE billing.contracts (
    contract_id           uuid        PRIMARY KEY,
    customer_id           uuid,
    product               text,
    monthly_premium_cents bigint,
    status                text,       -- requested | signed | terminated
    requested_on          date,
    signed_on             date,
    terminated_on         date,
    -- The first invoice issued for the contract (any status): null = not yet invoiced.
    -- Set from Invoice events, which may arrive before the contract's own (another
    -- aggregate): such a row holds only this until the contract's events fill it.
    first_invoiced_on     date,
    version               bigint      NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX ON billing.contracts (customer_id);

CREATE INDEX invoices_contract ON billing.invoices (contract_id) WHERE contract_id IS NOT NULL;

CREATE INDEX invoices_unpaid_by_due ON billing.invoices
    ((coalesce(due_on, 'infinity'::date)), invoice_id) WHERE status = 'issued';
CREATE INDEX invoices_unpaid_by_amount ON billing.invoices
    ((coalesce(amount_cents, 9223372036854775807)), invoice_id) WHERE status = 'issued';
CREATE INDEX invoices_rejected_by_date ON billing.invoices
    ((coalesce(rejected_on, 'infinity'::date)), invoice_id) WHERE status = 'payment_rejected';
CREATE INDEX invoices_rejected_by_amount ON billing.invoices
    ((coalesce(amount_cents, 9223372036854775807)), invoice_id) WHERE status = 'payment_rejected';
CREATE INDEX contracts_uninvoiced_by_date ON billing.contracts
    ((coalesce(signed_on, 'infinity'::date)), contract_id)
    WHERE status = 'signed' AND first_invoiced_on IS NULL;
CREATE INDEX contracts_uninvoiced_by_premium ON billing.contracts
    ((coalesce(monthly_premium_cents, 9223372036854775807)), contract_id)
    WHERE status = 'signed' AND first_invoiced_on IS NULL;

SELECT lae_read_model_grant('billing', 'billing');
