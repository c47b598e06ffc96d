-- A GRANT or REVOKE changes which key tables (keys.<category>) a role may read. Every
-- process caches that answer per keyring (crates/store/src/crypto/keyring.rs); this
-- event trigger tells them at once, with a NOTIFY on `lae_grants` that
-- lae_store::crypto::announce::listen hears and that makes each keyring ask again.
--
-- Only a superuser may create an event trigger. Where the migrating role is not one,
-- the trigger is not created (a notice says so) and a changed grant takes effect when
-- the cached answer expires (5 minutes), or at once if a superuser runs this file's
-- CREATE EVENT TRIGGER by hand (docs/ops/key-rotation.md). Role memberships
-- (GRANT role TO role) are cluster-wide and fire no event trigger: they, too, wait for
-- the cache to expire.

CREATE FUNCTION public.lae_notify_grants() RETURNS event_trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('lae_grants', '');
END
$$;

DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        CREATE EVENT TRIGGER lae_grants_changed ON ddl_command_end
            WHEN TAG IN ('GRANT', 'REVOKE')
            EXECUTE FUNCTION public.lae_notify_grants();
    ELSE
        RAISE NOTICE 'lae_grants_changed not created (needs a superuser): grant changes take effect when keyrings re-read them (5 minutes)';
    END IF;
END
$$;
