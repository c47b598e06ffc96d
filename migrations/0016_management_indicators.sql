-- Management's indicators beyond counts (crates/projections/src/departments/indicators.rs):
-- daily sums that management reads, and the projector's working state that pairs two
-- events of one aggregate (a ticket's opening and resolution, a contract's signature
-- and first invoice). The working state holds ticket, contract and customer ids, so
-- `lae_management_reader` gets no privilege on it: management's queries see sums only.

-- One value per (day, measure, dimension): satisfaction by channel, complaints by
-- channel, tickets resolved by department, operator-days by department, customers who
-- left. A period's figure is the sum of its days.
CREATE TABLE management.daily_measures (
    day       date   NOT NULL,
    measure   text   NOT NULL,
    dimension text   NOT NULL,
    value     bigint NOT NULL,
    PRIMARY KEY (day, measure, dimension)
);

-- Histograms of durations per day: how many durations fell in each bucket (whole days,
-- or for times to resolution log buckets of seconds, eight per doubling).
CREATE TABLE management.daily_durations (
    day       date    NOT NULL,
    measure   text    NOT NULL,
    dimension text    NOT NULL,
    bucket    integer NOT NULL,
    count     bigint  NOT NULL,
    PRIMARY KEY (day, measure, dimension, bucket)
);

-- Working state (names start with work_: see lae_read_model_grant below).

-- The last sequence applied per aggregate: pairing needs each aggregate's events in
-- order (a redelivery after a crash can bring a later event first; it waits, as in
-- every other department). Filled from what management had counted so far.
CREATE TABLE management.work_applied (
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    last_sequence  bigint NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id)
);
INSERT INTO management.work_applied (aggregate_type, aggregate_id, last_sequence)
SELECT e.aggregate_type, e.aggregate_id, max(e.sequence)
  FROM events e JOIN management.applied_positions p ON p.global_position = e.global_position
 GROUP BY 1, 2;
CREATE TABLE management.work_tickets (
    ticket_id   uuid        PRIMARY KEY,
    opened_at   timestamptz,
    channel     text,
    department  text        NOT NULL,
    routed      boolean     NOT NULL,
    resolved_at timestamptz,
    measured    boolean     NOT NULL
);

CREATE TABLE management.work_contracts (
    contract_id        uuid    PRIMARY KEY,
    customer_id        uuid,
    accepted_on        date,
    signed_on          date,
    first_invoiced_on  date,
    in_force           boolean NOT NULL,
    measured_signature boolean NOT NULL,
    measured_invoice   boolean NOT NULL
);

CREATE TABLE management.work_customers (
    customer_id        uuid    PRIMARY KEY,
    contracts_in_force integer NOT NULL
);

CREATE TABLE management.work_operator_days (
    day        date NOT NULL,
    department text NOT NULL,
    operator   text NOT NULL,
    PRIMARY KEY (day, department, operator)
);

-- The grants of 0003, and for management no privilege of its reader on the working
-- state: the same on the live schema and on a copy being rebuilt.
CREATE OR REPLACE FUNCTION lae_read_model_grant(dept text, target text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    writer text := 'lae_' || dept || '_writer';
    reader text := 'lae_' || dept || '_reader';
    t record;
BEGIN
    IF dept NOT IN ('customer_service', 'legal', 'sales', 'billing', 'management') THEN
        RAISE EXCEPTION 'unknown department %', dept;
    END IF;
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', target);
    EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM PUBLIC', target);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I, %I', target, writer, reader);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO %I', target, writer);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', target, reader);
    IF dept = 'management' THEN
        FOR t IN SELECT tablename FROM pg_tables
                  WHERE schemaname = target AND tablename LIKE 'work\_%' LOOP
            EXECUTE format('REVOKE ALL ON %I.%I FROM %I', target, t.tablename, reader);
        END LOOP;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION lae_read_model_grant(text, text) FROM PUBLIC;

SELECT lae_read_model_grant('management', 'management');
