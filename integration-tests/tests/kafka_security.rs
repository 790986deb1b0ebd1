//! The local Kafka broker is real: SCRAM users with read-only ACLs, mTLS, PLAINTEXT for
//! in-cluster clients, and authorization errors that are the specific ones Kafka returns.

use integration_tests::kafka_io::{consumer, produce, receive};
use integration_tests::{unique_name, Stack};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;
use service_kit::kafka::{check_client_config, check_connection, ConnectionError};
use std::time::{Duration, Instant};

fn error_code(error: &KafkaError) -> Option<RDKafkaErrorCode> {
    error.rdkafka_error_code()
}

#[tokio::test]
async fn a_read_only_scram_user_reads_its_topic_and_nothing_else() {
    let stack = Stack::get();
    let allowed = unique_name("alerts-x");
    let forbidden = unique_name("alerts-y");
    let user = unique_name("broker-a");
    stack
        .create_topics(&[&allowed, &forbidden], 1)
        .await
        .unwrap();
    let passwords = stack
        .apply_users(&serde_json::json!({
            "users": [{"username": user, "readonlyTopics": [allowed], "groups": [user]}]
        }))
        .unwrap();
    let password = &passwords[&user];
    let as_user = stack.kafka_scram(&user, password);

    let values: [&[u8]; 3] = [b"one", b"two", b"three"];
    produce(&stack.kafka_plaintext(), &allowed, &values)
        .await
        .unwrap();
    produce(&stack.kafka_plaintext(), &forbidden, &values)
        .await
        .unwrap();

    // Reads its topic in a group under its prefix.
    let reader = consumer(&as_user, &format!("{user}-test"), &allowed);
    let received = receive(&reader, 3).await.unwrap();
    assert_eq!(received, values.map(<[u8]>::to_vec).to_vec());

    // Cannot produce to it.
    let error = produce(&as_user, &allowed, &[b"forged"]).await.unwrap_err();
    assert_eq!(
        error_code(&error),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed),
        "{error}"
    );

    // Cannot read another topic.
    let other_topic = consumer(&as_user, &format!("{user}-other-topic"), &forbidden);
    let error = receive(&other_topic, 1).await.unwrap_err();
    assert_eq!(
        error_code(&error),
        Some(RDKafkaErrorCode::TopicAuthorizationFailed),
        "{error}"
    );

    // Cannot use a group outside its prefix.
    let other_group = consumer(&as_user, &unique_name("other-group"), &allowed);
    let error = receive(&other_group, 1).await.unwrap_err();
    assert_eq!(
        error_code(&error),
        Some(RDKafkaErrorCode::GroupAuthorizationFailed),
        "{error}"
    );
}

#[tokio::test]
async fn a_wrong_password_is_an_authentication_error_within_ten_seconds() {
    let stack = Stack::get();
    let user = unique_name("broker-b");
    let topic = unique_name("alerts-z");
    stack
        .apply_users(&serde_json::json!({
            "users": [{"username": user, "readonlyTopics": [topic], "groups": [user]}]
        }))
        .unwrap();
    let mut settings = stack.kafka_scram(&user, "certainly-not-the-password");
    settings.connect_timeout =
        service_kit::settings::DurationSetting(std::time::Duration::from_secs(30));
    let started = Instant::now();
    let error = check_connection(&settings).await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(error, ConnectionError::Authentication { .. }),
        "expected an authentication error, got: {error}"
    );
    assert!(waited < Duration::from_secs(10), "took {waited:?}");
}

#[tokio::test]
async fn the_admin_user_creates_and_deletes_topics_over_scram() {
    let stack = Stack::get();
    let admin_settings =
        stack.kafka_scram(&stack.kafka_admin_user, stack.kafka_admin_password.expose());
    let admin: AdminClient<DefaultClientContext> =
        admin_settings.client_config().unwrap().create().unwrap();
    let topic = unique_name("admin-made");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let created = admin
        .create_topics(
            &[NewTopic::new(&topic, 2, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .unwrap();
    assert!(created[0].is_ok(), "{created:?}");
    let metadata = admin
        .inner()
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .unwrap();
    assert_eq!(metadata.topics()[0].partitions().len(), 2);
    let deleted = admin.delete_topics(&[&topic], &options).await.unwrap();
    assert!(deleted[0].is_ok(), "{deleted:?}");
}

#[tokio::test]
async fn internal_clients_use_the_plaintext_listener() {
    let stack = Stack::get();
    let topic = unique_name("internal");
    stack.create_topics(&[&topic], 1).await.unwrap();
    produce(&stack.kafka_plaintext(), &topic, &[b"hello"])
        .await
        .unwrap();
    let reader = consumer(&stack.kafka_plaintext(), &unique_name("internal"), &topic);
    assert_eq!(receive(&reader, 1).await.unwrap(), vec![b"hello".to_vec()]);
}

#[tokio::test]
async fn mtls_needs_the_client_certificate() {
    let stack = Stack::get();
    let with_certificate = stack.kafka_mtls();
    let info = check_connection(&with_certificate).await.unwrap();
    assert_eq!(info.brokers, 1);
    let topic = unique_name("mtls");
    stack.create_topics(&[&topic], 1).await.unwrap();
    produce(&with_certificate, &topic, &[b"over mTLS"])
        .await
        .unwrap();

    // Same listener, CA only: the broker demands a certificate and refuses the handshake.
    let mut without_certificate = ClientConfig::new();
    without_certificate
        .set("bootstrap.servers", &stack.kafka_mtls)
        .set("security.protocol", "ssl")
        .set("ssl.ca.location", stack.tls_ca.to_string_lossy());
    let error = check_client_config(
        &without_certificate,
        &stack.kafka_mtls,
        Duration::from_secs(5),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            error,
            ConnectionError::Tls { .. } | ConnectionError::Unreachable { .. }
        ),
        "{error}"
    );
}
