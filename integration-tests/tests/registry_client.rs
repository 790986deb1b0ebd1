//! `libs/registry-client` against the real registry of the local stack: what the ingester
//! relies on to tell a poison message (404) from an outage.

use integration_tests::{unique_name, Stack};
use registry_client::{RegistryClient, RegistryError};
use std::time::Duration;

#[tokio::test]
async fn get_schema_returns_the_registered_string_and_tells_missing_from_unavailable() {
    let stack = Stack::get();
    let schema = r#"{"type":"record","name":"probe","namespace":"alertdist.test","fields":[{"name":"diaSourceId","type":"long"},{"name":"tag","type":"string"}]}"#;
    // Registered with a plain POST, not with the client under test.
    let response = reqwest::Client::new()
        .post(format!(
            "{}/subjects/{}/versions",
            stack.registry_url,
            unique_name("registry-client")
        ))
        .header("Content-Type", registry_client::CONTENT_TYPE)
        .body(serde_json::json!({ "schema": schema }).to_string())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_u64()
        .unwrap() as u32;

    let client = RegistryClient::new(&stack.registry_url, Duration::from_secs(5)).unwrap();
    let fetched = client.get_schema(id).await.unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&fetched).unwrap();
    assert_eq!(
        parsed,
        serde_json::from_str::<serde_json::Value>(schema).unwrap()
    );

    let missing = client.get_schema(2_000_000_123).await.unwrap_err();
    assert!(
        matches!(missing, RegistryError::NotFound { code: 40403, .. }),
        "{missing}"
    );
    assert!(!missing.is_transient());

    // Nothing listens on port 1: an outage, not a missing schema.
    let down = RegistryClient::new("http://127.0.0.1:1/apis/ccompat/v7", Duration::from_secs(2))
        .unwrap()
        .get_schema(id)
        .await
        .unwrap_err();
    assert!(down.is_transient(), "{down}");
}
