//! One code path (`object_storage::open` by URL) against local files, memory, a real GCS
//! emulator (fake-gcs-server) and a real S3 server (moto, `scripts/s3/s3.sh`): put, get, list,
//! delete behave the same everywhere. Each GCS or S3 test has a bucket of its own.
//!
//! The services use `put`, `head` and `get` (alertdb-ingester writes alerts and schemas,
//! alertdb-server reads them and probes with `head`); the suite also lists and deletes. On S3,
//! [`s3_server_serves_the_rest_of_object_store_s_s3_client`] proves the other requests
//! `object_store`'s S3 client makes: conditional puts (`If-None-Match`, `If-Match`), multipart
//! uploads (complete and abort), copies and renames, ranged and conditional reads, listings that
//! span more than one page, delimiter listings and batch deletes; the same assertions run on the
//! in-memory store, the reference.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use integration_tests::{unique_name, Stack};
use object_storage::object_store::path::Path;
use object_storage::object_store::{
    Error as StoreError, GetOptions, ObjectStore, ObjectStoreExt, PutMode, PutPayload,
    UpdateVersion, WriteMultipart,
};
use object_storage::{open, StoreOptions};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

async fn s3_bucket(prefix: &str) -> String {
    let bucket = unique_name(prefix);
    Stack::get().create_s3_bucket(&bucket).await.unwrap();
    bucket
}

#[tokio::test]
async fn s3_server() {
    let bucket = s3_bucket("alerts").await;
    exercise(open(&format!("s3://{bucket}"), &Stack::get().s3_options()).unwrap()).await;
}

#[tokio::test]
async fn s3_server_under_a_prefix() {
    let options = Stack::get().s3_options();
    let bucket = s3_bucket("shared").await;
    exercise(open(&format!("s3://{bucket}/alert_archive"), &options).unwrap()).await;
    // The prefix is real: the bare bucket sees the object under it.
    let bare = open(&format!("s3://{bucket}"), &options).unwrap();
    let keys: Vec<String> = bare
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(keys, vec!["alert_archive/v2/schemas/1101.json".to_owned()]);
}

