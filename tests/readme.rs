//! The README's GraphQL examples stay usable by typed clients and complete: every operation
//! is named (graphql-codegen refuses to combine anonymous ones), and every mutation of the
//! schema is shown at least once.

use std::path::Path;

fn read(file: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap()
}

/// The README's ```graphql blocks.
fn examples() -> Vec<String> {
    read("README.md")
        .split("```graphql\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn every_readme_operation_is_named() {
    let examples = examples();
    assert!(examples.len() > 10);
    for example in examples {
        let head: Vec<&str> = example.split_whitespace().take(2).collect();
        let named = matches!(head.first(), Some(&"query") | Some(&"mutation"))
            && head
                .get(1)
                .is_some_and(|n| n.chars().next().is_some_and(|c| c.is_ascii_alphabetic()));
        assert!(named, "an anonymous operation in the README:\n{example}");
    }
}

#[test]
fn the_readme_shows_every_mutation() {
    let schema = read("schema.graphql");
    let mutations = schema
        .split("type Mutation {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("the mutation type");
    let examples = examples().join("\n");
    let mut names = Vec::new();
    for line in mutations.lines() {
        let line = line.trim();
        if let Some((name, _)) = line.split_once('(')
            && !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric())
        {
            names.push(name.to_owned());
        }
    }
    assert!(names.len() >= 18, "{names:?}");
    for name in names {
        assert!(
            examples.contains(&format!("{name}(")),
            "the README shows no `{name}`"
        );
    }
}
