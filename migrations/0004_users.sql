-- Users and their roles. The legacy system had no user management; here every request
-- is authenticated and every role is limited to its department (crates/api/src/auth).

CREATE SCHEMA auth;
REVOKE ALL ON SCHEMA auth FROM PUBLIC;
GRANT USAGE ON SCHEMA auth TO lae_app;

CREATE TABLE auth.users (
    user_id          uuid        PRIMARY KEY,
    username         text        NOT NULL UNIQUE CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    display_name     text        NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    role             text        NOT NULL CHECK (role IN ('customer_service', 'legal', 'sales',
                                     'billing', 'auditor', 'admin', 'management')),
    -- Argon2id PHC string; never a password.
    password_hash    text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    -- Every token carries the generation it was issued under; bumping it (logout,
    -- disable, password reset) revokes all of the user's tokens at once.
    token_generation integer     NOT NULL DEFAULT 0,
    disabled_at      timestamptz,
    -- Repeated failed logins lock the account for a growing time.
    failed_logins    integer     NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
    locked_until     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON auth.users FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE ON auth.users TO lae_app;

-- Who changed which account, when: append-only, like the event store.
CREATE TABLE auth.user_changes (
    change_id  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    actor      text        NOT NULL,
    user_id    uuid        NOT NULL REFERENCES auth.users (user_id),
    change     text        NOT NULL CHECK (change IN ('created', 'disabled', 'enabled',
                               'password_reset', 'locked'))
);

CREATE TRIGGER user_changes_append_only BEFORE UPDATE OR DELETE ON auth.user_changes
    FOR EACH ROW EXECUTE FUNCTION lae_refuse_mutation();
CREATE TRIGGER user_changes_no_truncate BEFORE TRUNCATE ON auth.user_changes
    FOR EACH STATEMENT EXECUTE FUNCTION lae_refuse_mutation();

REVOKE ALL ON auth.user_changes FROM PUBLIC;
GRANT SELECT, INSERT ON auth.user_changes TO lae_app;
