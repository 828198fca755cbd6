//! The GraphiQL IDE page, served with its scripts and styles from inside the
//! binary so it works offline and never depends on a CDN.
//!
//! The asset files are pinned npm packages (`assets/graphiql/package.json`)
//! that `build.rs` copies into `OUT_DIR`.

/// Path under which [`asset`] files are served, e.g. `/graphiql/graphiql.min.js`.
///
/// The page refers to assets by absolute path, so it works whatever route the
/// page itself is mounted at.
pub const ASSET_PREFIX: &str = "/graphiql/";

/// Options for the GraphiQL page.
// No `Debug`: `default_headers` can hold an admin token, which must not end
// up in logs through a stray `{:?}`.
#[derive(Clone, Copy)]
pub struct GraphiqlPage<'a> {
    /// URL of the GraphQL endpoint the IDE sends queries to, e.g. `/graphql`.
    pub endpoint: &'a str,
    /// Text of the page's `<title>`.
    pub title: &'a str,
    /// Headers prefilled in the IDE's headers editor, as the text of a JSON
    /// object (e.g. `{"Authorization":"Bearer ..."}`), or `None` for none.
    pub default_headers: Option<&'a str>,
}

/// What the query editor opens with on a first visit (no saved tabs, no `?query=`): a
/// named operation that works for every role and shows where to go next.
pub const EXAMPLE_QUERY: &str = "\
# Welcome to Roster. Run this with the ▶ button (or Ctrl-Enter).
# The Docs panel (book icon, top left) describes every type and field.
# Open a page with ?query=… (and &variables=…) to start with your own operation.
query Start {
  viewer {
    name
    email
    role { name scope permissions }
    team { name department { name } }
  }
  users(first: 5, orderBy: { field: NAME, direction: ASC }) {
    totalCount
    nodes { id name email role { name } team { name } }
    pageInfo { hasNextPage endCursor }
  }
}
";

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// (file name, content type, bytes); the page loads the scripts in this order,
/// which matters: GraphiQL's UMD build reads the `React` and `ReactDOM` globals.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "graphiql.min.css",
        CSS,
        include_bytes!(concat!(env!("OUT_DIR"), "/graphiql.min.css")),
    ),
    (
        "react.production.min.js",
        JS,
        include_bytes!(concat!(env!("OUT_DIR"), "/react.production.min.js")),
    ),
    (
        "react-dom.production.min.js",
        JS,
        include_bytes!(concat!(env!("OUT_DIR"), "/react-dom.production.min.js")),
    ),
    (
        "graphiql.min.js",
        JS,
        include_bytes!(concat!(env!("OUT_DIR"), "/graphiql.min.js")),
    ),
];

/// Returns the content type and bytes of the embedded asset `name` (the part
/// of the path after [`ASSET_PREFIX`]), or `None` if there is no such asset.
pub fn asset(name: &str) -> Option<(&'static str, &'static [u8])> {
    ASSETS
        .iter()
        .find(|(asset_name, _, _)| *asset_name == name)
        .map(|&(_, content_type, bytes)| (content_type, bytes))
}

