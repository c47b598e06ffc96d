-- Each department's ticket inbox (legal, sales, billing): the tickets routed to it,
-- while it holds them (GET /api/v1/{legal,sales,billing}/tickets and the desks'
-- inboxes). A row enters with the TicketRouted event that names the department (the
-- event hands over reason, channel and date of the contact, and the routing note) and
-- leaves with the resolution or a routing elsewhere: `held` turns false, the free
-- texts and the history go; ids, channel and dates stay for the bookkeeping.
--
-- These projectors follow Ticket events from this version on: a database that already
-- holds tickets rebuilds legal's, sales' and billing's read models once after the
-- upgrade (`lae projections rebuild <department>`). Indexes belong to their tables: a
-- rebuild's copy of a schema has them too.

DO $$
DECLARE
    dept text;
BEGIN
    FOREACH dept IN ARRAY ARRAY['legal', 'sales', 'billing'] LOOP
        EXECUTE format($t$
            CREATE TABLE %I.tickets (
                ticket_id        uuid        PRIMARY KEY,
                customer_id      uuid,
                held             boolean     NOT NULL,
                channel          text,
                reason           text,
                opened_at        timestamptz,
                routed_from      text,
                routed_at        timestamptz,
                routing_note     text,
                actions          integer     NOT NULL,
                last_activity_at timestamptz,
                left_at          timestamptz,
                left_as          text,       -- resolved | routed
                version          bigint      NOT NULL,
                updated_at       timestamptz NOT NULL
            )$t$, dept);
        EXECUTE format($t$
            CREATE TABLE %I.ticket_history (
                ticket_id uuid        NOT NULL,
                sequence  bigint      NOT NULL,
                at        timestamptz NOT NULL,
                operator  text,
                text      text,
                PRIMARY KEY (ticket_id, sequence)
            )$t$, dept);
        -- The inbox, oldest hand-over first: a page is one range of this index.
        EXECUTE format($t$
            CREATE INDEX tickets_inbox ON %I.tickets
                ((coalesce(routed_at, 'infinity'::timestamptz)), ticket_id) WHERE held
            $t$, dept);
        EXECUTE format('CREATE INDEX ON %I.tickets (customer_id) WHERE held', dept);
        PERFORM lae_read_model_grant(dept, dept);
    END LOOP;
END
$$;
