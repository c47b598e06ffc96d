-- Billing's pending invoice requests ("demandes de facture" from sales): one row per
-- requested invoice (the Invoice aggregate's id), from InvoiceRequested to billing's
-- decision: `issued` (the invoice itself is then in billing.invoices) or `refused`
-- with the reason. GET /api/v1/billing/invoice-requests and the billing desk read the
-- pending ones, oldest request first (one range of the partial index).
--
-- No personal column: ids, amount, the charge's label, dates, status. An erased
-- customer's rows stay, like their invoices.

CREATE TABLE billing.invoice_requests (
    invoice_id     uuid        PRIMARY KEY,
    customer_id    uuid        NOT NULL,
    contract_id    uuid,
    amount_cents   bigint      NOT NULL,
    label          text        NOT NULL,
    requested_on   date        NOT NULL,
    requested_at   timestamptz NOT NULL,
    status         text        NOT NULL, -- pending | issued | refused
    decided_on     date,
    refusal_reason text,
    version        bigint      NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX invoice_requests_pending ON billing.invoice_requests (requested_at, invoice_id)
    WHERE status = 'pending';
CREATE INDEX ON billing.invoice_requests (customer_id);

SELECT lae_read_model_grant('billing', 'billing');
