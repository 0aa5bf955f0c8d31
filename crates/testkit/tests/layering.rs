//! The workspace's layering, written down and checked: every dependency arrow between the
//! workspace's crates (normal dependencies, as `cargo metadata` reports them) must be in
//! [`ALLOWED`]. A new arrow fails this test until the table (and the design it stands for)
//! is changed on purpose; an arrow the table lists but the workspace no longer has fails
//! too, so the table never claims more than is true.
//!
//! The layers, bottom up: the sans-IO protocol; the adapters (`bitcoin`, `monero`, `p2p`,
//! `store`, `pricing`), which know the protocol and nothing of each other, and `tor`, which
//! knows nothing else of the project; the orchestrator, which glues them; the products (`app`, `cli`, `desktop`) on top. The devnet
//! is the tester's stack (a Bitcoin node on libbitcoinkernel, monerod, a rendezvous point),
//! `demo` adds a demo maker to it, and the products reach it only through their optional
//! `devnet` feature: a default build of a product contains none of it (checked here with
//! `cargo tree`). The testkit is dev-only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Each workspace crate and the workspace crates it may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("confiaro-protocol", &[]),
    ("confiaro-p2p", &[]),
    ("confiaro-tor", &[]),
    ("confiaro-bitcoin", &["confiaro-protocol"]),
    ("confiaro-monero", &["confiaro-protocol"]),
    ("confiaro-store", &["confiaro-protocol"]),
    ("confiaro-pricing", &["confiaro-protocol"]),
    (
        "confiaro-orchestrator",
        &[
            "confiaro-protocol",
            "confiaro-bitcoin",
            "confiaro-monero",
            "confiaro-p2p",
            "confiaro-store",
            "confiaro-pricing",
            "confiaro-tor",
        ],
    ),
    ("confiaro-devnet", &["confiaro-monero", "confiaro-p2p"]),
    (
        "confiaro-testkit",
        &[
            "confiaro-protocol",
            "confiaro-bitcoin",
            "confiaro-monero",
            "confiaro-store",
            "confiaro-devnet",
        ],
    ),
    // The tester's demo devnet (the stack plus a demo maker): the products reach it only
    // through their optional `devnet` feature (checked below: not in a default build).
    (
        "confiaro-demo",
        &["confiaro-orchestrator", "confiaro-devnet"],
    ),
    ("confiaro-app", &["confiaro-orchestrator", "confiaro-demo"]),
    (
        "confiaro-cli",
        &[
            "confiaro-orchestrator",
            "confiaro-protocol",
            "confiaro-bitcoin",
            "confiaro-monero",
            "confiaro-pricing",
            "confiaro-demo",
        ],
    ),
    ("confiaro-desktop", &["confiaro-app"]),
];

/// The workspace's root manifest.
fn manifest() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml")
}

/// The workspace's crates and their normal dependencies on each other (optional ones too).
fn workspace_arrows() -> BTreeMap<String, BTreeSet<String>> {
    let output = Command::new(cargo())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(manifest())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    let names: BTreeSet<String> = packages
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .filter(|d| d["kind"].is_null())
                .filter_map(|d| d["name"].as_str())
                .filter(|d| names.contains(*d))
                .map(str::to_owned)
                .collect();
            (p["name"].as_str().expect("name").to_owned(), deps)
        })
        .collect()
}

/// The cargo that runs this test.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// The package names in `package`'s normal dependency tree with `features` (`""`: its
/// default features), as `cargo tree` prints them.
fn dependency_tree(package: &str, features: &str) -> BTreeSet<String> {
    let mut command = Command::new(cargo());
    command
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .arg("--manifest-path")
        .arg(manifest());
    if !features.is_empty() {
        command.args(["--features", features]);
    }
    let output = command.output().expect("cargo tree runs");
    assert!(
        output.status.success(),
        "cargo tree -p {package}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The arrows of `arrows` that the table does not allow, and the table's entries the
/// workspace does not have.
fn layering_problems(
    arrows: &BTreeMap<String, BTreeSet<String>>,
    table: &[(&str, &[&str])],
) -> Vec<String> {
    let allowed: BTreeMap<&str, BTreeSet<&str>> = table
        .iter()
        .map(|(krate, deps)| (*krate, deps.iter().copied().collect()))
        .collect();
    let mut problems = Vec::new();
    for (krate, deps) in arrows {
        let Some(permitted) = allowed.get(krate.as_str()) else {
            problems.push(format!("{krate} is not in the layering table"));
            continue;
        };
        for dep in deps {
            if !permitted.contains(dep.as_str()) {
                problems.push(format!("{krate} -> {dep} is not an allowed arrow"));
            }
        }
        for dep in permitted {
            if !deps.contains(*dep) {
                problems.push(format!(
                    "{krate} -> {dep} is in the table but not in the workspace: remove it"
                ));
            }
        }
    }
    for krate in allowed.keys() {
        if !arrows.contains_key(*krate) {
            problems.push(format!("{krate} is in the table but not in the workspace"));
        }
    }
    problems
}

#[test]
fn every_dependency_arrow_between_workspace_crates_is_in_the_layering_table() {
    let problems = layering_problems(&workspace_arrows(), ALLOWED);
    assert!(problems.is_empty(), "layering: {problems:#?}");
}

#[test]
fn an_arrow_outside_the_table_is_reported() {
    let mut arrows = workspace_arrows();
    // the wallet crate reaching into the store again, as it did before it took a persister
    arrows
        .get_mut("confiaro-bitcoin")
        .expect("the wallet crate")
        .insert("confiaro-store".into());
    let problems = layering_problems(&arrows, ALLOWED);
    assert_eq!(
        problems,
        vec!["confiaro-bitcoin -> confiaro-store is not an allowed arrow".to_owned()]
    );
}

#[test]
fn the_products_default_builds_contain_no_devnet_and_no_libbitcoinkernel() {
    for product in ["confiaro-desktop", "confiaro-cli", "confiaro-app"] {
        let tree = dependency_tree(product, "");
        for tester_only in ["bitcoinkernel", "confiaro-devnet", "confiaro-demo"] {
            assert!(
                !tree.contains(tester_only),
                "{product}'s default build depends on {tester_only}"
            );
        }
    }
    // the wallet crate persists through a trait, not the store
    assert!(!dependency_tree("confiaro-bitcoin", "").contains("confiaro-store"));
    // and the check sees the devnet where it is: the tester's feature brings it in
    let with_devnet = dependency_tree("confiaro-desktop", "devnet");
    assert!(with_devnet.contains("bitcoinkernel") && with_devnet.contains("confiaro-demo"));
}
