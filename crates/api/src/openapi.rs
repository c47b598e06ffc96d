//! The OpenAPI 3.1 document, generated from the code: paths and security from the
//! rules table (`auth::rules::RULES`), bodies from the request and response types'
//! JSON Schemas (schemars, draft 2020-12, which is OpenAPI 3.1's dialect).

use std::collections::HashMap;

use axum::http::Method;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use crate::auth::rules::{Access, RULES};

/// What the code says about one operation beyond its rule.
#[derive(Debug, Default)]
struct Operation {
    request: Option<Schema>,
    status: u16,
    response: Option<Schema>,
    /// Query (and header) parameters beyond the path's.
    parameters: Vec<Value>,
    /// Answers carry an `ETag` and `If-None-Match` may get 304.
    conditional: bool,
}

/// Collects operations while route modules describe them.
#[derive(Debug)]
pub struct ApiDoc {
    generator: SchemaGenerator,
    operations: HashMap<(Method, &'static str), Operation>,
}

impl Default for ApiDoc {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiDoc {
    pub fn new() -> Self {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        });
        Self {
            generator: settings.into_generator(),
            operations: HashMap::new(),
        }
    }

    /// An operation taking a JSON body `B` and answering `status` with a JSON `R`.
    pub fn op<B: JsonSchema, R: JsonSchema>(
        &mut self,
        method: Method,
        path: &'static str,
        status: u16,
    ) {
        let request = self.generator.subschema_for::<B>();
        let response = self.generator.subschema_for::<R>();
        self.operations.insert(
            (method, path),
            Operation {
                request: Some(request),
                status,
                response: Some(response),
                ..Operation::default()
            },
        );
    }

    /// An operation without a body answering `status` with a JSON `R`.
    pub fn query<R: JsonSchema>(&mut self, method: Method, path: &'static str, status: u16) {
        let response = self.generator.subschema_for::<R>();
        self.operations.insert(
            (method, path),
            Operation {
                request: None,
                status,
                response: Some(response),
                ..Operation::default()
            },
        );
    }

    /// A `GET` answering 200 with a JSON `R`, its query parameters the fields of `P`
    /// (the struct the handler parses the query string into). `conditional`: answers
    /// carry an `ETag`, and `If-None-Match` may get 304.
    pub fn read<P: JsonSchema, R: JsonSchema>(&mut self, path: &'static str, conditional: bool) {
        let response = self.generator.subschema_for::<R>();
        let mut parameters = query_parameters::<P>();
        if conditional {
            parameters.push(json!({
                "name": "If-None-Match", "in": "header", "required": false,
                "description": "The ETag of an answer already held: 304 if it has not changed.",
                "schema": { "type": "string" }
            }));
        }
        self.operations.insert(
            (Method::GET, path),
            Operation {
                request: None,
                status: 200,
                response: Some(response),
                parameters,
                conditional,
            },
        );
    }

    /// A `GET` answering 200 with bytes (a document), its query parameters the fields
    /// of `P`.
    pub fn read_bytes<P: JsonSchema>(&mut self, path: &'static str) {
        self.operations.insert(
            (Method::GET, path),
            Operation {
                request: None,
                status: 200,
                response: None,
                parameters: query_parameters::<P>(),
                conditional: false,
            },
        );
    }

    /// An operation without a JSON body either way (e.g. 204, or bytes).
    pub fn bare(&mut self, method: Method, path: &'static str, status: u16) {
        self.operations.insert(
            (method, path),
            Operation {
                request: None,
                status,
                response: None,
                ..Operation::default()
            },
        );
    }

