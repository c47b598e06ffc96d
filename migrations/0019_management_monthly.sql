-- Management's monthly roll-ups (crates/projections/src/departments/management.rs,
-- `kpi_series`): the daily sums of 0003 and 0016 summed per calendar month, written by
-- the projector in the same transaction as the daily rows. A year by month then reads
-- twelve rows per series instead of 365 (at 1,000,000 events the daily histograms of
-- durations are about 46,000 rows a year; their monthly roll-up about 1,500). Periods
-- that do not cover whole months (a range starting on the 15th, weeks, days) still read
-- the daily rows. `month` is the first day of the month. No personal data, as the
-- daily tables: the reader may read them.

CREATE TABLE management.monthly_counters (
    month          date   NOT NULL,
    aggregate_type text   NOT NULL,
    event_type     text   NOT NULL,
    count          bigint NOT NULL,
    PRIMARY KEY (month, aggregate_type, event_type)
);

CREATE TABLE management.monthly_measures (
    month     date   NOT NULL,
    measure   text   NOT NULL,
    dimension text   NOT NULL,
    value     bigint NOT NULL,
    PRIMARY KEY (month, measure, dimension)
);

CREATE TABLE management.monthly_durations (
    month     date    NOT NULL,
    measure   text    NOT NULL,
    dimension text    NOT NULL,
    bucket    integer NOT NULL,
    count     bigint  NOT NULL,
    PRIMARY KEY (month, measure, dimension, bucket)
);

-- What management had counted so far.
INSERT INTO management.monthly_counters (month, aggregate_type, event_type, count)
SELECT date_trunc('month', day)::date, aggregate_type, event_type, sum(count)
  FROM management.daily_counters GROUP BY 1, 2, 3;
INSERT INTO management.monthly_measures (month, measure, dimension, value)
SELECT date_trunc('month', day)::date, measure, dimension, sum(value)
  FROM management.daily_measures GROUP BY 1, 2, 3;
INSERT INTO management.monthly_durations (month, measure, dimension, bucket, count)
SELECT date_trunc('month', day)::date, measure, dimension, bucket, sum(count)
  FROM management.daily_durations GROUP BY 1, 2, 3, 4;

SELECT lae_read_model_grant('management', 'management');
