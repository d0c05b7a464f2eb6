//! The OpenAPI 3.1 document, generated from the route table so that it
//! lists exactly the routes the router serves, with who may call each one
//! (`x-roles`). Request schemas state every constraint the server enforces
//! that JSON Schema can express ([`crate::schema`]): a request valid by the
//! document is never refused as invalid (400 or 422).

use serde_json::{Map, Value, json};

use crate::routes::{Access, ROUTES};
use crate::schema::{self, Schema};

/// Builds the document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in ROUTES {
        let mut operation = json!({
            "operationId": route.operation,
            "summary": route.summary,
            "responses": {
                route.status.as_str(): {
                    "description": "Success.",
                    "content": { route.response.media_type(): { "schema": route.response.reference() } }
                },
                "default": {
                    "description": "An error.",
                    "content": { "application/json": { "schema": Schema::Error.reference() } }
                }
            }
        });
        match route.access {
            Access::Public => {
                operation["security"] = json!([]);
                operation["x-roles"] = json!([]);
            }
            Access::Roles(roles) => {
                operation["security"] = json!([{ "bearer": [] }]);
                operation["x-roles"] = json!(roles.iter().map(|r| r.as_str()).collect::<Vec<_>>());
            }
        }
        let params: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": schema::route_path_param(route.path, name) }))
            .chain(route.query.iter().map(|p| {
                json!({ "name": p.name, "in": "query", "required": p.required,
                        "description": p.description, "schema": schema::query_param(p.name) })
            }))
            .collect();
        if !params.is_empty() {
            operation["parameters"] = Value::from(params);
        }
        if let Some(request) = route.request {
            operation["requestBody"] = json!({
                "required": true,
                "content": { request.media_type(): { "schema": request.reference() } }
            });
        }
        let item = paths
            .entry(route.path.to_owned())
            .or_insert_with(|| json!({}));
        item[route.method.as_str().to_ascii_lowercase()] = operation;
    }
    let schemas: Map<String, Value> = Schema::ALL.iter().map(|s| (s.name(), s.json())).collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "watchpost API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Incident response system of record. Errors are always {\"error\":{\"code\",\"message\"}}. A request valid by this document is never refused as invalid (400 or 422); what depends on the server's state (a time that must be in the past or the future, a named user who must exist, an illegal status move, a duplicate) is 409."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        }
    })
}
