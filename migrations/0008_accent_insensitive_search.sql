-- Customer search that ignores accents and case, as a caller spells a name on the
-- phone: `zebulon` finds `Zébulon`, `dupont` finds `DUPONT`, `helene` finds `Hélène`.
--
-- lae_fold() is the one definition of that matching: the query routes fold both the
-- stored name and the typed prefix with it, and the search indexes are built on it, so
-- a prefix is still one range of an index and the keyset order is still byte-wise
-- (COLLATE "C") on the folded text. It only uses IMMUTABLE functions (translate,
-- replace, lower), so it can be indexed; no extension is needed.
CREATE OR REPLACE FUNCTION public.lae_fold(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN lower(translate(
        replace(replace(replace(replace(replace($1, 'œ', 'oe'), 'Œ', 'oe'), 'æ', 'ae'), 'Æ', 'ae'), 'ß', 'ss'),
        'ÀÁÂÃÄÅĀĂĄàáâãäåāăąÇĆČçćčĎďÈÉÊËĒĖĘĚèéêëēėęěÌÍÎÏĪĮìíîïīįĹĽŁĺľłÑŃŇñńňÒÓÔÕÖØŌŐòóôõöøōőŔŘŕřŚŠŞśšşŤťÙÚÛÜŪŮŰŲùúûüūůűųÝŸýÿŹŻŽźżž',
        'AAAAAAAAAaaaaaaaaaCCCcccDdEEEEEEEEeeeeeeeeIIIIIIiiiiiiLLLlllNNNnnnOOOOOOOOooooooooRRrrSSSsssTtUUUUUUUUuuuuuuuuYYyyZZZzzz'));

-- The order and prefix ranges of the customer lists, on the folded names (replacing
-- the lower-cased ones of 0006). A rebuild's copy of a schema has them too (LIKE ...
-- INCLUDING ALL).
DROP INDEX customer_service.customers_search_order;
DROP INDEX legal.customers_search_order;
DROP INDEX sales.customers_search_order;
DROP INDEX billing.customers_search_order;
CREATE INDEX customers_search_order ON customer_service.customers
    ((public.lae_fold(coalesce(last_name, '')) COLLATE "C"), (public.lae_fold(coalesce(first_name, '')) COLLATE "C"), customer_id);
CREATE INDEX customers_search_order ON legal.customers
    ((public.lae_fold(coalesce(last_name, '')) COLLATE "C"), (public.lae_fold(coalesce(first_name, '')) COLLATE "C"), customer_id);
CREATE INDEX customers_search_order ON sales.customers
    ((public.lae_fold(coalesce(last_name, '')) COLLATE "C"), (public.lae_fold(coalesce(first_name, '')) COLLATE "C"), customer_id);
CREATE INDEX customers_search_order ON billing.customers
    ((public.lae_fold(coalesce(last_name, '')) COLLATE "C"), (public.lae_fold(coalesce(first_name, '')) COLLATE "C"), customer_id);

-- The reasons customer service picks from when it logs a call or a mail. LAE extends
-- the list (`lae tickets reasons add CODE "Libellé"`) or retires an entry (active =
-- false: old tickets keep their text). Configuration, not history: tickets store the
-- label they were opened with.
CREATE TABLE public.ticket_reasons (
    code     text    PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,39}$'),
    label    text    NOT NULL CHECK (length(label) BETWEEN 1 AND 80),
    position integer NOT NULL DEFAULT 100,
    active   boolean NOT NULL DEFAULT true
);
INSERT INTO public.ticket_reasons (code, label, position) VALUES
    ('contact_change', 'Changement de coordonnées', 10),
    ('contract_question', 'Question sur un contrat', 20),
    ('new_contract', 'Demande de souscription', 30),
    ('invoice_question', 'Question sur une facture', 40),
    ('payment_issue', 'Problème de prélèvement', 50),
    ('claim', 'Déclaration de sinistre', 60),
    ('termination', 'Demande de résiliation', 70),
    ('complaint', 'Réclamation', 80),
    ('other', 'Autre demande', 90);
REVOKE ALL ON public.ticket_reasons FROM PUBLIC;
GRANT SELECT ON public.ticket_reasons TO lae_app;

-- The team's queue of open tickets, oldest first, a page at a time.
CREATE INDEX tickets_open_queue ON customer_service.tickets (opened_at, ticket_id)
    WHERE status = 'open';
