//! The contract between template.yaml (what API Gateway routes to which Lambda), the routers
//! (what each Lambda serves) and the OpenAPI document (what clients are told): the same set
//! of (method, path), function by function.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Body;
use axum::http::Request;
use serde_yaml::Value;
use tower::ServiceExt;

type Routes = BTreeSet<(String, String)>;

/// HttpApi routes of template.yaml, per function binary (`Metadata.BuildProperties.Binary`).
fn template_routes() -> BTreeMap<String, Routes> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
    let template: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out: BTreeMap<String, Routes> = BTreeMap::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .expect("every function names its binary")
            .to_owned();
        let routes = out.entry(binary).or_default();
        for (_, event) in resource["Properties"]["Events"]
            .as_mapping()
            .into_iter()
            .flatten()
        {
            if event["Type"] == "HttpApi" {
                let method = event["Properties"]["Method"]
                    .as_str()
                    .unwrap()
                    .to_uppercase();
                let path = event["Properties"]["Path"].as_str().unwrap().to_owned();
                routes.insert((method, path));
            }
        }
    }
    out
}

fn openapi_routes(doc: &utoipa::openapi::OpenApi) -> Routes {
    let json = serde_json::to_value(doc).unwrap();
    json["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect()
}

/// A state whose clients cannot reach anything: secured and body-taking routes reject the
/// probe (401 / 415) before storage; public routes fail at storage instead (a 5xx), which is
/// still not the router's own 404/405.
fn offline_state() -> shared::AppState {
    let config = shared::config::Config {
        table_name: "unused".into(),
        event_bus_name: "unused".into(),
        jwt_secret_arn: "unused".into(),
        mail_from: "unused@example.com".into(),
        web_app_url: "http://localhost".into(),
        stage: "test".into(),
        media_bucket: None,
        rate_limits: Default::default(),
    };
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    shared::AppState::new(config, &sdk, b"contract-test-secret-contract-test-secret")
}

/// True when the router has a route for (method, path): probing without auth or body yields
/// an auth/content answer, never the router's own 404/405.
async fn serves(router: &axum::Router, method: &str, path: &str) -> bool {
    let uri = path
        .replace("{id}", "01JCONTRACT0000000000000000")
        .replace("{user_id}", "01JCONTRACTUSER000000000000")
        .replace("{sku}", "SKU-1")
        .replace("{media_id}", "01JCONTRACTMEDIA00000000000")
        .replace("{code}", "CONTRACT10")
        .replace("{carrier}", "ghtk");
    let response = router
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    !matches!(response.status().as_u16(), 404 | 405)
}

fn function_routers() -> Vec<(&'static str, axum::Router, Routes)> {
    let state = offline_state();
    vec![
        (
            "api-auth",
            api_auth::router(state.clone()),
            openapi_routes(&api_auth::api().split_for_parts().1),
        ),
        (
            "api-users",
            api_users::router(state.clone()),
            openapi_routes(&api_users::api().split_for_parts().1),
        ),
        (
            "api-shops",
            api_shops::router(state.clone()),
            openapi_routes(&api_shops::api().split_for_parts().1),
        ),
        (
            "api-products",
            api_products::router(state.clone()),
            openapi_routes(&api_products::api().split_for_parts().1),
        ),
        (
            "api-inventory",
            api_inventory::router(state.clone()),
            openapi_routes(&api_inventory::api().split_for_parts().1),
        ),
        (
            "api-cart",
            api_cart::router(state.clone()),
            openapi_routes(&api_cart::api().split_for_parts().1),
        ),
        (
            "api-vouchers",
            api_vouchers::router(state.clone()),
            openapi_routes(&api_vouchers::api().split_for_parts().1),
        ),
        (
            "api-orders",
            api_orders::router(state.clone()),
            openapi_routes(&api_orders::api().split_for_parts().1),
        ),
        (
            "api-payments",
            api_payments::router(
                state.clone(),
                Default::default(),
                api_payments::Settings::from_env().expect("defaults"),
            ),
            openapi_routes(&api_payments::api().split_for_parts().1),
        ),
        (
            "api-discovery",
            api_discovery::router(state.clone()),
            openapi_routes(&api_discovery::api().split_for_parts().1),
        ),
        (
            "api-webhooks",
            api_webhooks::router(state.clone(), Default::default()),
            openapi_routes(&api_webhooks::api().split_for_parts().1),
        ),
        (
            "api-shipping",
            api_shipping::router(state.clone(), Default::default()),
            openapi_routes(&api_shipping::api().split_for_parts().1),
        ),
        (
            "api-notifications",
            api_notifications::router(state.clone(), Default::default()),
            openapi_routes(&api_notifications::api().split_for_parts().1),
        ),
        (
            "api-search",
            api_search::router(state, dev_server::Services::default().search),
            openapi_routes(&api_search::api().split_for_parts().1),
        ),
    ]
}

#[test]
fn each_functions_template_routes_equal_its_openapi_paths() {
    let template = template_routes();
    let functions = function_routers();
    for (binary, _, documented) in &functions {
        assert_eq!(
            template.get(*binary),
            Some(documented),
            "template.yaml routes of {binary} differ from its OpenAPI paths"
        );
    }
    // and no function in the template has HTTP routes without a router here
    let with_routes: BTreeSet<_> = template
        .iter()
        .filter(|(_, r)| !r.is_empty())
        .map(|(b, _)| b.as_str())
        .collect();
    let known: BTreeSet<_> = functions.iter().map(|(b, _, _)| *b).collect();
    assert_eq!(with_routes, known);
}

#[tokio::test]
async fn each_function_serves_exactly_its_template_routes() {
    let template = template_routes();
    let all: Routes = template.values().flatten().cloned().collect();
    for (binary, router, _) in function_routers() {
        let own = &template[binary];
        for (method, path) in &all {
            assert_eq!(
                serves(&router, method, path).await,
                own.contains(&(method.clone(), path.clone())),
                "{binary}: {method} {path}"
            );
        }
        // the probe can tell: an unknown path is the router's 404
        assert!(!serves(&router, "GET", "/api/v1/definitely-not-a-route").await);
    }
}

#[tokio::test]
async fn the_dev_server_serves_and_documents_every_template_route() {
    let template: Routes = template_routes().values().flatten().cloned().collect();
    let doc = dev_server::openapi();
    assert_eq!(
        openapi_routes(&doc),
        template,
        "the served OpenAPI document must list exactly the template's routes"
    );
    let app = dev_server::app(offline_state(), None, Default::default());
    for (method, path) in &template {
        assert!(
            serves(&app, method, path).await,
            "dev server does not serve {method} {path}"
        );
    }
}

#[test]
fn every_operation_declares_its_error_statuses_and_request_schemas_with_required() {
    let json = serde_json::to_value(dev_server::openapi()).unwrap();
    for (path, item) in json["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let statuses: Vec<&String> = op["responses"].as_object().unwrap().keys().collect();
            assert!(
                statuses.iter().any(|s| s.starts_with('2')),
                "{method} {path} has no success response"
            );
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                assert!(
                    statuses.iter().any(|s| *s == "401"),
                    "{method} {path} is secured but does not document 401"
                );
            }
            if let Some(schema) =
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                assert!(
                    statuses.iter().any(|s| *s == "422"),
                    "{method} {path} takes a body but does not document 422"
                );
                assert!(
                    statuses.iter().any(|s| *s == "400"),
                    "{method} {path} takes a body but does not document 400"
                );
                let name = schema.rsplit('/').next().unwrap();
                let required = &json["components"]["schemas"][name]["required"];
                let optional_only = [
                    "UpdateProfileRequest",
                    "CalculateTotalRequest",
                    "AdvancedSearchRequest",
                    // a partial update: what is given changes
                    "NotificationPreferencesUpdate",
                ];
                assert!(
                    optional_only.contains(&name)
                        || required.as_array().is_some_and(|r| !r.is_empty()),
                    "{name} lists no required fields"
                );
            }
        }
    }
}

