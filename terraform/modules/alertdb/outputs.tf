output "packets_bucket" {
  description = "Bucket of the alert packets: Helm values alertdb-ingester.alertsUrl and alertdb-server.alertsUrl = gs://<this>."
  value       = google_storage_bucket.packets.name
}

output "schemas_bucket" {
  description = "Bucket of the schemas: Helm values alertdb-ingester.schemasUrl and alertdb-server.schemasUrl = gs://<this>."
  value       = google_storage_bucket.schemas.name
}

output "writer_service_account_email" {
  description = "Helm value alertdb-ingester.serviceAccount.gcpServiceAccount."
  value       = google_service_account.writer.email
}

output "reader_service_account_email" {
  description = "Helm value alertdb-server.serviceAccount.gcpServiceAccount."
  value       = google_service_account.reader.email
}
