//! The local schema registry speaks the Confluent REST API (BRIEF §2).

use integration_tests::{unique_name, Stack};
use serde_json::{json, Value};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

fn schema_text(name: &str) -> String {
    json!({
        "type": "record",
        "name": name,
        "namespace": "lsst.test",
        "fields": [{"name": "diaSourceId", "type": "long"}]
    })
    .to_string()
}

#[tokio::test]
async fn schemas_are_registered_and_read_back_by_id() {
    let stack = Stack::get();
    let client = reqwest::Client::new();
    let subject = unique_name("registry-test");
    let schema = schema_text(&subject.replace('-', "_"));

    let response = client
        .post(format!(
            "{}/subjects/{subject}/versions",
            stack.registry_url
        ))
        .header("content-type", CONTENT_TYPE)
        .json(&json!({ "schema": schema }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();

    // Confluent clients ask for the registry's media type; the answer must carry it.
    let response = client
        .get(format!("{}/schemas/ids/{id}", stack.registry_url))
        .header("accept", CONTENT_TYPE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with(CONTENT_TYPE), "{content_type}");
    let body: Value = response.json().await.unwrap();
    // The schema is JSON inside a JSON string: parse twice.
    let parsed: Value = serde_json::from_str(body["schema"].as_str().unwrap()).unwrap();
    assert_eq!(parsed["fields"][0]["name"], "diaSourceId");

    let versions: Value = client
        .get(format!(
            "{}/subjects/{subject}/versions",
            stack.registry_url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions, json!([1]));
}

#[tokio::test]
async fn a_missing_schema_id_is_error_40403() {
    let stack = Stack::get();
    let response = reqwest::get(format!("{}/schemas/ids/987654321", stack.registry_url))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], 40403, "{body}");
    assert!(body["message"].is_string(), "{body}");
}

#[tokio::test]
async fn a_missing_subject_is_error_40401() {
    let stack = Stack::get();
    let response = reqwest::get(format!(
        "{}/subjects/{}/versions",
        stack.registry_url,
        unique_name("never-registered")
    ))
    .await
    .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error_code"], 40401, "{body}");
}
