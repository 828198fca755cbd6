//! The house has no import cycles: no module of `src/service/` uses a module that uses it
//! back (directly or through others), and `service/` uses nothing of the GraphQL or HTTP
//! layers (docs/ARCHITECTURE.md, "The layers").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, with its source, subdirectories included.
fn rust_files(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let source = std::fs::read_to_string(&path).unwrap();
            files.push((path, source));
        }
    }
    files
}

/// The service modules each service module names (`super::x` or `crate::service::x`). A
/// module kept in a directory (`service/webhooks/`) is one module: its files' sources
/// together (its own `super::` names its siblings, not service modules, and is not counted).
fn service_imports() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/service");
    let mut modules: BTreeMap<String, String> = BTreeMap::new();
    for (path, source) in rust_files(&dir) {
        let relative = path.strip_prefix(&dir).unwrap();
        let mut parts = relative.components();
        let first = parts
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        if relative.file_name().is_some_and(|f| f != "mod.rs") && parts.next().is_some() {
            // A file inside a directory module: its `super::super::` is `service`, its
            // `super::` the directory module itself.
            let own = source
                .replace("super::super::", "\u{0}")
                .replace("super::", "self_module::")
                .replace('\u{0}', "super::");
            modules.entry(first).or_default().push_str(&own);
        } else if parts.next().is_some() {
            // The directory module's `mod.rs`: its `super::` is `service`.
            modules.entry(first).or_default().push_str(&source);
        } else {
            let name = first.trim_end_matches(".rs").to_owned();
            modules.entry(name).or_default().push_str(&source);
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
    for (path, source) in rust_files(&dir) {
        let source = without_tests(&source);
        for layer in ["crate::graphql", "crate::app", "async_graphql", "axum"] {
            assert!(!source.contains(layer), "{} uses {layer}", path.display());
        }
    }
}
