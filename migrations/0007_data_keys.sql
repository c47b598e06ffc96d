-- Data keys of personal fields (issue 8; crates/store/src/crypto).
--
-- Every personal field of an event payload is sealed (XChaCha20-Poly1305) with a key
-- per data subject and category. The keys live here, each wrapped by the master key,
-- which is never stored in the database: a dump of this schema and of `events`
-- reveals no personal value without the master key.
--
-- One table per category, so that PostgreSQL itself decides who may read which keys:
--
-- | table          | SELECT granted to                                        |
-- | keys.contact   | lae_app, the customer service, legal, sales and billing writers, lae_auditor |
-- | keys.health    | lae_app, lae_legal_writer, lae_auditor                   |
-- | keys.bank      | lae_app, lae_billing_writer, lae_auditor                 |
-- | keys.profile   | lae_app, lae_sales_writer, lae_auditor                   |
--
-- Erasure (crypto-shredding) deletes a subject's rows and records it in keys.erased;
-- the events stay, unreadable in their personal fields. These tables are therefore
-- NOT append-only, unlike `events`: lae_app may DELETE keys (the erasure route) but
-- never UPDATE them; only the owner re-wraps them (`lae keys rotate`).

CREATE SCHEMA keys;
REVOKE ALL ON SCHEMA keys FROM PUBLIC;

CREATE TABLE keys.contact (
    subject_id    uuid        PRIMARY KEY,
    -- The id (hash prefix) of the master key that wrapped this key.
    master_key_id text        NOT NULL,
    -- version ‖ nonce ‖ XChaCha20-Poly1305(master, data key), bound to subject and category.
    wrapped       bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE keys.health (LIKE keys.contact INCLUDING ALL);
CREATE TABLE keys.bank (LIKE keys.contact INCLUDING ALL);
CREATE TABLE keys.profile (LIKE keys.contact INCLUDING ALL);

-- Subjects whose keys were destroyed. Kept so that no new key is ever created for
-- them, and so that an auditor can tell an erased field from a lost key.
CREATE TABLE keys.erased (
    subject_id uuid        PRIMARY KEY,
    erased_at  timestamptz NOT NULL DEFAULT now(),
    -- The legal basis and request reference (never the person's data).
    reason     text        NOT NULL,
    erased_by  text        NOT NULL
);
CREATE TRIGGER erased_append_only BEFORE UPDATE OR DELETE ON keys.erased
    FOR EACH ROW EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER erased_no_truncate BEFORE TRUNCATE ON keys.erased
    FOR EACH STATEMENT EXECUTE FUNCTION lae_refuse_mutation();

REVOKE ALL ON ALL TABLES IN SCHEMA keys FROM PUBLIC;

GRANT USAGE ON SCHEMA keys TO lae_app, lae_auditor,
    lae_customer_service_writer, lae_legal_writer, lae_sales_writer, lae_billing_writer;

-- The command side seals and opens every category, creates keys and erases them.
GRANT SELECT, INSERT, DELETE ON keys.contact, keys.health, keys.bank, keys.profile TO lae_app;
GRANT SELECT, INSERT ON keys.erased TO lae_app;

-- Each projector reads the categories its department may see, and nothing else.
GRANT SELECT ON keys.contact TO
    lae_customer_service_writer, lae_legal_writer, lae_sales_writer, lae_billing_writer;
GRANT SELECT ON keys.health TO lae_legal_writer;
GRANT SELECT ON keys.bank TO lae_billing_writer;
GRANT SELECT ON keys.profile TO lae_sales_writer;

-- Auditors replay the history (health values masked unless revealed and logged).
GRANT SELECT ON ALL TABLES IN SCHEMA keys TO lae_auditor;
