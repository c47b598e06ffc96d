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

-- Wakes the relay up when events are appended, so that it need not poll hard.
-- FOR EACH STATEMENT, not FOR EACH ROW: an append is one INSERT for all the events of
-- a command, and the relay only needs to know that something changed, not what; one
-- notification per statement keeps the notification queue small. The payload is
-- empty so that PostgreSQL folds identical notifications of one transaction into one.
-- Notifications are delivered at commit, and never for a rolled back transaction.
-- The relay still polls on a timer: a notification can be lost while its listening
-- connection reconnects, and an event that was committed but held back behind a
-- long-running transaction becomes readable when that transaction ends, which sends
-- no notification if it wrote no event.
CREATE FUNCTION lae_notify_events_appended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('lae_events', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify_relay AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION lae_notify_events_appended();
