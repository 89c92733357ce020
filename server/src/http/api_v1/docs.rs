//! `GET /api/v1/docs`: the API reference as one HTML page, rendered on the server from the
//! generated OpenAPI document when the router is built. Nothing is fetched from elsewhere: no
//! script at all, and the styles come from `GET /api/v1/docs.css` (the Content-Security-Policy
//! allows styles from our own origin only, never inline ones).
//!
//! Operations are grouped by tag; each shows its method and path, its description, its
//! parameters, its request body and responses with their schemas' fields, and a curl example
//! reading the service's address and the token from `ATLANTIC_API_URL` and
//! `ATLANTIC_API_TOKEN`.

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::PREFIX;

/// Where the stylesheet is served.
pub const STYLESHEET: &str = "/api/v1/docs.css";

/// The page's stylesheet.
pub const CSS: &str = r#"
:root { color-scheme: light dark; --fg: #1b1f24; --muted: #57606a; --line: #d0d7de;
  --code: #f3f4f6; --accent: #0b5cad; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #9198a1; --line: #30363d; --code: #161b22; --accent: #58a6ff; }
}
body { font: 15px/1.5 system-ui, sans-serif; color: var(--fg); max-width: 60rem;
  margin: 0 auto; padding: 1rem 1.5rem 4rem; }
a { color: var(--accent); }
h1 { margin-bottom: 0.25rem; }
h2 { border-bottom: 1px solid var(--line); padding-bottom: 0.25rem; margin-top: 2.5rem;
  text-transform: capitalize; }
h3 { font-size: 1.05rem; margin: 0; }
h4 { font-size: 0.95rem; margin: 1rem 0 0.25rem; }
code, pre { font-family: ui-monospace, monospace; font-size: 0.9em; }
code { background: var(--code); padding: 0 0.25em; border-radius: 3px; }
pre { background: var(--code); padding: 0.75rem; overflow-x: auto; border-radius: 6px; }
pre code { padding: 0; }
.operation { border: 1px solid var(--line); border-radius: 6px; padding: 1rem;
  margin: 1rem 0; }
.method { display: inline-block; min-width: 4.5rem; font-weight: 700;
  font-family: ui-monospace, monospace; }
.method-get { color: #1a7f37; }
.method-post { color: #9a6700; }
.method-delete { color: #cf222e; }
.summary { color: var(--muted); margin: 0.25rem 0 0; }
table { border-collapse: collapse; width: 100%; margin: 0.25rem 0; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid var(--line);
  padding: 0.3rem 0.5rem 0.3rem 0; }
th { font-weight: 600; color: var(--muted); font-size: 0.85rem; }
.toc li { margin: 0.1rem 0; }
.status { font-weight: 700; font-family: ui-monospace, monospace; }
"#;

/// HTML-escapes `text`.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes `text` and turns its `code spans` into `<code>` (the annotations' only markup).
fn prose(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", esc(part));
        } else {
            out.push_str(&esc(part));
        }
    }
    out
}

/// Follows a `$ref` to `#/components/schemas/NAME`: the name and the schema.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> (Option<&'a str>, &'a Value) {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or(reference);
            let target = &doc["components"]["schemas"][name];
            (Some(name), target)
        }
        None => (None, schema),
    }
}

/// A schema in a few words: `string`, `integer (int64)`, `array of AllowlistEntryView`,
/// `ExitView or null`…
fn type_name(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            return options
                .iter()
                .map(type_name)
                .collect::<Vec<_>>()
                .join(" or ");
        }
    }
    let kinds: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut names = Vec::new();
    for kind in kinds {
        let name = match kind {
            "array" => match schema.get("items") {
                Some(items) => format!("array of {}", type_name(items)),
                None => "array".to_owned(),
            },
            "null" => "null".to_owned(),
            other => match schema.get("format").and_then(Value::as_str) {
                Some(format) => format!("{other} ({})", esc(format)),
                None => esc(other),
            },
        };
        names.push(name);
    }
    if names.is_empty() {
        "any".to_owned()
    } else {
        names.join(" or ")
    }
}

/// The fields of an object schema as a table; nothing for other schemas.
fn fields(doc: &Value, schema: &Value, out: &mut String) {
    let (_, schema) = resolve(doc, schema);
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str(
        "<table><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th>\
         </tr></thead><tbody>",
    );
    for (name, property) in properties {
        let description = property
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("");
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            type_name(property),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                "no"
            },
            prose(description)
        );
    }
    out.push_str("</tbody></table>");
}

