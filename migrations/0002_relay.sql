-- The event relay (crates/relay) publishes committed events to NATS JetStream in
-- commit order. It needs two things from the database: a place to remember how far
-- it got, and a cheap wake-up when something new was appended.

-- How far each relay got, as a position in commit order. The relay reads only events
-- whose transaction id is below the oldest running transaction
-- (pg_snapshot_xmin(pg_current_snapshot())), ordered by (transaction_id,
-- global_position): no transaction can commit behind that position any more, so a
-- checkpoint of this pair never skips an event that commits late. A global position
-- alone would not do: positions are taken at INSERT and become visible at COMMIT, in
-- another order. One row per relay name; only the leader (which holds the relay's
-- advisory lock) writes it, and only forward.
CREATE TABLE relay_checkpoints (
    relay           text        PRIMARY KEY,
    transaction_id  xid8        NOT NULL,
    global_position bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON relay_checkpoints FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON relay_checkpoints TO lae_app;

-- No trigger wakes the relay. A NOTIFY inside the appending transaction makes
-- PostgreSQL serialize every committing transaction on a database-wide lock held
-- through the WAL flush: group commit is lost, and on these machines raw one-row
-- inserts fall from about 7,000 to about 400 per second (measured with pgbench, with
-- and without such a trigger). Appends are announced instead by the application, in a
-- transaction of its own (crates/store/src/notify.rs); the relay also polls.
