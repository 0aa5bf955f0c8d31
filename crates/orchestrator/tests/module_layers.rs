//! The orchestrator's modules form one-way layers: [`LAYERS`] lists them bottom up, and each
//! module may use only modules listed before it (doc links aside). This test reads the
//! sources, so a new `use crate::…` that points up or sideways into a cycle fails here, with
//! the arrow named; a module missing from the list fails too. `--nocapture` prints the graph
//! (who imports whom).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The modules, bottom up: the vocabulary (errors, settings, keys, events, the driver's
/// inbox, receipts), the adapters' sides, the registry of drivers, the shared context (and
/// the test doubles that make one), the proof checker, the swap's actions and driver, then
/// the intake (peers' messages, the maker), the peer refresh, the taker's side, the engine
/// facade, and the flood benchmark (over the intake) on top.
const LAYERS: &[&str] = &[
    "error",
    "maker",
    "config",
    "keys",
    "progress",
    "events",
    "faults",
    "inbox",
    "receipt",
    "btc",
    "xmr",
    "net",
    "registry",
    "context",
    "chain_clock",
    "connection_check",
    "test_utils",
    "proofs",
    "fee_bump",
    "actions",
    "driver",
    "intake",
    "peers",
    "taker",
    "engine",
    "flood_bench",
];

/// The modules `lib.rs` declares.
fn declared(src: &Path) -> BTreeSet<String> {
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("lib.rs");
    lib.lines()
        .map(str::trim)
        .filter_map(|line| {
            let rest = line
                .strip_prefix("pub mod ")
                .or_else(|| line.strip_prefix("mod "))?;
            Some(rest.trim_end_matches(';').to_owned())
        })
        .collect()
}

/// The modules `source` uses through `crate::NAME`, comments and doc comments skipped.
fn imports(source: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if modules.contains(&name) {
                found.insert(name);
            } else if rest.starts_with('{') {
                // `use crate::{a::X, b::Y}`: every name right after `{` or `, `
                let group = &rest[1..rest.find('}').unwrap_or(rest.len())];
                for item in group.split(',') {
                    let name: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if modules.contains(&name) {
                        found.insert(name);
                    }
                }
            }
        }
    }
    found
}

/// Each module and the modules it uses.
fn graph(src: &Path) -> (Vec<String>, BTreeMap<String, BTreeSet<String>>) {
    let order: Vec<String> = LAYERS.iter().map(|m| (*m).to_owned()).collect();
    let modules: BTreeSet<String> = order.iter().cloned().collect();
    let graph = order
        .iter()
        .map(|module| {
            let text = std::fs::read_to_string(src.join(format!("{module}.rs")))
                .unwrap_or_else(|e| panic!("{module}.rs: {e}"));
            let mut uses = imports(&text, &modules);
            uses.remove(module);
            (module.clone(), uses)
        })
        .collect();
    (order, graph)
}

/// The arrows that point to a module declared at or after the importer.
fn upward_arrows(order: &[String], graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let position: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();
    let mut problems = Vec::new();
    for (module, uses) in graph {
        for used in uses {
            if position[used.as_str()] >= position[module.as_str()] {
                problems.push(format!(
                    "{module} uses {used}, which is above it in the layers"
                ));
            }
        }
    }
    problems
}

#[test]
fn every_module_uses_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (order, graph) = graph(&src);
    let listed: BTreeSet<String> = order.iter().cloned().collect();
    assert_eq!(
        declared(&src),
        listed,
        "LAYERS lists every module of lib.rs"
    );
    for module in &order {
        let uses: Vec<&str> = graph[module].iter().map(String::as_str).collect();
        println!("{module:>10} -> {}", uses.join(", "));
    }
    let problems = upward_arrows(&order, &graph);
    assert!(problems.is_empty(), "module layers: {problems:#?}");
}

#[test]
fn an_import_back_up_the_layers_is_reported() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (order, mut graph) = graph(&src);
    // the driver reaching back into the engine, as the swap module once did
    graph
        .get_mut("driver")
        .expect("the driver module")
        .insert("engine".into());
    assert_eq!(
        upward_arrows(&order, &graph),
        vec!["driver uses engine, which is above it in the layers".to_owned()]
    );
    let mut modules = BTreeSet::new();
    modules.extend(["engine".to_owned(), "context".to_owned()]);
    assert_eq!(
        imports(
            "use crate::{context::Context, engine::Inner};\n// crate::x",
            &modules
        ),
        modules
    );
}
