//! The legacy estate: four SQLite files, two tables each (see `crates/migrator/legacy/SCHEMA.md`).
//!
//! [`LegacyFile`] and [`Table`] name what the import reads and which columns it needs;
//! [`reader`] streams a table's rows from a read-only connection; [`cell`] is a row as
//! read, before anything is trusted.

pub mod cell;
pub mod reader;

use lae_domain::Department;
use serde::Serialize;

/// One department application's database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum LegacyFile {
    ServiceClient,
    Juridique,
    Vente,
    Facturation,
}

impl LegacyFile {
    /// The files in import order: customer service first, since it is where customers
    /// are registered and every other file is matched against it.
    pub const ALL: [LegacyFile; 4] = [
        LegacyFile::ServiceClient,
        LegacyFile::Juridique,
        LegacyFile::Vente,
        LegacyFile::Facturation,
    ];

    /// The file name in the legacy directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::ServiceClient => "service_client.db",
            Self::Juridique => "juridique.db",
            Self::Vente => "vente.db",
            Self::Facturation => "facturation.db",
        }
    }

    /// The department whose application kept the file.
    pub fn department(self) -> Department {
        match self {
            Self::ServiceClient => Department::CustomerService,
            Self::Juridique => Department::Legal,
            Self::Vente => Department::Sales,
            Self::Facturation => Department::Billing,
        }
    }

    /// The file a department's application kept.
    pub fn of(department: Department) -> Self {
        match department {
            Department::CustomerService => Self::ServiceClient,
            Department::Legal => Self::Juridique,
            Department::Sales => Self::Vente,
            Department::Billing => Self::Facturation,
        }
    }

    /// The file's tables, customers first.
    pub fn tables(self) -> [Table; 2] {
        match self {
            Self::ServiceClient => [Table::ScClients, Table::ScAppels],
            Self::Juridique => [Table::JuClients, Table::JuContrats],
            Self::Vente => [Table::VeClients, Table::VeOffres],
            Self::Facturation => [Table::FaClients, Table::FaFactures],
        }
    }
}

/// The contact columns every `clients` table repeats, in this order.
pub const CONTACT_COLUMNS: [&str; 6] = [
    "num_client",
    "nom",
    "prenom",
    "mail",
    "telephone",
    "disponibilite",
];

/// Column positions in the rows the reader returns for a `clients` table: the contact
/// columns first, then the department's own.
pub mod col {
    pub const NUM_CLIENT: usize = 0;
    pub const NOM: usize = 1;
    pub const PRENOM: usize = 2;
    pub const MAIL: usize = 3;
    pub const TELEPHONE: usize = 4;
    pub const DISPONIBILITE: usize = 5;
    /// The first department-specific column of a `clients` table.
    pub const EXTRA: usize = 6;
}

/// One legacy table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Table {
    ScClients,
    ScAppels,
    JuClients,
    JuContrats,
    VeClients,
    VeOffres,
    FaClients,
    FaFactures,
}

impl Table {
    /// The file holding the table.
    pub fn file(self) -> LegacyFile {
        match self {
            Self::ScClients | Self::ScAppels => LegacyFile::ServiceClient,
            Self::JuClients | Self::JuContrats => LegacyFile::Juridique,
            Self::VeClients | Self::VeOffres => LegacyFile::Vente,
            Self::FaClients | Self::FaFactures => LegacyFile::Facturation,
        }
    }

    /// The table's SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Self::ScClients | Self::JuClients | Self::VeClients | Self::FaClients => "clients",
            Self::ScAppels => "appels",
            Self::JuContrats => "contrats",
            Self::VeOffres => "offres",
            Self::FaFactures => "factures",
        }
    }

    /// `file.table`, the key of the table in the report.
    pub fn key(self) -> &'static str {
        match self {
            Self::ScClients => "service_client.clients",
            Self::ScAppels => "service_client.appels",
            Self::JuClients => "juridique.clients",
            Self::JuContrats => "juridique.contrats",
            Self::VeClients => "vente.clients",
            Self::VeOffres => "vente.offres",
            Self::FaClients => "facturation.clients",
            Self::FaFactures => "facturation.factures",
        }
    }

    /// The columns the import reads, in the order the reader returns them.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::ScClients => &CONTACT_COLUMNS,
            Self::ScAppels => &[
                "client_id",
                "date_appel",
                "canal",
                "motif",
                "actions",
                "operateur",
            ],
            Self::JuClients => &[
                "num_client",
                "nom",
                "prenom",
                "mail",
                "telephone",
                "disponibilite",
                "tabac",
                "alcool",
                "maladies",
            ],
            Self::JuContrats => &[
                "client_id",
                "reference",
                "produit",
                "date_signature",
                "statut",
                "nom_fichier",
                "fichier",
            ],
            Self::VeClients => &[
                "num_client",
                "nom",
                "prenom",
                "mail",
                "telephone",
                "disponibilite",
                "categorie_age",
                "profession",
                "sexe",
            ],
            Self::VeOffres => &[
                "client_id",
                "produit",
                "date_proposition",
                "statut",
                "prime_mensuelle",
            ],
            Self::FaClients => &[
                "num_client",
                "nom",
                "prenom",
                "mail",
                "telephone",
                "disponibilite",
                "iban",
                "autorisation_prelevement",
                "date_mandat",
                "rum",
            ],
            Self::FaFactures => &["client_id", "numero", "date_emission", "montant", "statut"],
        }
    }

    /// The one column allowed to hold a large BLOB (the signed contract).
    pub fn document_column(self) -> Option<&'static str> {
        match self {
            Self::JuContrats => Some("fichier"),
            _ => None,
        }
    }

    /// The column's name, for reasons and conflicts.
    pub fn column(self, index: usize) -> &'static str {
        self.columns().get(index).copied().unwrap_or("?")
    }
}

/// Column positions of the child tables, in [`Table::columns`] order.
pub mod child {
    /// `client_id`, the first column of every child table.
    pub const CLIENT_ID: usize = 0;

    pub mod appels {
        pub const DATE: usize = 1;
        pub const CANAL: usize = 2;
        pub const MOTIF: usize = 3;
        pub const ACTIONS: usize = 4;
        pub const OPERATEUR: usize = 5;
    }
    pub mod contrats {
        pub const REFERENCE: usize = 1;
        pub const PRODUIT: usize = 2;
        pub const DATE_SIGNATURE: usize = 3;
        pub const STATUT: usize = 4;
        pub const NOM_FICHIER: usize = 5;
        pub const FICHIER: usize = 6;
    }
    pub mod offres {
        pub const PRODUIT: usize = 1;
        pub const DATE: usize = 2;
        pub const STATUT: usize = 3;
        pub const PRIME: usize = 4;
    }
    pub mod factures {
        pub const NUMERO: usize = 1;
        pub const DATE: usize = 2;
        pub const MONTANT: usize = 3;
        pub const STATUT: usize = 4;
    }
}
