//! What `lae migrate` can be asked.

use std::path::PathBuf;

use lae_domain::Department;

use crate::error::MigrateError;
use crate::legacy::LegacyFile;

/// How progress is shown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// A progress bar when stderr is a terminal, log lines otherwise.
    #[default]
    Auto,
    /// Always a progress bar (on stderr).
    Bar,
    /// Always log lines (tracing, at info level).
    Log,
    /// Nothing (tests, benchmarks).
    Off,
}

/// Options of one import run. `MigrateOptions::new(dir)` gives the defaults of
/// `lae migrate --legacy DIR`; each flag sets one field.
#[derive(Debug, Clone)]
pub struct MigrateOptions {
    /// `--legacy DIR`: the directory holding the four `.db` files.
    pub legacy_dir: PathBuf,
    /// `--report FILE`: where to write the JSON report (it is also returned).
    pub report_path: Option<PathBuf>,
    /// `--dry-run`: decide everything, write nothing (no event, no document).
    pub dry_run: bool,
    /// `--departments a,b`: the departments whose files are imported (default: all).
    /// See the crate documentation for what an import without customer service means.
    pub departments: Vec<Department>,
    /// How progress is shown.
    pub progress: ProgressMode,
    /// Events per append statement (one batch is one `INSERT`, atomic).
    pub batch_events: usize,
    /// Test hook: stop with [`MigrateError::Interrupted`] once this many batches were
    /// appended, as if the process had been killed between two statements.
    pub stop_after_batches: Option<usize>,
    /// The master keys: personal fields are sealed as the platform seals them
    /// (`lae_store::crypto`). `None` writes them in clear (the encryption-off benchmark
    /// and tests of the import alone); `lae migrate` requires a key.
    pub master_keys: Option<std::sync::Arc<lae_store::crypto::MasterKeys>>,
}

impl MigrateOptions {
    /// The defaults: every department, report only returned, progress on auto.
    pub fn new(legacy_dir: impl Into<PathBuf>) -> Self {
        Self {
            legacy_dir: legacy_dir.into(),
            report_path: None,
            dry_run: false,
            departments: Department::ALL.to_vec(),
            progress: ProgressMode::Auto,
            batch_events: 5_000,
            stop_after_batches: None,
            master_keys: None,
        }
    }

    /// The legacy files of the selected departments, in import order.
    pub fn files(&self) -> Vec<LegacyFile> {
        LegacyFile::ALL
            .into_iter()
            .filter(|f| self.departments.contains(&f.department()))
            .collect()
    }

    pub(crate) fn validate(&self) -> Result<(), MigrateError> {
        if self.departments.is_empty() {
            return Err(MigrateError::Options("no department selected".into()));
        }
        if self.batch_events == 0 {
            return Err(MigrateError::Options(
                "batch_events must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// Parses `--departments customer_service,legal,sales,billing` (spaces allowed,
/// duplicates ignored).
pub fn parse_departments(list: &str) -> Result<Vec<Department>, MigrateError> {
    let mut out = Vec::new();
    for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let department = item.parse::<Department>().map_err(|_| {
            MigrateError::Options(format!(
                "unknown department {item:?} (expected customer_service, legal, sales or billing)"
            ))
        })?;
        if !out.contains(&department) {
            out.push(department);
        }
    }
    if out.is_empty() {
        return Err(MigrateError::Options("no department given".into()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departments_list() {
        let set = parse_departments("legal, billing,legal").unwrap();
        assert_eq!(set.len(), 2);
        assert!(set.contains(&Department::Legal));
        assert!(parse_departments("juridique").is_err());
        assert!(parse_departments("").is_err());
        let mut options = MigrateOptions::new("/tmp");
        options.departments = set;
        assert_eq!(
            options.files(),
            [LegacyFile::Juridique, LegacyFile::Facturation]
        );
    }
}