/// A body (request or response): its content type, schema and the schema's fields.
fn content(doc: &Value, content: &Map<String, Value>, out: &mut String) {
    for (media, body) in content {
        let Some(schema) = body.get("schema") else {
            continue;
        };
        let _ = write!(
            out,
            "<p><code>{}</code>: {}</p>",
            esc(media),
            type_name(schema)
        );
        fields(doc, schema, out);
    }
}

/// The curl command for one operation.
fn curl(method: &str, path: &str, operation: &Value, doc: &Value) -> String {
    let mut command = String::from("curl -sS");
    if method != "get" {
        let _ = write!(command, " -X {}", method.to_uppercase());
    }
    let url_path = path.replace("{id}", "1");
    let mut query = Vec::new();
    if let Some(parameters) = operation.get("parameters").and_then(Value::as_array) {
        for parameter in parameters {
            if parameter["in"] == "query"
                && let Some(name) = parameter["name"].as_str()
                && let Some(example) = query_example(name)
            {
                query.push(format!("{name}={example}"));
            }
        }
    }
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{}", query.join("&"))
    };
    let _ = write!(
        command,
        " \"$ATLANTIC_API_URL{url_path}{query}\" \\\n  -H \"Authorization: Bearer $ATLANTIC_API_TOKEN\""
    );
    if let Some(schema) = operation
        .pointer("/requestBody/content/application~1json/schema")
        .map(|s| resolve(doc, s).1)
    {
        let body = example_body(schema);
        let _ = write!(
            command,
            " \\\n  -H \"Content-Type: application/json\" \\\n  -d '{body}'"
        );
    }
    command
}

/// A value for a query parameter in the curl examples.
fn query_example(name: &str) -> Option<&'static str> {
    match name {
        "from" => Some("2026-11-01T00:00:00Z"),
        "to" => Some("2026-11-02T00:00:00Z"),
        "limit" => Some("10"),
        _ => None,
    }
}

/// A JSON body for the curl examples: a value per field of the request schema.
fn example_body(schema: &Value) -> String {
    let mut body = Map::new();
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let value = match (name.as_str(), property.get("type")) {
                ("cidr", _) => Value::from("203.0.113.7"),
                ("note", _) => Value::from("office"),
                (_, Some(Value::String(t))) if t == "integer" => Value::from(1),
                (_, Some(Value::String(t))) if t == "boolean" => Value::from(true),
                _ => Value::from("…"),
            };
            body.insert(name.clone(), value);
        }
    }
    Value::Object(body).to_string()
}