#[test]
fn every_schema_reference_in_the_served_document_resolves() {
    let json = serde_json::to_string(&dev_server::openapi()).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    let defined = doc["components"]["schemas"].as_object().unwrap();
    let mut dangling: Vec<&str> = json
        .split("\"$ref\":\"#/components/schemas/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|name| !defined.contains_key(*name))
        .collect();
    dangling.sort_unstable();
    dangling.dedup();
    assert!(
        dangling.is_empty(),
        "schemas referenced but not defined: {dangling:?}"
    );
}

/// The served document merges every function's components by name, so two types that share a
/// schema name would silently leave one route documented with the other's schema. Each name
/// must mean one schema across the functions.
#[test]
fn a_schema_name_means_one_schema_in_every_function() {
    let docs = [
        ("api-auth", api_auth::api().split_for_parts().1),
        ("api-users", api_users::api().split_for_parts().1),
        ("api-shops", api_shops::api().split_for_parts().1),
        ("api-products", api_products::api().split_for_parts().1),
        ("api-inventory", api_inventory::api().split_for_parts().1),
        ("api-cart", api_cart::api().split_for_parts().1),
        ("api-vouchers", api_vouchers::api().split_for_parts().1),
        ("api-orders", api_orders::api().split_for_parts().1),
        ("api-payments", api_payments::api().split_for_parts().1),
        ("api-webhooks", api_webhooks::api().split_for_parts().1),
        ("api-search", api_search::api().split_for_parts().1),
        ("api-discovery", api_discovery::api().split_for_parts().1),
        ("api-shipping", api_shipping::api().split_for_parts().1),
        (
            "api-notifications",
            api_notifications::api().split_for_parts().1,
        ),
    ];
    let mut seen: BTreeMap<String, (&str, serde_json::Value)> = BTreeMap::new();
    let mut clashes = Vec::new();
    for (function, doc) in &docs {
        let schemas = doc
            .components
            .as_ref()
            .map(|c| c.schemas.clone())
            .unwrap_or_default();
        for (name, schema) in schemas {
            let schema = serde_json::to_value(&schema).unwrap();
            match seen.get(&name) {
                Some((other, first)) if *first != schema => {
                    clashes.push(format!("{name}: {other} and {function}"))
                }
                Some(_) => {}
                None => {
                    seen.insert(name, (function, schema));
                }
            }
        }
    }
    assert!(seen.len() > 50, "the functions document their schemas");
    assert_eq!(clashes, Vec::<String>::new(), "one name, two schemas");
}
