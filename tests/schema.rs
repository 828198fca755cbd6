//! `schema.graphql` is generated from the code, and every type and field is documented.

use serde_json::Value;

#[test]
fn schema_file_matches_the_code() {
    let committed = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .expect("schema.graphql exists at the top level");
    let generated = roster::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is out of date: run `cargo run -- schema > schema.graphql`"
    );
}

#[tokio::test]
async fn every_type_field_and_argument_is_documented() {
    let schema = roster::graphql::build(None, roster::graphql::Limits::default());
    let q = "{ __schema { types { name kind description fields { name description args { name description } } inputFields { name description } enumValues { name description } } } }";
    let res = schema.execute(q).await;
    assert!(res.errors.is_empty(), "{:?}", res.errors);
    let json: Value = serde_json::to_value(&res.data).unwrap();
    let builtin = [
        "String", "Int", "Float", "Boolean", "ID", "DateTime", "JSON",
    ];
    let mut missing = Vec::new();
    for t in json["__schema"]["types"].as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        if name.starts_with("__") || builtin.contains(&name) {
            continue;
        }
        if t["description"].as_str().unwrap_or("").is_empty() {
            missing.push(name.to_owned());
        }
        for list in ["fields", "inputFields", "enumValues"] {
            for f in t[list].as_array().into_iter().flatten() {
                let fname = f["name"].as_str().unwrap();
                if f["description"].as_str().unwrap_or("").is_empty() {
                    missing.push(format!("{name}.{fname}"));
                }
                for a in f["args"].as_array().into_iter().flatten() {
                    if a["description"].as_str().unwrap_or("").is_empty() {
                        missing.push(format!("{name}.{fname}({})", a["name"].as_str().unwrap()));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
}
