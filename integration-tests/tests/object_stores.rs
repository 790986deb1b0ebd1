//! One code path (`object_storage::open` by URL) against local files, memory and a real GCS
//! emulator (fake-gcs-server): put, get, list, delete behave the same everywhere.

use bytes::Bytes;
use futures::TryStreamExt;
use integration_tests::{unique_name, Stack};
use object_storage::object_store::path::Path;
use object_storage::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use object_storage::{open, StoreOptions};
use std::sync::Arc;

async fn exercise(store: Arc<dyn ObjectStore>) {
    let alert = Path::from("v2/alerts/170001/1700010000001.avro.gz");
    let schema = Path::from("v2/schemas/1101.json");
    let body = Bytes::from_static(b"\x1f\x8b gzip of a wire-format alert");
    store
        .put(&alert, PutPayload::from(body.clone()))
        .await
        .unwrap();
    store
        .put(&schema, PutPayload::from_static(b"{\"type\":\"record\"}"))
        .await
        .unwrap();

    let read = store.get(&alert).await.unwrap().bytes().await.unwrap();
    assert_eq!(read, body);

    let mut alerts: Vec<String> = store
        .list(Some(&Path::from("v2/alerts")))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    alerts.sort();
    assert_eq!(alerts, vec![alert.to_string()]);

    // Overwriting an immutable object with the same bytes is harmless (at-least-once writes).
    store
        .put(&alert, PutPayload::from(body.clone()))
        .await
        .unwrap();
    assert_eq!(store.head(&alert).await.unwrap().size, body.len() as u64);

    store.delete(&alert).await.unwrap();
    let missing = store.get(&alert).await.unwrap_err();
    assert!(
        matches!(
            missing,
            object_storage::object_store::Error::NotFound { .. }
        ),
        "{missing}"
    );
    assert_eq!(
        store
            .list(None)
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn local_files() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().display());
    exercise(open(&url, &StoreOptions::default()).unwrap()).await;
}

#[tokio::test]
async fn memory() {
    exercise(open("memory://", &StoreOptions::default()).unwrap()).await;
}

#[tokio::test]
async fn fake_gcs_server() {
    let stack = Stack::get();
    let bucket = unique_name("alerts");
    stack.create_gcs_bucket(&bucket).await.unwrap();
    let options = StoreOptions {
        gcs_service_account_path: Some(stack.gcs_service_account.clone()),
        ..StoreOptions::default()
    };
    exercise(open(&format!("gs://{bucket}"), &options).unwrap()).await;
}

#[tokio::test]
async fn fake_gcs_server_under_a_prefix() {
    let stack = Stack::get();
    let bucket = unique_name("shared");
    stack.create_gcs_bucket(&bucket).await.unwrap();
    let options = StoreOptions {
        gcs_service_account_path: Some(stack.gcs_service_account.clone()),
        ..StoreOptions::default()
    };
    exercise(open(&format!("gs://{bucket}/alert_archive"), &options).unwrap()).await;
    // The prefix is real: the bare bucket sees the object under it.
    let bare = open(&format!("gs://{bucket}"), &options).unwrap();
    let keys: Vec<String> = bare
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys, vec!["alert_archive/v2/schemas/1101.json".to_owned()]);
}

#[tokio::test]
async fn a_missing_gcs_bucket_is_an_error_not_a_hang() {
    let stack = Stack::get();
    let options = StoreOptions {
        gcs_service_account_path: Some(stack.gcs_service_account.clone()),
        ..StoreOptions::default()
    };
    let store = open(&format!("gs://{}", unique_name("absent")), &options).unwrap();
    let result = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        store.put(&Path::from("x"), PutPayload::from_static(b"x")),
    )
    .await
    .expect("answered within 30 s");
    assert!(result.is_err());
}