    /// Routes of the rules table that no module described (a test keeps this empty).
    pub fn undocumented(&self) -> Vec<String> {
        RULES
            .iter()
            .filter(|r| !r.is_page())
            .filter(|r| !self.operations.contains_key(&(r.method.clone(), r.path)))
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The OpenAPI document.
    pub fn into_document(mut self) -> Value {
        let problem = self.generator.subschema_for::<ProblemSchema>();
        let mut paths = Map::new();
        for rule in RULES.iter().filter(|r| !r.is_page()) {
            let op = self
                .operations
                .remove(&(rule.method.clone(), rule.path))
                .unwrap_or_default();
            let mut responses = Map::new();
            let status = if op.status == 0 { 200 } else { op.status };
            let mut success = json!({ "description": "Succès" });
            if let Some(schema) = op.response {
                success["content"] = json!({ "application/json": { "schema": schema } });
            }
            if op.conditional {
                success["headers"] = json!({
                    "ETag": { "schema": { "type": "string" } },
                    "Cache-Control": { "schema": { "type": "string" } }
                });
            }
            responses.insert(status.to_string(), success);
            if op.conditional {
                responses.insert(
                    "304".into(),
                    json!({ "description": "Inchangé : l'ETag donné dans If-None-Match est toujours le bon" }),
                );
            }
            let problems: &[u16] = match rule.access {
                // Login answers 401 for wrong credentials and 429 when locked.
                // The webhook is 404 when no secret is configured, 401 on a bad signature.
                Access::Public if rule.path == crate::routes::zendesk::WEBHOOK => {
                    &[400, 401, 404, 413, 415, 422, 500]
                }
                Access::Public => &[400, 401, 413, 415, 422, 429, 500],
                // A wrong current password counts as a failed login: 429 once locked.
                _ if rule.path == "/api/v1/auth/password" => {
                    &[400, 401, 403, 404, 409, 413, 415, 422, 429, 500]
                }
                _ => &[400, 401, 403, 404, 409, 413, 415, 422, 500],
            };
            for code in problems {
                responses.insert(
                    code.to_string(),
                    json!({
                        "description": "Problème (RFC 9457)",
                        "content": { "application/problem+json": { "schema": problem.clone() } }
                    }),
                );
            }
            let mut operation = json!({
                "summary": rule.summary,
                "operationId": operation_id(&rule.method, rule.path),
                "tags": [tag(rule.path)],
                "responses": responses,
            });
            let parameters: Vec<Value> = rule
                .path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(|name| {
                    json!({ "name": name, "in": "path", "required": true,
                            "schema": { "type": "string" } })
                })
                .chain(op.parameters)
                .collect();
            if !parameters.is_empty() {
                operation["parameters"] = Value::Array(parameters);
            }
            match rule.access {
                Access::Public => operation["security"] = json!([]),
                Access::Authenticated => {}
                Access::Roles(roles) => {
                    let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
                    operation["x-roles"] = json!(names);
                }
            }
            if let Some(schema) = op.request {
                operation["requestBody"] = json!({
                    "required": true,
                    "content": { "application/json": { "schema": schema } }
                });
            }
            let entry = paths
                .entry(rule.path.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            entry[rule.method.as_str().to_lowercase()] = operation;
        }
        let schemas = self.generator.take_definitions(true);
        json!({
            "openapi": "3.1.0",
            "info": {
                "title": "LAE platform API",
                "version": env!("CARGO_PKG_VERSION"),
                "description": "Commands and queries of LAE's departments. Errors are application/problem+json; messages for users are in French."
            },
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" },
                    "session": { "type": "apiKey", "in": "cookie", "name": "lae_session" }
                }
            },
            "security": [ { "bearer": [] }, { "session": [] } ]
        })
    }
}

/// The query parameters of a handler whose query string parses into `P`: one per field
/// of `P`, with the field's schema (inlined, `null` removed: an absent parameter is the
/// `None`) and doc comment.
fn query_parameters<P: JsonSchema>() -> Vec<Value> {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let root = settings.into_generator().into_root_schema_for::<P>();
    let root = root.as_value();
    let required: Vec<&str> = root["required"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = root["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let mut schema = schema.clone();
            let description = schema.as_object_mut().and_then(|s| s.remove("description"));
            without_null(&mut schema);
            let mut parameter = json!({
                "name": name, "in": "query", "required": required.contains(&name.as_str()),
                "schema": schema,
            });
            if let Some(description) = description {
                parameter["description"] = description;
            }
            parameter
        })
        .collect()
}

/// Removes `null` from a schema's types, enum values and alternatives.
fn without_null(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            object.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(values)) = object.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alternatives)) = object.get_mut(key) {
            alternatives.retain(|a| a.get("type").is_none_or(|t| t != "null"));
            if let [only] = alternatives.as_slice() {
                let only = only.clone();
                object.remove(key);
                if let Value::Object(fields) = only {
                    object.extend(fields);
                }
            }
        }
    }
}

fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_lowercase();
    for seg in path
        .trim_start_matches("/api/v1")
        .split('/')
        .filter(|s| !s.is_empty())
    {
        id.push('_');
        id.push_str(&seg.replace(['{', '}'], "").replace('-', "_"));
    }
    id
}

fn tag(path: &str) -> &str {
    path.trim_start_matches("/api/v1/")
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("system")
}

/// The problem body's schema (see `problem.rs`).
#[derive(JsonSchema)]
#[schemars(rename = "Problem")]
#[allow(dead_code)]
struct ProblemSchema {
    #[schemars(rename = "type")]
    type_: String,
    title: String,
    status: u16,
    detail: String,
    code: String,
    field: Option<String>,
}

/// The document, built once.
pub fn document() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::new();
        crate::routes::describe(&mut doc);
        doc.into_document()
    })
}

/// A page that renders the document (the viewer's script comes from a CDN: the
/// browser needs the internet for it; the document itself is at /openapi.json).
/// The API's documentation as one server-rendered page (no script, nothing loaded
/// from elsewhere): every operation of the rules table, who may call it, and where the
/// full OpenAPI document is.
pub fn viewer() -> &'static str {
    static PAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PAGE.get_or_init(|| {
        let mut html = String::from(
            "<!doctype html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">\
             <title>API LAE — documentation</title>\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"></head>\
             <body><main><h1>API de la plateforme LAE</h1>\
             <p>Le document OpenAPI 3.1 complet (schémas des requêtes et des réponses) est sur \
             <a href=\"/openapi.json\">/openapi.json</a>. Les erreurs suivent RFC 9457 \
             (<code>application/problem+json</code>), en français.</p>\
             <table><caption>Opérations</caption><thead><tr><th scope=\"col\">Méthode</th>\
             <th scope=\"col\">Chemin</th><th scope=\"col\">Accès</th>\
             <th scope=\"col\">Description</th></tr></thead><tbody>",
        );
        for rule in RULES.iter().filter(|r| !r.is_page()) {
            let access = match rule.access {
                Access::Public => "public".to_owned(),
                Access::Authenticated => "tout utilisateur connecté".to_owned(),
                Access::Roles(roles) => roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            html.push_str(&format!(
                "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
                rule.method,
                escape(rule.path),
                escape(&access),
                escape(rule.summary)
            ));
        }
        html.push_str("</tbody></table></main></body></html>");
        html
    })
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_route_of_the_rules_table_is_documented() {
        let mut doc = ApiDoc::new();
        crate::routes::describe(&mut doc);
        assert!(doc.undocumented().is_empty(), "{:?}", doc.undocumented());
    }

    #[test]
    fn the_document_is_openapi_3_1_and_every_reference_resolves() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        let mut found = Vec::new();
        refs(doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected reference {r}"));
            assert!(schemas.contains_key(name), "dangling {r}");
        }
        for rule in RULES {
            let op = &doc["paths"][rule.path][rule.method.as_str().to_lowercase()];
            // The desks' pages are HTML, outside the JSON API's document.
            assert_eq!(
                op["responses"].is_object(),
                !rule.is_page(),
                "{} {}",
                rule.method,
                rule.path
            );
        }
        // Query routes document their parameters, and 304 when they are conditional.
        let search = &doc["paths"]["/api/v1/sales/customers"]["get"];
        let names: Vec<&str> = search["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        for name in [
            "q",
            "name",
            "email",
            "phone",
            "customer_number",
            "limit",
            "cursor",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        assert!(search["responses"]["304"].is_object());
        let limit = search["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "limit"))
            .expect("limit");
        assert_eq!(limit["schema"]["maximum"], 200, "{limit}");
        assert_eq!(limit["schema"]["type"], "integer", "{limit}");
        let health = &doc["paths"]["/api/v1/legal/customers/{id}/health-declaration"]["get"];
        assert!(
            health["responses"]["304"].is_null(),
            "logged reads are never 304"
        );
        // Value types keep their validation in the document.
        let mandate = &schemas["Mandate"]["properties"]["iban"];
        assert!(
            mandate.get("pattern").is_some() || mandate.get("format").is_some(),
            "the IBAN keeps its constraints: {mandate}"
        );
    }
}
