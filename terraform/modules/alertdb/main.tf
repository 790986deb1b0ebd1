# The alert database's Google Cloud resources: two buckets (alert packets may be purged after N
# days, schemas never), a writer and a reader service account, and the Workload Identity
# bindings that let the Kubernetes ServiceAccounts of the Helm charts act as them.

locals {
  packets_bucket = coalesce(var.packets_bucket_name, "${var.name_prefix}-${var.environment}-packets-${var.project_id}")
  schemas_bucket = coalesce(var.schemas_bucket_name, "${var.name_prefix}-${var.environment}-schemas-${var.project_id}")
  labels         = merge({ app = "alertdb", environment = var.environment }, var.labels)
  buckets = {
    packets = google_storage_bucket.packets.name
    schemas = google_storage_bucket.schemas.name
  }
}

resource "google_storage_bucket" "packets" {
  project                     = var.project_id
  name                        = local.packets_bucket
  location                    = var.location
  storage_class               = var.storage_class
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = local.labels

  # Lifecycle rules apply to every object of a bucket, which is why schemas live in their own.
  dynamic "lifecycle_rule" {
    for_each = var.packets_purge_after_days == null ? [] : [var.packets_purge_after_days]
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }
}

resource "google_storage_bucket" "schemas" {
  project                     = var.project_id
  name                        = local.schemas_bucket
  location                    = var.location
  storage_class               = var.storage_class
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = local.labels
}

resource "google_service_account" "writer" {
  project      = var.project_id
  account_id   = var.writer_account_id
  display_name = "Alert database writer (alertdb-ingester)"
}

resource "google_service_account" "reader" {
  project      = var.project_id
  account_id   = var.reader_account_id
  display_name = "Alert database reader (alertdb-server)"
}

resource "google_storage_bucket_iam_member" "writer" {
  for_each = local.buckets
  bucket   = each.value
  role     = "roles/storage.objectAdmin"
  member   = "serviceAccount:${google_service_account.writer.email}"
}

resource "google_storage_bucket_iam_member" "reader" {
  for_each = local.buckets
  bucket   = each.value
  role     = "roles/storage.objectViewer"
  member   = "serviceAccount:${google_service_account.reader.email}"
}

# Workload Identity: the Kubernetes ServiceAccount <namespace>/<name> may act as the Google one.
resource "google_service_account_iam_member" "writer_workload_identity" {
  service_account_id = google_service_account.writer.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.k8s_namespace}/${var.writer_k8s_service_account}]"
}

resource "google_service_account_iam_member" "reader_workload_identity" {
  service_account_id = google_service_account.reader.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.project_id}.svc.id.goog[${var.k8s_namespace}/${var.reader_k8s_service_account}]"
}
