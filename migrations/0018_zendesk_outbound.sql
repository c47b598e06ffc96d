-- Zendesk, outbound (the `zendesk` reactor) and the link between the two systems' tickets.
-- Ids only: nothing personal.

-- Zendesk's ticket of each platform ticket that has one: created there by the reactor
-- (origin `platform`), or first created in Zendesk and received through its webhook
-- (origin `zendesk`, recorded before the ticket is opened here).
CREATE TABLE zendesk_tickets (
    ticket_id  uuid        PRIMARY KEY,
    zendesk_id bigint      NOT NULL UNIQUE,
    origin     text        NOT NULL CHECK (origin IN ('platform', 'zendesk')),
    linked_at  timestamptz NOT NULL DEFAULT now()
);

-- The events already delivered to Zendesk: a redelivery (a crash between Zendesk's
-- answer and the ack) finds its event here and sends nothing twice.
CREATE TABLE zendesk_deliveries (
    event_id     uuid        PRIMARY KEY,
    ticket_id    uuid        NOT NULL,
    zendesk_id   bigint      NOT NULL,
    event_type   text        NOT NULL,
    delivered_at timestamptz NOT NULL DEFAULT now()
);

GRANT SELECT, INSERT ON zendesk_tickets, zendesk_deliveries TO lae_app;
