-- Zendesk's webhooks already processed (POST /api/v1/integrations/zendesk/webhook): a
-- redelivered webhook id is answered 200 with nothing appended. The platform's ticket
-- (derived from Zendesk's ticket id) is kept for support; nothing personal.
CREATE TABLE zendesk_webhooks (
    webhook_id  text        PRIMARY KEY,
    event_type  text        NOT NULL,
    ticket_id   uuid,
    received_at timestamptz NOT NULL DEFAULT now()
);
GRANT SELECT, INSERT ON zendesk_webhooks TO lae_app;
