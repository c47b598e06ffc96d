-- Audit (crates/audit): tamper evidence over the event store, and the access log of
-- health data and IBAN reads.
--
-- The sealer reads committed events in commit order, after the fact, and appends a
-- seal per event: a per-aggregate hash chain and a global hash chain, keyed with a
-- secret kept outside the database (HMAC-SHA256). Sealing runs beside the command
-- path, never inside it: an append costs exactly what it cost before this migration.
--
-- | role        | may                                                                  |
-- | ----------- | -------------------------------------------------------------------- |
-- | lae_sealer  | read events; read and append seals, checkpoints, keys, subject index |
-- | lae_auditor | read events and every audit table; nothing else                      |
-- | lae_app     | append to the access log; nothing else in this schema                |

-- Roles are cluster-wide while migrations run per database, and parallel test
-- databases migrate concurrently: create them idempotently and tolerate the race.
DO $$
BEGIN
    CREATE ROLE lae_sealer LOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

DO $$
BEGIN
    CREATE ROLE lae_auditor LOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE SCHEMA audit;
REVOKE ALL ON SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO lae_sealer, lae_auditor, lae_app;

-- One seal per sealed event. `chain_index` numbers the seals in the order they were
-- chained (1, 2, 3, ...), which is the events' commit order; the verifier walks the
-- global chain by it. `transaction_id` is where the sealer resumes (the store's
-- commit order is (transaction_id, global_position)); it is not covered by the
-- hashes, so that a restore may renumber transactions (see crates/audit/src/restore).
-- The hashes cover the event's identity, record time, payload and metadata text.
CREATE TABLE audit.event_seals (
    global_position bigint      PRIMARY KEY,
    chain_index     bigint      NOT NULL UNIQUE CHECK (chain_index >= 1),
    transaction_id  xid8        NOT NULL,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    aggregate_hash  bytea       NOT NULL CHECK (length(aggregate_hash) = 32),
    chain_hash      bytea       NOT NULL CHECK (length(chain_hash) = 32),
    sealed_at       timestamptz NOT NULL DEFAULT now(),
    -- The sealer finds an aggregate's previous seal by this key.
    UNIQUE (aggregate_type, aggregate_id, sequence)
);

-- Every N seals, the chain's state: what an operator copies out of the database (a
-- ticket, a signed mail) so that even the last seals cannot be rewritten unnoticed.
CREATE TABLE audit.seal_checkpoints (
    upto_global_position bigint      PRIMARY KEY,
    events_count         bigint      NOT NULL UNIQUE CHECK (events_count >= 1),
    chain_hash           bytea       NOT NULL CHECK (length(chain_hash) = 32),
    key_id               text        NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);

-- Which key sealed the chain, by a fingerprint that reveals nothing of the key
-- ('sha256' when the chain is unkeyed). The sealer refuses to extend a chain begun
-- with another key, and the verifier says so instead of reporting every seal.
CREATE TABLE audit.seal_keys (
    key_id           text        PRIMARY KEY,
    keyed            boolean     NOT NULL,
    from_chain_index bigint      NOT NULL UNIQUE,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- The aggregates that name a customer (offers, contracts, invoices, tickets, through
-- the payload field given by lae_domain::Classified::subject_field), filled by the
-- sealer as it seals: the customer timeline finds them here instead of scanning
-- every payload, and the command path pays nothing for it. Derived data: a restore
-- rebuilds it.
CREATE TABLE audit.subject_aggregates (
    customer_id    text NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_id   text NOT NULL,
    PRIMARY KEY (customer_id, aggregate_type, aggregate_id)
);

-- Who read health data or an IBAN, about whom, why. Written by the application for
-- every such read; read by auditors only.
CREATE TABLE audit.access_log (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    user_name   text        NOT NULL,
    role        text        NOT NULL,
    customer_id text        NOT NULL,
    what        text        NOT NULL CHECK (what IN ('health', 'iban')),
    purpose     text        NOT NULL,
    request_id  text
);

CREATE INDEX access_log_customer ON audit.access_log (customer_id, id);

-- Append-only, like the event store: the same trigger function refuses UPDATE,
-- DELETE and TRUNCATE to every role, owner included.
CREATE TRIGGER event_seals_append_only BEFORE UPDATE OR DELETE ON audit.event_seals
    FOR EACH ROW EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER event_seals_no_truncate BEFORE TRUNCATE ON audit.event_seals
    FOR EACH STATEMENT EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER seal_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit.seal_checkpoints
    FOR EACH ROW EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER seal_checkpoints_no_truncate BEFORE TRUNCATE ON audit.seal_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER seal_keys_append_only BEFORE UPDATE OR DELETE ON audit.seal_keys
    FOR EACH ROW EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER seal_keys_no_truncate BEFORE TRUNCATE ON audit.seal_keys
    FOR EACH STATEMENT EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER subject_aggregates_append_only BEFORE UPDATE OR DELETE ON audit.subject_aggregates
    FOR EACH ROW EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER subject_aggregates_no_truncate BEFORE TRUNCATE ON audit.subject_aggregates
    FOR EACH STATEMENT EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON audit.access_log
    FOR EACH ROW EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON audit.access_log
    FOR EACH STATEMENT EXECUTE FUNCTION lae_refuse_mutation();

REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC;

GRANT SELECT ON events TO lae_sealer;
GRANT SELECT, INSERT ON audit.event_seals, audit.seal_checkpoints, audit.seal_keys,
    audit.subject_aggregates TO lae_sealer;

GRANT SELECT ON events TO lae_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA audit TO lae_auditor;

-- No SELECT: the application writes the log but cannot read who read what.
GRANT INSERT ON audit.access_log TO lae_app;
