//! axe-core, vendored from its npm package (see `vendor/axe-core/README.md`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The vendored axe-core release.
pub const AXE_CORE_VERSION: &str = "4.14.1";

/// The vendored `axe.min.js`, injected by [`Page::axe`](crate::Page::axe).
pub(crate) const AXE_SOURCE: &str = include_str!("../vendor/axe-core/axe.min.js");

/// Runs axe on the whole document and keeps what a report needs. Node targets are
/// CSS selectors; for elements inside iframes or shadow roots, the selector path is
/// joined with ` >>> `.
pub(crate) const AXE_RUN: &str = r#"
axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({
  id: v.id,
  impact: v.impact || null,
  help: v.help,
  nodes: v.nodes.map((n) => n.target.map((t) => Array.isArray(t) ? t.join(' >>> ') : String(t)).join(' >>> ')),
})))
"#;

/// The violations axe-core found on a page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxeReport {
    /// Every violated rule, with the offending nodes.
    pub violations: Vec<AxeViolation>,
}

/// One violated axe-core rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AxeViolation {
    /// The rule, e.g. `image-alt`.
    pub id: String,
    /// `minor`, `moderate`, `serious` or `critical`.
    pub impact: Option<String>,
    /// One-line description of the rule.
    pub help: String,
    /// CSS selectors of the offending nodes.
    pub nodes: Vec<String>,
}

impl AxeViolation {
    /// Whether the impact is `serious` or `critical`.
    #[must_use]
    pub fn is_serious_or_critical(&self) -> bool {
        matches!(self.impact.as_deref(), Some("serious" | "critical"))
    }
}

impl AxeReport {
    /// The violations whose impact is `serious` or `critical`.
    #[must_use]
    pub fn serious_or_critical(&self) -> Vec<&AxeViolation> {
        self.violations
            .iter()
            .filter(|v| v.is_serious_or_critical())
            .collect()
    }
}

impl fmt::Display for AxeViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let impact = self.impact.as_deref().unwrap_or("unknown impact");
        write!(f, "{} [{impact}]: {}", self.id, self.help)?;
        for node in &self.nodes {
            write!(f, "\n    at {node}")?;
        }
        Ok(())
    }
}

impl fmt::Display for AxeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.violations.is_empty() {
            return write!(f, "no axe-core violations");
        }
        write!(f, "{} axe-core violation(s):", self.violations.len())?;
        for v in &self.violations {
            write!(f, "\n  - {v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vendored_source_is_the_declared_version() {
        assert!(AXE_SOURCE.contains(&format!("axe v{AXE_CORE_VERSION}")));
    }

    #[test]
    fn filters_and_displays() {
        let report = AxeReport {
            violations: vec![
                AxeViolation {
                    id: "image-alt".into(),
                    impact: Some("critical".into()),
                    help: "Images must have alternative text".into(),
                    nodes: vec!["img".into()],
                },
                AxeViolation {
                    id: "region".into(),
                    impact: Some("moderate".into()),
                    help: "All page content should be contained by landmarks".into(),
                    nodes: vec!["p".into()],
                },
            ],
        };
        assert_eq!(report.serious_or_critical().len(), 1);
        let text = report.to_string();
        assert!(text.contains("image-alt [critical]: Images must have alternative text"));
        assert!(text.contains("at img"));
    }
}
