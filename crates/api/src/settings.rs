//! Configuration from the environment, with defaults that work on a developer machine.

use std::net::SocketAddr;
use std::sync::Arc;

use lae_store::crypto::MasterKeys;
use lae_store::db::{APP_ROLE, DbError, DbSettings};

/// Everything `lae serve` needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub db: DbSettings,
    pub nats_url: String,
    pub http_addr: SocketAddr,
    /// Signing key of access tokens (`LAE_JWT_SECRET` or the file `LAE_JWT_SECRET_FILE`);
    /// a random per-process key when unset.
    pub jwt_secret: Option<Secret>,
    /// The first administrator, created at start when no administrator exists
    /// (`LAE_BOOTSTRAP_ADMIN_USER`, `LAE_BOOTSTRAP_ADMIN_PASSWORD`).
    pub bootstrap_admin: Option<(String, Secret)>,
    /// The relay to NATS, run inside `lae serve` unless `LAE_RUN_RELAY=false`.
    pub relay: Option<lae_relay::RelayConfig>,
    /// The department projectors, run inside `lae serve` unless `LAE_RUN_PROJECTORS=false`.
    pub projectors: Option<lae_projections::ProjectorConfig>,
    /// The audit sealer (hash chains), run inside `lae serve` unless `LAE_RUN_SEALER=false`.
    pub sealer: bool,
    /// The reactors (offer accepted → contract requested, sales informed), run inside
    /// `lae serve` unless `LAE_RUN_REACTORS=false`.
    pub reactors: Option<lae_reactors::ReactorConfig>,
    /// The master key that wraps the data keys of personal fields (`LAE_MASTER_KEY` or
    /// the file `LAE_MASTER_KEY_FILE`; during a rotation also `LAE_MASTER_KEY_PREVIOUS`
    /// or `LAE_MASTER_KEY_PREVIOUS_FILE`). Required unless [`Settings::plaintext`].
    pub master_keys: Option<Arc<MasterKeys>>,
    /// `LAE_ENCRYPTION=off`: store personal fields in clear. Only for the
    /// encryption-off benchmark; `lae serve` refuses to start without a master key
    /// otherwise.
    pub plaintext: bool,
    /// Password of the departments' `lae_<dept>_reader` roles, where the server asks for
    /// one (`LAE_READER_DB_PASSWORD`, else `LAE_PROJECTION_DB_PASSWORD`).
    pub reader_password: Option<Secret>,
    /// The secret Zendesk signs its webhooks with (`LAE_ZENDESK_WEBHOOK_SECRET`, or the
    /// file `LAE_ZENDESK_WEBHOOK_SECRET_FILE`); unset, the webhook route answers 404.
    pub zendesk_webhook_secret: Option<Secret>,
    /// Zendesk's API (`LAE_ZENDESK_URL`, `_EMAIL`, `_API_TOKEN`): the webhook looks the
    /// requester of a new Zendesk ticket up with it, the `zendesk` reactor delivers
    /// the platform's tickets with it. `None`: neither happens.
    pub zendesk: Option<lae_reactors::zendesk::ZendeskConfig>,
    /// Connections of each department's reader pool (`LAE_READER_POOL_SIZE`, default 8).
    pub reader_pool_size: u32,
    /// The creditor of SEPA collections (`LAE_SEPA_CREDITOR_NAME`, `_IBAN`, `_BIC`,
    /// `_ID`, all four or none); unset, collections are refused.
    pub sepa_creditor: Option<crate::billing_cycle::SepaCreditor>,
    /// The departments this instance serves (`LAE_DEPARTMENTS=legal,sales`, or
    /// `lae serve --department`), everything by default: their routes, their desks and
    /// their projectors only ([`crate::deployment`]).
    pub deployment: crate::deployment::Deployment,
    /// Where key destructions are announced to the other processes, and heard from
    /// them (`NATS_URL`, `LAE_KEYS_SUBJECT_PREFIX`: `<prefix>.destroyed`).
    pub key_announcements: lae_store::crypto::KeyAnnouncements,
}

/// A secret value: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The secret as text (lossy for non-UTF-8 bytes).
    pub fn expose_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{name}: {source}")]
    Db {
        name: &'static str,
        #[source]
        source: DbError,
    },
    #[error("{name}={value:?} is not valid: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/lae";
pub const DEFAULT_NATS_URL: &str = "nats://127.0.0.1:4222";
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";

impl Settings {
    /// The same settings limited to `deployment` (`lae serve --department`, which
    /// overrides `LAE_DEPARTMENTS`): its routes and desks, its projectors. The relay,
    /// the reactors and the sealer keep their own `LAE_RUN_*` switches.
    #[must_use]
    pub fn limit_to(mut self, deployment: crate::deployment::Deployment) -> Self {
        if let Some(config) = self.projectors.as_mut() {
            config.departments = deployment.read_models();
        }
        self.deployment = deployment;
        self
    }

