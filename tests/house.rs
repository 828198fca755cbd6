//! The house has no import cycles: no module of `src/service/` uses a module that uses it
//! back (directly or through others), and `service/` uses nothing of the GraphQL or HTTP
//! layers (docs/ARCHITECTURE.md, "The layers").

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The service modules each service module names (`super::x` or `crate::service::x`).
fn service_imports() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/service");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            modules.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .filter(|(name, _)| name.as_str() != "mod")
        .map(|(name, source)| {
            let source = without_tests(source);
            let mut used = BTreeSet::new();
            for other in names.iter().filter(|other| *other != name) {
                if [
                    format!("super::{other}::"),
                    format!("super::{other};"),
                    format!("crate::service::{other}"),
                ]
                .iter()
                .any(|p| source.contains(p.as_str()))
                {
                    used.insert(other.clone());
                }
            }
            // `use super::{a, b::c, …};` groups.
            for group in source.split("use super::{").skip(1) {
                let group = group.split("};").next().unwrap_or("");
                for item in group.split(',') {
                    let first = item.trim().split("::").next().unwrap_or("").trim();
                    if names.contains(first) && first != name {
                        used.insert(first.to_owned());
                    }
                }
            }
            (name.clone(), used)
        })
        .collect()
}

/// A module's source without its unit tests.
fn without_tests(source: &str) -> &str {
    source.split("#[cfg(test)]").next().unwrap_or(source)
}

#[test]
fn no_service_module_imports_a_module_that_imports_it_back() {
    let graph = service_imports();
    // Depth-first search for a path from each module back to itself.
    for start in graph.keys() {
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                assert!(
                    next != start,
                    "import cycle: {} -> {next}",
                    path.join(" -> ")
                );
                if seen.insert(next.clone()) {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
}

#[test]
fn the_service_layer_knows_nothing_of_graphql_or_http() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/service");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let source = without_tests(&source);
        for layer in ["crate::graphql", "crate::app", "async_graphql", "axum"] {
            assert!(!source.contains(layer), "{} uses {layer}", path.display());
        }
    }
}
