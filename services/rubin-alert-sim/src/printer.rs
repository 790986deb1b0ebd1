//! `print-stream`: one line per message, in upstream's format
//! (`{time}  id={id}  len(history)={n}  size={bytes}`), for any schema version: each
//! message's schema is fetched from the registry by the id in its header, once.

use crate::cli::PrintStream;
use alert_packet::alert::alert_id;
use alert_packet::schema::{Node, Schema};
use alert_packet::value::{decode, Value};
use alert_packet::wire;
use anyhow::Context;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::Message;
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_util::sync::CancellationToken;

/// A decoded schema and where its history array is.
struct KnownSchema {
    schema: Arc<Schema>,
    history_field: Option<usize>,
}

/// Prints messages until `shutdown` (or `--max-messages`).
pub async fn print_stream(
    args: &PrintStream,
    out: &mut impl Write,
    shutdown: CancellationToken,
) -> anyhow::Result<u64> {
    let kafka = crate::cli::kafka_settings(&args.kafka)?;
    let client_config = kafka.client_config()?;
    service_kit::kafka::check_connection(&kafka).await?;
    let registry =
        registry_client::RegistryClient::new(&args.schema_registry_url, Duration::from_secs(10))
            .with_context(|| format!("invalid schema registry URL {}", args.schema_registry_url))?;
    let consumer: StreamConsumer = client_config
        .clone()
        .set(
            "group.id",
            format!("rubin-alert-sim-printer-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set(
            "auto.offset.reset",
            if args.from_beginning {
                "earliest"
            } else {
                "latest"
            },
        )
        .create()?;
    consumer.subscribe(&[&args.src_topic])?;
    let mut schemas: HashMap<u32, KnownSchema> = HashMap::new();
    let mut printed = 0u64;
    while args.max_messages.is_none_or(|max| printed < max) {
        let message = tokio::select! {
            m = consumer.recv() => m.context("reading the topic")?,
            _ = shutdown.cancelled() => break,
        };
        let Some(value) = message.payload() else {
            continue;
        };
        let line = match describe(value, &registry, &mut schemas).await {
            Ok((id, history)) => format!(
                "{}  id={id}  len(history)={history}  size={}",
                now(),
                value.len()
            ),
            Err(error) => format!(
                "{}  unreadable message at partition {} offset {}: {error:#}  size={}",
                now(),
                message.partition(),
                message.offset(),
                value.len()
            ),
        };
        writeln!(out, "{line}")?;
        out.flush()?;
        printed += 1;
    }
    Ok(printed)
}

async fn describe(
    value: &[u8],
    registry: &registry_client::RegistryClient,
    schemas: &mut HashMap<u32, KnownSchema>,
) -> anyhow::Result<(i64, usize)> {
    let frame = wire::unframe(value)?;
    let id = alert_id(frame.body)?;
    let known = match schemas.entry(frame.schema_id) {
        std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
        std::collections::hash_map::Entry::Vacant(entry) => {
            let text = registry
                .get_schema(frame.schema_id)
                .await
                .with_context(|| {
                    format!("fetching schema {} from the registry", frame.schema_id)
                })?;
            let schema = Arc::new(Schema::parse_str(&text)?);
            let history_field = schema
                .root_record()
                .and_then(|r| r.fields.iter().position(|f| f.name == "prvDiaSources"));
            entry.insert(KnownSchema {
                schema,
                history_field,
            })
        }
    };
    let history = match known.history_field {
        Some(index) => match decode(&known.schema, frame.body)? {
            Value::Record(fields) => match &fields[index] {
                Value::Array(items) => items.len(),
                Value::Union(_, inner) => match inner.as_ref() {
                    Value::Array(items) => items.len(),
                    _ => 0,
                },
                _ => 0,
            },
            _ => 0,
        },
        None => 0,
    };
    debug_assert!(matches!(
        known.schema.node(known.schema.root()),
        Node::Record(_)
    ));
    Ok((id, history))
}

/// The current time as Python's `str(datetime.now())` writes it (UTC here).
pub fn now() -> String {
    format_time(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` for a time since the Unix epoch, in UTC.
pub fn format_time(since_epoch: Duration) -> String {
    let seconds = since_epoch.as_secs() as i64;
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}.{:06}",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60,
        since_epoch.subsec_micros()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_like_python() {
        assert_eq!(
            format_time(Duration::from_secs(0)),
            "1970-01-01 00:00:00.000000"
        );
        // 2026-11-23 20:31:05.123456 UTC
        assert_eq!(
            format_time(Duration::from_micros(1_795_465_865_123_456)),
            "2026-11-23 20:31:05.123456"
        );
        assert_eq!(
            format_time(Duration::from_secs(951_782_400)),
            "2000-02-29 00:00:00.000000"
        );
    }
}