    /// Reads `DATABASE_URL`, `LAE_APP_DB_USER`, `LAE_APP_DB_PASSWORD`,
    /// `LAE_DB_POOL_SIZE`, `LAE_READER_*`, `NATS_URL` and `LAE_HTTP_ADDR`.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Same as [`Settings::from_env`] over any lookup (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let database_url = get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let app_user = get("LAE_APP_DB_USER").unwrap_or_else(|| APP_ROLE.into());
        let app_password = get("LAE_APP_DB_PASSWORD");
        let pool_size = |name: &'static str, default: u32| match get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| SettingsError::Invalid {
                    name,
                    value: v.clone(),
                    reason: "expected a number from 1 to 1000".into(),
                }),
        };
        let reader_pool_size = pool_size("LAE_READER_POOL_SIZE", 8)?;
        let reader_password = get("LAE_READER_DB_PASSWORD")
            .or_else(|| get("LAE_PROJECTION_DB_PASSWORD"))
            .filter(|p| !p.trim().is_empty())
            .map(|p| Secret::new(p.into_bytes()));
        let pool_size = pool_size("LAE_DB_POOL_SIZE", 32)?;
        let db = DbSettings::from_url(&database_url, &app_user, app_password.as_deref(), pool_size)
            .map_err(|source| SettingsError::Db {
                name: "DATABASE_URL",
                source,
            })?;
        let http = get("LAE_HTTP_ADDR").unwrap_or_else(|| DEFAULT_HTTP_ADDR.into());
        let http_addr =
            http.parse()
                .map_err(|e: std::net::AddrParseError| SettingsError::Invalid {
                    name: "LAE_HTTP_ADDR",
                    value: http.clone(),
                    reason: e.to_string(),
                })?;
        let jwt_secret = match (get("LAE_JWT_SECRET"), get("LAE_JWT_SECRET_FILE")) {
            (Some(secret), _) => Some(Secret::new(secret.into_bytes())),
            (None, Some(path)) => Some(Secret::new(std::fs::read(&path).map_err(|e| {
                SettingsError::Invalid {
                    name: "LAE_JWT_SECRET_FILE",
                    value: path.clone(),
                    reason: e.to_string(),
                }
            })?)),
            (None, None) => None,
        };
        let zendesk_webhook_secret = match (
            get("LAE_ZENDESK_WEBHOOK_SECRET"),
            get("LAE_ZENDESK_WEBHOOK_SECRET_FILE"),
        ) {
            (Some(secret), _) => Some(secret),
            (None, Some(path)) => Some(
                std::fs::read_to_string(&path)
                    .map_err(|e| SettingsError::Invalid {
                        name: "LAE_ZENDESK_WEBHOOK_SECRET_FILE",
                        value: path.clone(),
                        reason: e.to_string(),
                    })?
                    .trim_end_matches(['\n', '\r'])
                    .to_owned(),
            ),
            (None, None) => None,
        }
        .filter(|s| !s.trim().is_empty())
        .map(|s| Secret::new(s.into_bytes()));
        if jwt_secret.as_ref().is_some_and(|s| s.expose().len() < 32) {
            return Err(SettingsError::Invalid {
                name: "LAE_JWT_SECRET",
                value: "***".into(),
                reason: "must be at least 32 bytes".into(),
            });
        }
        let bootstrap_admin = match (
            get("LAE_BOOTSTRAP_ADMIN_USER"),
            get("LAE_BOOTSTRAP_ADMIN_PASSWORD"),
        ) {
            (Some(user), Some(password)) => Some((user, Secret::new(password.into_bytes()))),
            (None, None) => None,
            _ => {
                return Err(SettingsError::Invalid {
                    name: "LAE_BOOTSTRAP_ADMIN_USER",
                    value: String::new(),
                    reason: "set both LAE_BOOTSTRAP_ADMIN_USER and LAE_BOOTSTRAP_ADMIN_PASSWORD, or neither".into(),
                });
            }
        };
        let enabled = |name: &'static str| -> Result<bool, SettingsError> {
            match get(name).as_deref().map(str::trim) {
                None | Some("") | Some("true") | Some("1") | Some("yes") => Ok(true),
                Some("false") | Some("0") | Some("no") => Ok(false),
                Some(other) => Err(SettingsError::Invalid {
                    name,
                    value: other.to_owned(),
                    reason: "expected true or false".into(),
                }),
            }
        };
        let relay = enabled("LAE_RUN_RELAY")?.then(|| lae_relay::RelayConfig::from_lookup(&get));
        let projectors = if enabled("LAE_RUN_PROJECTORS")? {
            Some(
                lae_projections::ProjectorConfig::from_lookup(&get).map_err(|e| {
                    SettingsError::Invalid {
                        name: "LAE_PROJECTION_*",
                        value: String::new(),
                        reason: e.to_string(),
                    }
                })?,
            )
        } else {
            None
        };
        let zendesk = lae_reactors::zendesk::ZendeskConfig::from_lookup(&get).map_err(|e| {
            SettingsError::Invalid {
                name: "LAE_ZENDESK_*",
                value: String::new(),
                reason: e.to_string(),
            }
        })?;
        let reactors = if enabled("LAE_RUN_REACTORS")? {
            Some(lae_reactors::ReactorConfig::from_lookup(&get).map_err(|e| {
                SettingsError::Invalid {
                    name: "LAE_REACTOR_*",
                    value: String::new(),
                    reason: e.to_string(),
                }
            })?)
        } else {
            None
        };
        let master_keys = MasterKeys::from_lookup(&get)
            .map_err(|e| SettingsError::Invalid {
                name: "LAE_MASTER_KEY",
                value: "***".into(),
                reason: e.to_string(),
            })?
            .map(Arc::new);
        let plaintext = match get("LAE_ENCRYPTION").as_deref().map(str::trim) {
            None | Some("") | Some("on") => false,
            Some("off") => true,
            Some(other) => {
                return Err(SettingsError::Invalid {
                    name: "LAE_ENCRYPTION",
                    value: other.to_owned(),
                    reason: "expected on or off".into(),
                });
            }
        };
        let deployment = match get("LAE_DEPARTMENTS") {
            None => crate::deployment::Deployment::everything(),
            Some(list) => crate::deployment::Deployment::parse_list(&list).map_err(|e| {
                SettingsError::Invalid {
                    name: "LAE_DEPARTMENTS",
                    value: list.clone(),
                    reason: e.to_string(),
                }
            })?,
        };
        let key_announcements =
            lae_store::crypto::KeyAnnouncements::from_lookup(&get).map_err(|reason| {
                SettingsError::Invalid {
                    name: "LAE_KEYS_SUBJECT_PREFIX",
                    value: get("LAE_KEYS_SUBJECT_PREFIX").unwrap_or_default(),
                    reason,
                }
            })?;
        let settings = Self {
            key_announcements,
            deployment: crate::deployment::Deployment::everything(),
            master_keys,
            plaintext,
            db,
            nats_url: get("NATS_URL").unwrap_or_else(|| DEFAULT_NATS_URL.into()),
            http_addr,
            jwt_secret,
            bootstrap_admin,
            relay,
            projectors,
            sealer: enabled("LAE_RUN_SEALER")?,
            reactors,
            reader_password,
            reader_pool_size,
            zendesk_webhook_secret,
            zendesk,
            sepa_creditor: crate::billing_cycle::SepaCreditor::from_lookup(&get).map_err(|e| {
                SettingsError::Invalid {
                    name: e.variable,
                    value: get(e.variable).unwrap_or_default(),
                    reason: e.detail,
                }
            })?,
        };
        Ok(settings.limit_to(deployment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_work_on_a_developer_machine() {
        let s = from(&[]).expect("defaults are valid");
        assert_eq!(s.db.database(), "lae");
        assert_eq!(s.db.app.get_username(), "lae_app");
        assert_eq!(s.nats_url, DEFAULT_NATS_URL);
        assert_eq!(s.http_addr.to_string(), DEFAULT_HTTP_ADDR);
        assert!(s.jwt_secret.is_none());
    }

    #[test]
    fn departments_limit_the_projectors_and_a_wrong_name_is_refused_by_name() {
        use crate::deployment::{Deployment, Part};
        use lae_projections::Department;
        let s = from(&[("LAE_DEPARTMENTS", "legal,management")]).expect("valid");
        assert_eq!(
            s.deployment,
            Deployment::only([Part::Legal, Part::Management])
        );
        let projectors = s.projectors.as_ref().expect("projectors on by default");
        assert_eq!(
            projectors.departments,
            vec![Department::Legal, Department::Management]
        );
        let all = from(&[]).expect("defaults");
        assert!(all.deployment.is_everything());
        let billing = all.limit_to(Deployment::only([Part::Billing]));
        assert_eq!(
            billing.projectors.expect("projectors").departments,
            vec![Department::Billing]
        );
        let error = from(&[("LAE_DEPARTMENTS", "legal,juridique")])
            .expect_err("unknown department")
            .to_string();
        assert!(error.contains("LAE_DEPARTMENTS"), "{error}");
        assert!(error.contains("juridique"), "{error}");
    }

    #[test]
    fn secrets_are_never_printed() {
        let s = from(&[(
            "LAE_JWT_SECRET",
            "0123456789abcdef0123456789abcdef-zz-planted",
        )])
        .expect("valid");
        assert!(s.jwt_secret.is_some());
        assert!(!format!("{s:?}").contains("zz-planted"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let cases = [
            ("LAE_HTTP_ADDR", "nowhere", "LAE_HTTP_ADDR"),
            ("LAE_DB_POOL_SIZE", "0", "LAE_DB_POOL_SIZE"),
            ("LAE_READER_POOL_SIZE", "many", "LAE_READER_POOL_SIZE"),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
            ("LAE_JWT_SECRET", "too short", "LAE_JWT_SECRET"),
            (
                "LAE_BOOTSTRAP_ADMIN_USER",
                "admin",
                "LAE_BOOTSTRAP_ADMIN_USER",
            ),
        ];
        for (name, value, expected) in cases {
            let err = from(&[(name, value)]).expect_err(name).to_string();
            assert!(err.contains(expected), "{name}={value}: {err}");
        }
    }
}
