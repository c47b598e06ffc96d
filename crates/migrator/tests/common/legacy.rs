//! Hand-made legacy files: the four databases with the legacy schema (as
//! `make_legacy.py` creates it), and rows inserted column by column, so that a test
//! can put any value, hostile ones included, in any column.

use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::Value;

pub const SC: &str = "service_client.db";
pub const JU: &str = "juridique.db";
pub const VE: &str = "vente.db";
pub const FA: &str = "facturation.db";

const CONTACT: &str =
    "num_client TEXT, nom TEXT, prenom TEXT, mail TEXT, telephone TEXT, disponibilite TEXT";

/// The four legacy files in a temporary directory.
pub struct Legacy {
    pub dir: tempfile::TempDir,
}

pub fn t(s: &str) -> Value {
    Value::Text(s.to_owned())
}

pub fn i(n: i64) -> Value {
    Value::Integer(n)
}

pub fn null() -> Value {
    Value::Null
}

pub fn blob(b: &[u8]) -> Value {
    Value::Blob(b.to_vec())
}

/// A tiny PDF, as the legacy legal application stores them.
pub fn pdf(reference: &str) -> Value {
    blob(format!("%PDF-1.4\n% contrat {reference}\n%%EOF\n").as_bytes())
}

impl Legacy {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let ddl = [
            (
                SC,
                format!(
                    "CREATE TABLE clients (id INTEGER PRIMARY KEY, {CONTACT});
                     CREATE TABLE appels (id INTEGER PRIMARY KEY, client_id INTEGER, date_appel TEXT, canal TEXT,
                         motif TEXT, actions TEXT, operateur TEXT);"
                ),
            ),
            (
                JU,
                format!(
                    "CREATE TABLE clients (id INTEGER PRIMARY KEY, {CONTACT}, tabac TEXT, alcool TEXT, maladies TEXT);
                     CREATE TABLE contrats (id INTEGER PRIMARY KEY, client_id INTEGER, reference TEXT,
                         produit TEXT, date_signature TEXT, statut TEXT, nom_fichier TEXT, fichier BLOB);"
                ),
            ),
            (
                VE,
                format!(
                    "CREATE TABLE clients (id INTEGER PRIMARY KEY, {CONTACT}, categorie_age TEXT, profession TEXT, sexe TEXT);
                     CREATE TABLE offres (id INTEGER PRIMARY KEY, client_id INTEGER, produit TEXT,
                         date_proposition TEXT, statut TEXT, prime_mensuelle TEXT);"
                ),
            ),
            (
                FA,
                format!(
                    "CREATE TABLE clients (id INTEGER PRIMARY KEY, {CONTACT}, iban TEXT, autorisation_prelevement TEXT,
                         date_mandat TEXT, rum TEXT);
                     CREATE TABLE factures (id INTEGER PRIMARY KEY, client_id INTEGER, numero TEXT,
                         date_emission TEXT, montant TEXT, statut TEXT);"
                ),
            ),
        ];
        for (file, ddl) in ddl {
            Connection::open(dir.path().join(file))
                .expect("open")
                .execute_batch(&ddl)
                .expect("schema");
        }
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn connection(&self, file: &str) -> Connection {
        Connection::open(self.dir.path().join(file)).expect("open")
    }

    /// Inserts a row with the given columns (the others are NULL).
    pub fn insert(&self, file: &str, table: &str, values: &[(&str, Value)]) {
        let columns: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
        let marks: Vec<String> = (1..=values.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            marks.join(", ")
        );
        let params: Vec<&Value> = values.iter().map(|(_, v)| v).collect();
        self.connection(file)
            .execute(&sql, rusqlite::params_from_iter(params))
            .expect("insert");
    }

    /// Runs raw SQL (for values no parameter can make, like invalid UTF-8 text).
    pub fn exec(&self, file: &str, sql: &str) {
        self.connection(file).execute_batch(sql).expect("sql");
    }

    /// A customer with the same contact details in every file (row id `id` in each),
    /// as a well-kept estate would have them.
    pub fn customer(
        &self,
        id: i64,
        number: &str,
        last: &str,
        first: &str,
        mail: &str,
        phone: &str,
    ) {
        let contact = |extra: Vec<(&'static str, Value)>| {
            let mut v = vec![
                ("id", i(id)),
                ("num_client", t(number)),
                ("nom", t(last)),
                ("prenom", t(first)),
                ("mail", t(mail)),
                ("telephone", t(phone)),
                ("disponibilite", t("matin")),
            ];
            v.extend(extra);
            v
        };
        self.insert(SC, "clients", &contact(vec![]));
        self.insert(
            JU,
            "clients",
            &contact(vec![
                ("tabac", t("non")),
                ("alcool", t("occasionnel")),
                ("maladies", t("")),
            ]),
        );
        self.insert(
            VE,
            "clients",
            &contact(vec![
                ("categorie_age", t("36-45")),
                ("profession", t("Cadre")),
                ("sexe", t("F")),
            ]),
        );
        self.insert(
            FA,
            "clients",
            &contact(vec![
                ("iban", t("FR7630006000011234567890189")),
                ("autorisation_prelevement", t("oui")),
                ("date_mandat", t("01/02/2020")),
                ("rum", t(&format!("RUM-{number}"))),
            ]),
        );
    }

    /// A signed contract of client row `client_id` in juridique.db.
    pub fn contract(&self, id: i64, client_id: i64, reference: &str, status: &str) {
        self.insert(
            JU,
            "contrats",
            &[
                ("id", i(id)),
                ("client_id", i(client_id)),
                ("reference", t(reference)),
                ("produit", t("Vie Sérénité")),
                ("date_signature", t("2020-01-15")),
                ("statut", t(status)),
                ("nom_fichier", t(&format!("{reference}.pdf"))),
                ("fichier", pdf(reference)),
            ],
        );
    }
}
