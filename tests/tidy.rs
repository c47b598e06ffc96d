//! Architecture invariants that a script can check, run by `cargo test`.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The domain decides, it does not do: no I/O crate, no clock, no randomness.
#[test]
fn the_domain_crate_is_pure() {
    let manifest =
        std::fs::read_to_string(root().join("crates/domain/Cargo.toml")).expect("manifest");
    let dependencies = manifest
        .split("[dependencies]")
        .nth(1)
        .and_then(|rest| rest.split("\n[").next())
        .expect("a [dependencies] table");
    for forbidden in [
        "sqlx",
        "tokio",
        "async-nats",
        "axum",
        "reqwest",
        "postgres-es",
        "lae-store",
    ] {
        assert!(
            !dependencies
                .lines()
                .any(|l| l.trim_start().starts_with(forbidden)),
            "crates/domain depends on {forbidden}"
        );
    }
    let forbidden_calls = [
        "Utc::now",
        "Local::now",
        "SystemTime",
        "Instant::now",
        "new_v4",
        "thread_rng",
        "std::fs",
        "std::net",
        "std::env",
        "tokio::",
    ];
    for file in rust_files(&root().join("crates/domain/src")) {
        let text = std::fs::read_to_string(&file).expect("source");
        for call in forbidden_calls {
            assert!(
                !text.contains(call),
                "{} uses {call}: the domain takes time, ids and data in its commands",
                file.display()
            );
        }
    }
}

/// Shipped migrations are never edited: each file's name starts with a strictly
/// increasing four-digit number, and sqlx checks their checksums at run time.
#[test]
fn migrations_are_numbered_in_order() {
    let mut names: Vec<String> = std::fs::read_dir(root().join("migrations"))
        .expect("migrations dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    names.sort();
    for (i, name) in names.iter().enumerate() {
        let expected = format!("{:04}_", i + 1);
        assert!(
            name.starts_with(&expected),
            "migration {name} should start with {expected}"
        );
    }
}
