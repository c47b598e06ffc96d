-- Signed contract documents sealed with their customer's health key
-- (lae_store::documents). A sealed row is keyed by a digest of the customer and the
-- document's digest, and holds ciphertext: the check that the key is the content's
-- digest holds for the clear rows written before only, and goes.
DO $$
DECLARE
    name text;
BEGIN
    FOR name IN
        SELECT conname FROM pg_constraint
         WHERE conrelid = 'public.contract_documents'::regclass AND contype = 'c'
           AND pg_get_constraintdef(oid) LIKE '%sha256(content)%'
    LOOP
        EXECUTE format('ALTER TABLE public.contract_documents DROP CONSTRAINT %I', name);
    END LOOP;
END
$$;

-- Still append-only, with one exception: `lae documents seal` deletes a clear row
-- (its key is its content's digest) once it wrote its sealed copies, in a
-- transaction that says so. Nothing else may be deleted, nothing updated.
CREATE FUNCTION lae_contract_documents_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND current_setting('lae.document_sealing', true) = 'on'
       AND OLD.sha256 = encode(sha256(OLD.content), 'hex') THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION '% on %.% is refused: the table is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

DROP TRIGGER contract_documents_append_only ON public.contract_documents;
CREATE TRIGGER contract_documents_append_only BEFORE UPDATE OR DELETE ON public.contract_documents
    FOR EACH ROW EXECUTE FUNCTION lae_contract_documents_guard();

-- Reading a signed document is written to the access log, as health data is.
DO $$
DECLARE
    name text;
BEGIN
    FOR name IN
        SELECT conname FROM pg_constraint
         WHERE conrelid = 'audit.access_log'::regclass AND contype = 'c'
           AND pg_get_constraintdef(oid) LIKE '%iban%'
    LOOP
        EXECUTE format('ALTER TABLE audit.access_log DROP CONSTRAINT %I', name);
    END LOOP;
END
$$;
ALTER TABLE audit.access_log ADD CONSTRAINT access_log_what_check
    CHECK (what IN ('health', 'iban', 'contract_document'));