#[tokio::test]
async fn a_missing_s3_bucket_is_an_error_not_a_hang() {
    let options = Stack::get().s3_options();
    let store = open(&format!("s3://{}", unique_name("absent")), &options).unwrap();
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        store.put(&Path::from("x"), PutPayload::from_static(b"x")),
    )
    .await
    .expect("answered within 30 s");
    let error = result.unwrap_err();
    assert!(error.to_string().contains("NoSuchBucket"), "{error}");
    // A read of a missing bucket is an error too, not "object not found".
    let read = store.head(&Path::from("x")).await;
    assert!(read.is_err(), "{read:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[tokio::test]
async fn memory_serves_what_the_s3_test_asks() {
    more_operations(open("memory://", &StoreOptions::default()).unwrap(), true).await;
}

#[tokio::test]
async fn s3_server_serves_the_rest_of_object_store_s_s3_client() {
    let bucket = s3_bucket("operations").await;
    let started = Instant::now();
    more_operations(
        open(&format!("s3://{bucket}"), &Stack::get().s3_options()).unwrap(),
        false,
    )
    .await;
    eprintln!("S3 operations in {:.1} s", started.elapsed().as_secs_f64());
}

/// The requests of `object_store` beyond put/get/head/list/delete. `memory` skips the checks
/// that only S3 makes meaningful (part sizes).
async fn more_operations(store: Arc<dyn ObjectStore>, memory: bool) {
    // Conditional put, create-only (If-None-Match: *): the first writer wins, the second is told.
    let key = Path::from("v2/schemas/1101.json");
    let first = store
        .put_opts(
            &key,
            PutPayload::from_static(b"{\"v\":1}"),
            PutMode::Create.into(),
        )
        .await
        .unwrap();
    let again = store
        .put_opts(
            &key,
            PutPayload::from_static(b"{\"v\":2}"),
            PutMode::Create.into(),
        )
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::AlreadyExists { .. }), "{again}");
    assert_eq!(get(&*store, &key).await, &b"{\"v\":1}"[..]);

    // Conditional put, compare-and-swap on the ETag (If-Match): a stale version is refused.
    let second = store
        .put_opts(
            &key,
            PutPayload::from_static(b"{\"v\":3}"),
            PutMode::Update(UpdateVersion::from(first.clone())).into(),
        )
        .await
        .unwrap();
    assert_ne!(second.e_tag, first.e_tag);
    let stale = store
        .put_opts(
            &key,
            PutPayload::from_static(b"{\"v\":4}"),
            PutMode::Update(UpdateVersion::from(first)).into(),
        )
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::Precondition { .. }), "{stale}");
    assert_eq!(get(&*store, &key).await, &b"{\"v\":3}"[..]);

    // Conditional and ranged reads.
    let meta = store.head(&key).await.unwrap();
    let unchanged = store
        .get_opts(
            &key,
            GetOptions {
                if_none_match: meta.e_tag.clone(),
                ..GetOptions::default()
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(unchanged, StoreError::NotModified { .. }),
        "{unchanged}"
    );
    assert_eq!(
        &store.get_range(&key, 2..5).await.unwrap()[..],
        &b"{\"v\":3}"[2..5]
    );

    // Multipart upload: 5 MiB parts (S3's minimum but for the last) and a 1 MiB tail.
    let big = Path::from("v2/alerts/multipart.bin");
    let body: Vec<u8> = (0..11 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let mut upload = WriteMultipart::new_with_chunk_size(
        store.put_multipart(&big).await.unwrap(),
        5 * 1024 * 1024,
    );
    upload.write(&body);
    upload.finish().await.unwrap();
    assert_eq!(store.head(&big).await.unwrap().size, body.len() as u64);
    assert!(get(&*store, &big).await == body, "multipart object differs");
    let middle = 5 * 1024 * 1024 - 10..5 * 1024 * 1024 + 10;
    assert_eq!(
        &store.get_range(&big, middle.clone()).await.unwrap()[..],
        &body[middle.start as usize..middle.end as usize]
    );
    // An aborted upload leaves no object.
    let aborted = Path::from("v2/alerts/aborted.bin");
    let mut upload = store.put_multipart(&aborted).await.unwrap();
    upload
        .put_part(PutPayload::from(vec![7u8; 5 * 1024 * 1024]))
        .await
        .unwrap();
    upload.abort().await.unwrap();
    assert!(matches!(
        store.head(&aborted).await,
        Err(StoreError::NotFound { .. })
    ));
    if !memory {
        // S3 refuses to complete with a part under 5 MiB that is not the last.
        let small = Path::from("v2/alerts/small-parts.bin");
        let mut upload = store.put_multipart(&small).await.unwrap();
        upload
            .put_part(PutPayload::from_static(b"too small"))
            .await
            .unwrap();
        upload
            .put_part(PutPayload::from_static(b"last"))
            .await
            .unwrap();
        assert!(upload.complete().await.is_err());
    }

    // Copy (server side) and rename (copy, then delete).
    let copy = Path::from("v1/alerts/multipart.bin");
    store.copy(&big, &copy).await.unwrap();
    assert!(get(&*store, &copy).await == body, "copy differs");
    let moved = Path::from("v1/schemas/1101.json");
    store.rename(&key, &moved).await.unwrap();
    assert_eq!(get(&*store, &moved).await, &b"{\"v\":3}"[..]);
    assert!(matches!(
        store.head(&key).await,
        Err(StoreError::NotFound { .. })
    ));

    // A listing of more than one page (S3 answers at most 1,000 keys a request).
    let many: Vec<Path> = (0..1_050)
        .map(|i| Path::from(format!("v2/alerts/page/{i:05}.avro.gz")))
        .collect();
    futures::stream::iter(many.iter().cloned())
        .map(|key| {
            let store = Arc::clone(&store);
            async move { store.put(&key, PutPayload::from_static(b"x")).await }
        })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let mut listed: Vec<Path> = store
        .list(Some(&Path::from("v2/alerts/page")))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .unwrap();
    listed.sort();
    assert_eq!(listed, many);
    let after: Vec<Path> = store
        .list_with_offset(Some(&Path::from("v2/alerts/page")), &many[999])
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(after.len(), 50);

    // A listing with a delimiter: objects and "directories" of one level.
    let level = store
        .list_with_delimiter(Some(&Path::from("v2")))
        .await
        .unwrap();
    let mut prefixes: Vec<String> = level
        .common_prefixes
        .iter()
        .map(ToString::to_string)
        .collect();
    prefixes.sort();
    assert_eq!(prefixes, ["v2/alerts"]);
    assert!(level.objects.is_empty());
    let top = store.list_with_delimiter(None).await.unwrap();
    let mut prefixes: Vec<String> = top
        .common_prefixes
        .iter()
        .map(ToString::to_string)
        .collect();
    prefixes.sort();
    assert_eq!(prefixes, ["v1", "v2"]);

    // Batch delete (DeleteObjects on S3), then nothing is left under the prefix.
    let deleted: Vec<Path> = store
        .delete_stream(futures::stream::iter(many.clone().into_iter().map(Ok)).boxed())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(deleted.len(), many.len());
    let left = store
        .list(Some(&Path::from("v2/alerts/page")))
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");
}

async fn get(store: &dyn ObjectStore, key: &Path) -> Bytes {
    store.get(key).await.unwrap().bytes().await.unwrap()
}
