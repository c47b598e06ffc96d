-- The event store: postgres-es's `events` table, kept column for column so that
-- auditors' SQL and postgres-es itself can read it, plus the columns the platform
-- needs (global position, committing transaction, event id, record time).
-- Migrations are append-only: never edit a migration that has shipped, add a new one.

-- Roles are cluster-wide while migrations run per database, and parallel test
-- databases migrate concurrently: create the application role idempotently and
-- tolerate the race.
DO $$
BEGIN
    CREATE ROLE lae_app LOGIN;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;

CREATE TABLE events (
    aggregate_type  text    NOT NULL,
    aggregate_id    text    NOT NULL,
    sequence        bigint  NOT NULL CHECK (sequence >= 1),
    event_type      text    NOT NULL,
    event_version   text    NOT NULL,
    payload         json    NOT NULL,
    metadata        json    NOT NULL,
    -- Commit order is not insert order: the relay reads by (transaction_id,
    -- global_position) below the oldest running transaction, which no late
    -- commit can ever fall behind (see ARCHITECTURE.md, "Reading the store in order").
    global_position bigint  GENERATED ALWAYS AS IDENTITY,
    transaction_id  xid8    NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid    NOT NULL DEFAULT gen_random_uuid(),
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence),
    UNIQUE (global_position),
    UNIQUE (event_id)
);

CREATE INDEX events_commit_order ON events (transaction_id, global_position);
CREATE INDEX events_recorded_at ON events (recorded_at);

-- postgres-es's snapshot table, unused (cqrs-es 0.5.0 applies events twice when it
-- snapshots; the platform runs the plain event store) but kept so postgres-es's
-- repository can be pointed at this database unchanged.
CREATE TABLE snapshots (
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL CHECK (last_sequence >= 0),
    current_snapshot bigint NOT NULL CHECK (current_snapshot >= 0),
    payload          json   NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- Append-only, enforced twice: the application role is granted no UPDATE, DELETE
-- or TRUNCATE, and a trigger refuses them to every role, owner included. Only a
-- superuser who disables the trigger can edit history, and the hash chain is what
-- catches that.
CREATE FUNCTION lae_refuse_mutation() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% on %.% is refused: the table is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION lae_refuse_mutation();

REVOKE ALL ON events, snapshots FROM PUBLIC;
GRANT SELECT, INSERT ON events TO lae_app;
GRANT SELECT ON snapshots TO lae_app;

-- Signed contract documents, content-addressed: the event carries the digest,
-- the bytes live here. The database checks that the key is the content's digest.
CREATE TABLE contract_documents (
    sha256     text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    content    bytea       NOT NULL,
    media_type text        NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (sha256 = encode(sha256(content), 'hex'))
);

CREATE TRIGGER contract_documents_append_only BEFORE UPDATE OR DELETE ON contract_documents
    FOR EACH ROW EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER contract_documents_no_truncate BEFORE TRUNCATE ON contract_documents
    FOR EACH STATEMENT EXECUTE FUNCTION lae_refuse_mutation();

REVOKE ALL ON contract_documents FROM PUBLIC;
GRANT SELECT, INSERT ON contract_documents TO lae_app;

-- New customers are numbered above every legacy number (LAE-000001 ... LAE-999999).
CREATE SEQUENCE customer_number_seq START 1000000;
REVOKE ALL ON SEQUENCE customer_number_seq FROM PUBLIC;
GRANT USAGE ON SEQUENCE customer_number_seq TO lae_app;
