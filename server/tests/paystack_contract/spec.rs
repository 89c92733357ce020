//! Paystack's OpenAPI spec (the trimmed copy in `tests/fixtures/paystack/`) as JSON Schemas:
//! `$ref`s are inlined and OpenAPI 3.0's `nullable: true` becomes "or null", so a standard
//! Draft 4 validator (the `jsonschema` crate) checks bodies against it.

use serde_json::{Map, Value, json};

/// The spec, parsed.
pub struct Spec {
    root: Value,
}

impl Spec {
    /// Reads the vendored spec.
    pub fn load() -> Spec {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/paystack/paystack-transactions.yaml"
        );
        let text = std::fs::read_to_string(path).expect("the vendored Paystack spec");
        Spec {
            root: serde_norway::from_str(&text).expect("the Paystack spec is YAML"),
        }
    }

    fn operation(&self, method: &str, path: &str) -> &Value {
        let operation = &self.root["paths"][path][method];
        assert!(operation.is_object(), "the spec has no {method} {path}");
        operation
    }

    /// The JSON request body schema of an operation, closed: every field we send must be one
    /// Paystack documents (catches misspelt optional fields, which Paystack would ignore).
    pub fn request(&self, method: &str, path: &str) -> Value {
        let body = &self.operation(method, path)["requestBody"]["content"]["application/json"];
        let mut schema = self.schema(&body["schema"], 0);
        schema["additionalProperties"] = json!(false);
        schema
    }

    /// The JSON response schema of an operation for `status` (`"200"`, `"401"`, …).
    pub fn response(&self, method: &str, path: &str, status: &str) -> Value {
        let mut response = &self.operation(method, path)["responses"][status];
        if let Some(target) = response["$ref"].as_str() {
            response = self.target(target);
        }
        let schema = &response["content"]["application/json"]["schema"];
        assert!(
            schema.is_object(),
            "{method} {path} documents no JSON {status}"
        );
        self.schema(schema, 0)
    }

    fn target(&self, reference: &str) -> &Value {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local $refs: {reference}"));
        self.root
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} is not in the spec"))
    }

    /// A schema object as JSON Schema: `$ref`s inlined (the spec has no recursive ones) and
    /// OpenAPI's `nullable: true` turned into "or null". Annotations stay (validators ignore
    /// them); property maps are walked as maps, so a property named like a keyword is kept.
    fn schema(&self, value: &Value, depth: usize) -> Value {
        assert!(depth < 64, "$ref nesting too deep");
        let Value::Object(map) = value else {
            return value.clone();
        };
        if let Some(Value::String(reference)) = map.get("$ref") {
            return self.schema(self.target(reference), depth + 1);
        }
        let mut out = Map::new();
        for (key, item) in map {
            let converted = match key.as_str() {
                "nullable" => continue,
                "properties" | "patternProperties" => match item {
                    Value::Object(properties) => Value::Object(
                        properties
                            .iter()
                            .map(|(name, s)| (name.clone(), self.schema(s, depth + 1)))
                            .collect(),
                    ),
                    other => other.clone(),
                },
                "allOf" | "anyOf" | "oneOf" => match item {
                    Value::Array(list) => list.iter().map(|s| self.schema(s, depth + 1)).collect(),
                    other => other.clone(),
                },
                "items" | "not" | "additionalProperties" => self.schema(item, depth + 1),
                _ => item.clone(),
            };
            out.insert(key.clone(), converted);
        }
        if map.get("nullable") == Some(&Value::Bool(true)) {
            json!({ "anyOf": [{ "type": "null" }, Value::Object(out)] })
        } else {
            Value::Object(out)
        }
    }
}

/// Every way `instance` breaks `schema`, one line each with where (empty: it conforms).
pub fn violations(schema: &Value, instance: &Value) -> Vec<String> {
    let validator = jsonschema::draft4::new(schema).expect("the spec's schema compiles");
    validator
        .iter_errors(instance)
        .map(|error| format!("at {}: {error}", error.instance_path()))
        .collect()
}

/// Fails the test, listing every violation, unless `instance` conforms to `schema`.
#[track_caller]
pub fn assert_conforms(what: &str, schema: &Value, instance: &Value) {
    let found = violations(schema, instance);
    assert!(
        found.is_empty(),
        "{what} does not match Paystack's spec:\n  {}\nbody: {instance:#}",
        found.join("\n  ")
    );
}
