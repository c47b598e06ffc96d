-- Department read models (crates/projections): one schema per department, holding only
-- what that department may see, written by its projector from the event stream.
--
-- | schema           | sees                                                              |
-- | customer_service | contact details, tickets                                          |
-- | legal            | contact details, health declaration, contracts (+ their documents)|
-- | sales            | contact details, sales profile, offers, contract status,          |
-- |                  | "has unpaid invoices" flag (no invoice number or amount)          |
-- | billing          | contact details, IBAN, mandate, invoices and billing history      |
-- | management       | counts only: no name, no customer id, no aggregate id             |
--
-- Each department has two login roles: lae_<dept>_writer (its projector: read and write
-- its own schema's tables) and lae_<dept>_reader (what its API queries with: read only).
-- Neither gets anything on another department's schema, on `events`, or on the relay's
-- tables: a bug or a breach in one department's code cannot read another's data.
--
-- Every table of a department schema must be re-creatable by
-- lae_read_model_clone(), which a rebuild uses to build a fresh copy of the schema
-- beside the live one (CREATE TABLE ... LIKE ... INCLUDING ALL): no views, no foreign
-- keys, no identity columns or sequences in these schemas.

-- Roles are cluster-wide while migrations run per database, and parallel test databases
-- migrate concurrently: create them idempotently and tolerate the race (as 0001 does).
DO $$
DECLARE
    dept text;
    kind text;
BEGIN
    FOREACH dept IN ARRAY ARRAY['customer_service', 'legal', 'sales', 'billing', 'management'] LOOP
        FOREACH kind IN ARRAY ARRAY['writer', 'reader'] LOOP
            BEGIN
                EXECUTE format('CREATE ROLE %I LOGIN', 'lae_' || dept || '_' || kind);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END LOOP;
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------
-- Schemas and tables.
-- ---------------------------------------------------------------------------------

CREATE SCHEMA customer_service;
CREATE SCHEMA legal;
CREATE SCHEMA sales;
CREATE SCHEMA billing;
CREATE SCHEMA management;

-- The contact card every department but management holds: the same shape in four
-- schemas, written by the same code, so that contact details changed once at customer
-- service show up everywhere. `customer_number` and `registered_at` come from the
-- registration; a contact change replaces the five contact fields together.
-- Columns other than keys and bookkeeping are nullable: rows are rebuilt from events in
-- any batch shape, and a rule that an event guarantees belongs in the domain.
CREATE TABLE customer_service.customers (
    customer_id     uuid        PRIMARY KEY,
    customer_number text,
    last_name       text,
    first_name      text,
    email           text,
    phone           text,
    availability    text,
    registered_at   timestamptz,
    -- The aggregate sequence of the last event that changed the row, and its record time.
    version         bigint      NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE TABLE legal.customers (LIKE customer_service.customers INCLUDING ALL);
CREATE TABLE sales.customers (LIKE customer_service.customers INCLUDING ALL);
CREATE TABLE billing.customers (LIKE customer_service.customers INCLUDING ALL);
CREATE INDEX ON customer_service.customers (customer_number);
CREATE INDEX ON customer_service.customers (lower(last_name));
CREATE INDEX ON legal.customers (customer_number);
CREATE INDEX ON sales.customers (customer_number);
CREATE INDEX ON billing.customers (customer_number);

-- Customer service: tickets and what happened on them.
CREATE TABLE customer_service.tickets (
    ticket_id        uuid        PRIMARY KEY,
    customer_id      uuid,
    channel          text,
    reason           text,
    operator         text,
    opened_at        timestamptz,
    department       text,
    status           text,       -- open | resolved
    actions          integer     NOT NULL DEFAULT 0,
    resolution       text,
    resolved_at      timestamptz,
    last_activity_at timestamptz,
    version          bigint      NOT NULL,
    updated_at       timestamptz NOT NULL
);
CREATE INDEX ON customer_service.tickets (customer_id);
CREATE INDEX ON customer_service.tickets (department, status);

CREATE TABLE customer_service.ticket_history (
    ticket_id           uuid        NOT NULL,
    sequence            bigint      NOT NULL,
    kind                text        NOT NULL,  -- opened | action | routed | resolved
    at                  timestamptz NOT NULL,
    operator            text,
    text                text,
    previous_department text,
    department          text,
    PRIMARY KEY (ticket_id, sequence)
);

-- Legal: the latest health declaration, and contracts with their signed document.
CREATE TABLE legal.health_declarations (
    customer_id uuid        PRIMARY KEY,
    tobacco     text,
    alcohol     text,
    illnesses   jsonb,      -- array of strings, as declared
    declared_on date,
    version     bigint      NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE legal.contracts (
    contract_id           uuid        PRIMARY KEY,
    customer_id           uuid,
    offer_id              uuid,
    product               text,
    monthly_premium_cents bigint,
    status                text,       -- requested | signed | terminated
    requested_on          date,
    reference             text,
    signed_on             date,
    document_sha256       text,       -- the bytes are in public.contract_documents
    document_name         text,
    document_size_bytes   bigint,
    terminated_on         date,
    termination_reason    text,
    version               bigint      NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX ON legal.contracts (customer_id);

-- Sales: profile, offers, contract status, and one unpaid flag per invoice (the
-- invoice's number and amount stay with billing).
CREATE TABLE sales.profiles (
    customer_id uuid        PRIMARY KEY,
    age_band    text,
    profession  text,
    sex         text,
    version     bigint      NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE sales.offers (
    offer_id              uuid        PRIMARY KEY,
    customer_id           uuid,
    product               text,
    monthly_premium_cents bigint,
    status                text,       -- proposed | accepted | declined | withdrawn
    proposed_on           date,
    decided_on            date,
    reason                text,
    version               bigint      NOT NULL,
    updated_at            timestamptz NOT NULL
);
CREATE INDEX ON sales.offers (customer_id);

CREATE TABLE sales.contracts (
    contract_id   uuid        PRIMARY KEY,
    customer_id   uuid,
    offer_id      uuid,
    product       text,
    status        text,       -- requested | signed | terminated
    requested_on  date,
    signed_on     date,
    terminated_on date,
    version       bigint      NOT NULL,
    updated_at    timestamptz NOT NULL
);
CREATE INDEX ON sales.contracts (customer_id);

-- "Has unpaid invoices" is EXISTS (... WHERE customer_id = $1 AND unpaid): one row per
-- invoice rather than a counter on the customer, so that each row belongs to one
-- aggregate and is made idempotent by that aggregate's sequence.
CREATE TABLE sales.invoice_flags (
    invoice_id  uuid        PRIMARY KEY,
    customer_id uuid,
    unpaid      boolean     NOT NULL,
    version     bigint      NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX ON sales.invoice_flags (customer_id) WHERE unpaid;

-- Billing: the mandate (IBAN in full: masking is the API's job), its history, invoices
-- and their history.
CREATE TABLE billing.mandates (
    customer_id       uuid        PRIMARY KEY,
    status            text,       -- active | revoked
    iban              text,
    mandate_reference text,
    signed_on         date,
    amended_on        date,
    revoked_on        date,
    revocation_reason text,
    version           bigint      NOT NULL,
    updated_at        timestamptz NOT NULL
);

CREATE TABLE billing.mandate_history (
    customer_id                uuid        NOT NULL,
    sequence                   bigint      NOT NULL,
    kind                       text        NOT NULL,  -- signed | amended | revoked
    iban                       text,
    mandate_reference          text,
    previous_iban              text,
    previous_mandate_reference text,
    effective_on               date        NOT NULL,
    reason                     text,
    recorded_at                timestamptz NOT NULL,
    PRIMARY KEY (customer_id, sequence)
);

CREATE TABLE billing.invoices (
    invoice_id          uuid        PRIMARY KEY,
    customer_id         uuid,
    contract_id         uuid,
    number              text,
    amount_cents        bigint,
    issued_on           date,
    due_on              date,
    status              text,       -- issued | paid | payment_rejected | cancelled
    paid_on             date,
    paid_amount_cents   bigint,
    rejected_on         date,
    rejection_reason    text,
    cancelled_on        date,
    cancellation_reason text,
    version             bigint      NOT NULL,
    updated_at          timestamptz NOT NULL
);
CREATE INDEX ON billing.invoices (customer_id);

CREATE TABLE billing.invoice_history (
    invoice_id   uuid        NOT NULL,
    sequence     bigint      NOT NULL,
    kind         text        NOT NULL,  -- issued | paid | payment_rejected | cancelled
    on_date      date        NOT NULL,
    amount_cents bigint,
    reason       text,
    recorded_at  timestamptz NOT NULL,
    PRIMARY KEY (invoice_id, sequence)
);

-- Idempotency of the four departments that hold customer data: the last sequence
-- applied per aggregate. An event at or below it changes nothing (a redelivery); one
-- more than one above it is held back until the missing one arrives.
CREATE TABLE customer_service.applied (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    last_sequence  bigint NOT NULL CHECK (last_sequence >= 1),
    PRIMARY KEY (aggregate_type, aggregate_id)
);
CREATE TABLE legal.applied (LIKE customer_service.applied INCLUDING ALL);
CREATE TABLE sales.applied (LIKE customer_service.applied INCLUDING ALL);
CREATE TABLE billing.applied (LIKE customer_service.applied INCLUDING ALL);

-- Management: counts per event type, overall and per day. Rates are ratios of these
-- (accepted / proposed offers, rejected / issued invoices, ...). Counting is
-- commutative, so management needs no per-aggregate order, only "each event once".
CREATE TABLE management.counters (
    aggregate_type text   NOT NULL,
    event_type     text   NOT NULL,
    count          bigint NOT NULL,
    PRIMARY KEY (aggregate_type, event_type)
);

CREATE TABLE management.daily_counters (
    day            date   NOT NULL,
    aggregate_type text   NOT NULL,
    event_type     text   NOT NULL,
    count          bigint NOT NULL,
    PRIMARY KEY (day, aggregate_type, event_type)
);

-- Management's idempotency without personal data: the global positions already
-- counted. A position is a number the event store hands out in insert order; unlike an
-- aggregate id (a customer id for Customer events) or an event id (derived from it) it
-- says nothing about whom the event concerns, and management's roles cannot read
-- `events` to map it back. A stream-sequence checkpoint would need strictly ordered
-- delivery and could not be carried over from a rebuild that reads PostgreSQL.
CREATE TABLE management.applied_positions (
    global_position bigint PRIMARY KEY
);

-- ---------------------------------------------------------------------------------
-- Privileges, as functions so that a rebuilt copy of a schema gets exactly the same.
-- ---------------------------------------------------------------------------------

-- Grants a department's roles their privileges on `target` (the live schema, or a
-- copy being rebuilt before it is swapped in). Run by the owner.
CREATE FUNCTION lae_read_model_grant(dept text, target text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    writer text := 'lae_' || dept || '_writer';
    reader text := 'lae_' || dept || '_reader';
BEGIN
    IF dept NOT IN ('customer_service', 'legal', 'sales', 'billing', 'management') THEN
        RAISE EXCEPTION 'unknown department %', dept;
    END IF;
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', target);
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM PUBLIC', target);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I, %I', target, writer, reader);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', target, writer);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', target, reader);
END
$$;

-- Creates `target` as an empty copy of `source`'s tables (columns, defaults, checks,
-- keys and indexes). A rebuild replays the store into the copy, then swaps it in.
CREATE FUNCTION lae_read_model_clone(source text, target text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    EXECUTE format('CREATE SCHEMA %I', target);
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = source ORDER BY tablename LOOP
        EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING ALL)',
                       target, t.tablename, source, t.tablename);
    END LOOP;
END
$$;

REVOKE ALL ON FUNCTION lae_read_model_grant(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION lae_read_model_clone(text, text) FROM PUBLIC;

SELECT lae_read_model_grant(dept, dept)
  FROM unnest(ARRAY['customer_service', 'legal', 'sales', 'billing', 'management']) AS dept;

-- Signed contract documents are legal's: its API serves them.
GRANT SELECT ON contract_documents TO lae_legal_reader;