/// One operation's section.
fn operation(doc: &Value, method: &str, path: &str, operation: &Value, out: &mut String) {
    let id = operation["operationId"].as_str().unwrap_or("operation");
    let _ = write!(
        out,
        "<section class=\"operation\" id=\"op-{id}\"><h3><span class=\"method method-{m}\">{M}\
         </span> <code>{path}</code></h3>",
        id = esc(id),
        m = esc(method),
        M = esc(&method.to_uppercase()),
        path = esc(path),
    );
    for key in ["summary", "description"] {
        if let Some(text) = operation.get(key).and_then(Value::as_str) {
            let _ = write!(out, "<p class=\"summary\">{}</p>", prose(text));
        }
    }
    if let Some(parameters) = operation.get("parameters").and_then(Value::as_array)
        && !parameters.is_empty()
    {
        out.push_str(
            "<h4>Parameters</h4><table><thead><tr><th>Name</th><th>In</th><th>Type</th>\
             <th>Required</th><th>Description</th></tr></thead><tbody>",
        );
        for parameter in parameters {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(parameter["name"].as_str().unwrap_or("")),
                esc(parameter["in"].as_str().unwrap_or("")),
                type_name(&parameter["schema"]),
                if parameter["required"] == true {
                    "yes"
                } else {
                    "no"
                },
                prose(parameter["description"].as_str().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>");
    }
    if let Some(body) = operation.get("requestBody") {
        out.push_str("<h4>Request body</h4>");
        if let Some(description) = body.get("description").and_then(Value::as_str) {
            let _ = write!(out, "<p>{}</p>", prose(description));
        }
        if let Some(media) = body.get("content").and_then(Value::as_object) {
            content(doc, media, out);
        }
    }
    if let Some(responses) = operation.get("responses").and_then(Value::as_object) {
        out.push_str("<h4>Responses</h4>");
        for (status, response) in responses {
            let _ = write!(
                out,
                "<p><span class=\"status\">{}</span> {}</p>",
                esc(status),
                prose(response["description"].as_str().unwrap_or(""))
            );
            if status.starts_with('2')
                && let Some(media) = response.get("content").and_then(Value::as_object)
            {
                content(doc, media, out);
            }
        }
    }
    let _ = write!(
        out,
        "<h4>Example</h4><pre><code>{}</code></pre></section>",
        esc(&curl(method, path, operation, doc))
    );
}

/// The HTTP methods, in the order an operation's are shown.
const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A tag's operations: method, path and the operation object.
type Operations<'a> = Vec<(&'a str, &'a str, &'a Value)>;

/// The page for `doc` (the document as JSON).
pub fn render(doc: &Value) -> String {
    let title = doc
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("API");
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} reference</title><link rel=\"stylesheet\" href=\"{STYLESHEET}\">\
         </head><body><h1>{title}</h1>",
        title = esc(title)
    );
    if let Some(description) = doc.pointer("/info/description").and_then(Value::as_str) {
        let _ = write!(out, "<p>{}</p>", prose(description));
    }
    let _ = write!(
        out,
        "<p>The machine-readable document: <a href=\"{PREFIX}/openapi.json\">{PREFIX}/openapi.json\
         </a> (OpenAPI 3.1). The examples read the service's address (for example \
         <code>https://proxy.example.com</code>) from <code>ATLANTIC_API_URL</code> and the token \
         from <code>ATLANTIC_API_TOKEN</code>.</p>"
    );

    // Operations by tag, tags in the order they first appear.
    let mut tags: Vec<(String, Operations)> = Vec::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                let Some(op) = item.get(method) else {
                    continue;
                };
                let tag = op
                    .pointer("/tags/0")
                    .and_then(Value::as_str)
                    .unwrap_or("other")
                    .to_owned();
                match tags.iter_mut().find(|(t, _)| *t == tag) {
                    Some((_, ops)) => ops.push((method, path.as_str(), op)),
                    None => tags.push((tag, vec![(method, path.as_str(), op)])),
                }
            }
        }
    }
    out.push_str("<nav class=\"toc\"><h2>Operations</h2><ul>");
    for (tag, ops) in &tags {
        let _ = write!(out, "<li><a href=\"#tag-{0}\">{0}</a><ul>", esc(tag));
        for (method, path, op) in ops {
            let _ = write!(
                out,
                "<li><a href=\"#op-{}\">{} {}</a></li>",
                esc(op["operationId"].as_str().unwrap_or("")),
                esc(&method.to_uppercase()),
                esc(path)
            );
        }
        out.push_str("</ul></li>");
    }
    out.push_str("<li><a href=\"#schemas\">schemas</a></li></ul></nav>");
    for (tag, ops) in &tags {
        let _ = write!(out, "<h2 id=\"tag-{0}\">{0}</h2>", esc(tag));
        for (method, path, op) in ops {
            operation(doc, method, path, op, &mut out);
        }
    }

    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            let _ = write!(
                out,
                "<section class=\"operation\" id=\"schema-{0}\"><h3>{0}</h3>",
                esc(name)
            );
            if let Some(description) = schema.get("description").and_then(Value::as_str) {
                let _ = write!(out, "<p class=\"summary\">{}</p>", prose(description));
            }
            fields(doc, schema, &mut out);
            out.push_str("</section>");
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_code_spans_kept() {
        assert_eq!(
            prose("a `<b>` & \"c\""),
            "a <code>&lt;b&gt;</code> &amp; &quot;c&quot;"
        );
    }

    #[test]
    fn types_read_as_words() {
        let nullable = serde_json::json!({"type": ["integer", "null"], "format": "int64"});
        assert_eq!(type_name(&nullable), "integer (int64) or null");
        let list =
            serde_json::json!({"type": "array", "items": {"$ref": "#/components/schemas/X"}});
        assert_eq!(type_name(&list), "array of <a href=\"#schema-X\">X</a>");
    }
}