/// Renders the full HTML document of the GraphiQL page.
pub fn page_html(page: &GraphiqlPage<'_>) -> String {
    let mut head_links = String::new();
    let mut scripts = String::new();
    for (name, content_type, _) in ASSETS {
        let href = crate::html::escape(&format!("{ASSET_PREFIX}{name}"));
        if *content_type == CSS {
            head_links.push_str(&format!("<link rel=\"stylesheet\" href=\"{href}\">\n"));
        } else {
            scripts.push_str(&format!("<script src=\"{href}\"></script>\n"));
        }
    }

    let title = crate::html::escape(page.title);
    let endpoint = js_string(page.endpoint);
    // Passed as a string, not spliced in as a JS object: GraphiQL wants the
    // editor's text, and a string literal cannot break out of the script
    // whatever the caller's "JSON" contains.
    let default_headers = page
        .default_headers
        .map_or_else(|| "null".to_owned(), js_string);
    let example_query = js_string(EXAMPLE_QUERY);

    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
{head_links}<style>html, body {{ height: 100%; margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
{scripts}<script>
(function () {{
  var defaultHeaders = {default_headers};
  // Subscriptions go over a WebSocket to the same path (graphql-transport-ws); the
  // headers editor's contents become the `connection_init` payload, which carries the
  // token the same way as a request's Authorization header.
  var subscriptionUrl = new URL({endpoint}, window.location.href);
  subscriptionUrl.protocol = subscriptionUrl.protocol === "https:" ? "wss:" : "ws:";
  var fetcher = GraphiQL.createFetcher({{
    url: {endpoint},
    subscriptionUrl: subscriptionUrl.toString()
  }});
  var props = {{
    fetcher: fetcher,
    defaultQuery: {example_query},
    // A persisted token would outlive its expiry or a server restart and be
    // sent instead of the current one.
    shouldPersistHeaders: false
  }};
  // Links may open GraphiQL on an operation: ?query=…&variables=…
  var params = new URLSearchParams(window.location.search);
  if (params.get("query")) props.query = params.get("query");
  if (params.get("variables")) props.variables = params.get("variables");
  if (defaultHeaders !== null) {{
    props.defaultHeaders = defaultHeaders;
    // Open on the headers tab so the prefilled token is in plain sight.
    props.defaultEditorToolsVisibility = "headers";
    props.fetcher = withIntrospectionHeaders(fetcher, defaultHeaders);
  }}
  ReactDOM.createRoot(document.getElementById("graphiql"))
    .render(React.createElement(GraphiQL, props));

  // GraphiQL introspects on load, before its headers editor exists, so that
  // request would go out without the prefilled token and leave the docs and
  // autocompletion empty wherever introspection needs one. Only header-less
  // introspection gets the defaults: operations the user runs are sent with
  // exactly the headers the editor shows.
  function withIntrospectionHeaders(fetcher, text) {{
    var headers;
    try {{
      headers = JSON.parse(text);
    }} catch (e) {{
      return fetcher; // GraphiQL flags the invalid JSON in the editor.
    }}
    if (typeof headers !== "object" || headers === null) return fetcher;
    return function (params, opts) {{
      if (params.operationName === "IntrospectionQuery" && !(opts && opts.headers)) {{
        opts = Object.assign({{}}, opts, {{ headers: headers }});
      }}
      return fetcher(params, opts);
    }};
  }}
}})();
</script>
</body>
</html>
"#
    )
}

/// Quotes text as a JavaScript string literal that is also safe inside an
/// inline `<script>`: `<`, `>` and `&` are escaped so the text can neither
/// close the script element nor open an HTML comment, and U+2028/U+2029 so
/// older engines don't read them as line breaks.
fn js_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo_page() -> String {
        page_html(&GraphiqlPage {
            endpoint: "/graphql",
            title: "Roster",
            default_headers: Some(r#"{"Authorization":"Bearer abc.def"}"#),
        })
    }

    /// Values of `attr="..."` in the page, e.g. every `src` or `href`.
    fn attribute_values<'p>(page: &'p str, attr: &str) -> Vec<&'p str> {
        let needle = format!(" {attr}=\"");
        page.match_indices(&needle)
            .filter_map(|(at, _)| {
                let rest = &page[at + needle.len()..];
                rest.find('"').map(|end| &rest[..end])
            })
            .collect()
    }

    #[test]
    fn every_referenced_asset_is_served_with_its_content_type() {
        let page = demo_page();
        let scripts = attribute_values(&page, "src");
        let styles = attribute_values(&page, "href");
        assert_eq!(scripts.len(), 3, "{page}");
        assert_eq!(styles.len(), 1, "{page}");
        for (urls, expected_type) in [(scripts, JS), (styles, CSS)] {
            for url in urls {
                let name = url
                    .strip_prefix(ASSET_PREFIX)
                    .unwrap_or_else(|| panic!("{url} is not under {ASSET_PREFIX}"));
                let (content_type, bytes) =
                    asset(name).unwrap_or_else(|| panic!("{name} is referenced but not served"));
                assert_eq!(content_type, expected_type, "{name}");
                assert!(!bytes.is_empty(), "{name} is empty");
            }
        }
    }

    #[test]
    fn scripts_load_react_before_graphiql() {
        let page = demo_page();
        let scripts = attribute_values(&page, "src");
        let position = |name: &str| {
            scripts
                .iter()
                .position(|src| src.ends_with(&format!("/{name}")))
                .unwrap_or_else(|| panic!("{name} is not loaded: {page}"))
        };
        assert!(position("react.production.min.js") < position("graphiql.min.js"));
        assert!(position("react-dom.production.min.js") < position("graphiql.min.js"));
    }

    #[test]
    fn subscriptions_go_to_the_same_path_over_a_websocket() {
        let page = demo_page();
        assert!(
            page.contains("subscriptionUrl: subscriptionUrl.toString()"),
            "{page}"
        );
        assert!(
            page.contains(r#"new URL("/graphql", window.location.href)"#),
            "{page}"
        );
        // GraphiQL's build carries the graphql-ws client it needs for `subscriptionUrl`.
        let js = String::from_utf8_lossy(asset("graphiql.min.js").map_or(&[][..], |(_, b)| b))
            .into_owned();
        assert!(js.contains("connection_init"));
    }

    #[test]
    fn unknown_asset_is_none() {
        assert!(asset("").is_none());
        assert!(asset("../Cargo.toml").is_none());
        assert!(asset("graphiql.min.js.map").is_none());
    }

    #[test]
    fn embedded_assets_are_the_expected_builds() {
        let text =
            |name| String::from_utf8_lossy(asset(name).map_or(&[][..], |(_, b)| b)).into_owned();
        // GraphiQL's UMD build, whose AMD dependency list names every global it
        // needs: a new one in a future version would be missing from the page.
        assert!(text("graphiql.min.js").contains(r#"define(["react","react-dom"],"#));
        // React's production UMD builds, which set the React and ReactDOM globals.
        assert!(text("react.production.min.js").contains(" * react.production.min.js\n"));
        assert!(text("react-dom.production.min.js").contains(" * react-dom.production.min.js\n"));
    }

    #[test]
    fn header_json_cannot_close_the_script() {
        let headers = r#"{"x":"</script><script>alert(1)</script><!--","y":"a'b\u2028"}"#;
        let page = page_html(&GraphiqlPage {
            endpoint: "/graphql",
            title: "t",
            default_headers: Some(headers),
        });
        assert!(!page.contains("alert(1)</script>"), "{page}");
        assert!(!page.contains("<!--"), "{page}");
        assert!(
            page.contains(r"\u003c/script\u003e\u003cscript\u003ealert(1)"),
            "{page}"
        );
        // The only script-closing tags are the page's own four.
        assert_eq!(page.matches("</script>").count(), 4, "{page}");
    }

    #[test]
    fn header_text_round_trips_as_a_js_string() {
        assert_eq!(
            js_string(r#"{"Authorization":"Bearer a\b"}"#),
            r#""{\"Authorization\":\"Bearer a\\b\"}""#
        );
        assert_eq!(
            js_string("a\nb\u{2028}<&>"),
            r#""a\nb\u2028\u003c\u0026\u003e""#
        );
    }

    #[test]
    fn headers_are_optional() {
        let page = page_html(&GraphiqlPage {
            endpoint: "/graphql",
            title: "Roster",
            default_headers: None,
        });
        assert!(page.contains("var defaultHeaders = null;"), "{page}");
        assert!(page.contains("shouldPersistHeaders: false"), "{page}");
        let demo = demo_page();
        assert!(demo.contains(r#"var defaultHeaders = "{\"Authorization\":\"Bearer abc.def\"}";"#));
        assert!(demo.contains("shouldPersistHeaders: false"));
    }

    #[test]
    fn opens_with_the_example_query_and_honours_the_query_parameter() {
        let page = demo_page();
        assert!(
            page.contains(&format!("defaultQuery: {},", js_string(EXAMPLE_QUERY))),
            "{page}"
        );
        assert!(EXAMPLE_QUERY.contains("query Start"));
        assert!(
            page.contains(r#"props.query = params.get("query")"#),
            "{page}"
        );
    }

    #[test]
    fn title_and_endpoint_are_escaped() {
        let page = page_html(&GraphiqlPage {
            endpoint: "/q\"</script>",
            title: "<b>Roster & co</b>",
            default_headers: None,
        });
        assert!(
            page.contains("<title>&lt;b&gt;Roster &amp; co&lt;/b&gt;</title>"),
            "{page}"
        );
        assert!(page.contains(r#"url: "/q\"\u003c/script\u003e""#), "{page}");
    }

    #[test]
    fn page_loads_nothing_from_other_hosts() {
        let page = demo_page();
        let lower = page.to_ascii_lowercase();
        assert!(
            !lower.contains("http://") && !lower.contains("https://"),
            "{page}"
        );
        // Protocol-relative URLs would reach a CDN just the same.
        for url in attribute_values(&page, "src")
            .into_iter()
            .chain(attribute_values(&page, "href"))
        {
            assert!(url.starts_with('/') && !url.starts_with("//"), "{url}");
        }
    }
}
