variable "project_id" {
  description = "Google Cloud project holding the buckets and service accounts (also the Workload Identity pool <project>.svc.id.goog)."
  type        = string
}

variable "environment" {
  description = "Short environment name used in resource names, e.g. int or prod."
  type        = string
}

variable "packets_bucket_name" {
  description = "Name of the packets bucket; null: <name_prefix>-<environment>-packets-<project_id>."
  type        = string
  default     = null
}

variable "schemas_bucket_name" {
  description = "Name of the schemas bucket; null: <name_prefix>-<environment>-schemas-<project_id>."
  type        = string
  default     = null
}

variable "name_prefix" {
  description = "Prefix of the bucket names; names are <prefix>-<environment>-{packets,schemas}-<project_id> for global uniqueness."
  type        = string
  default     = "rubin-alertdb"
}

variable "location" {
  description = "Location of the buckets."
  type        = string
  default     = "US-CENTRAL1"
}

variable "storage_class" {
  description = "Storage class of the buckets."
  type        = string
  default     = "STANDARD"
}

variable "packets_purge_after_days" {
  description = "Delete alert packets older than this many days (the integration environment uses 28). null keeps everything forever (production). Schemas are never purged."
  type        = number
  default     = null
  validation {
    condition     = var.packets_purge_after_days == null || try(var.packets_purge_after_days >= 1, false)
    error_message = "packets_purge_after_days must be null (keep forever) or at least 1."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy non-empty buckets (never in production)."
  type        = bool
  default     = false
}

variable "k8s_namespace" {
  description = "Kubernetes namespace of the alert database (the Helm release's namespace)."
  type        = string
  default     = "alert-stream-broker"
}

variable "writer_k8s_service_account" {
  description = "Kubernetes ServiceAccount of the ingester (Helm value alertdb-ingester.serviceAccount.name)."
  type        = string
  default     = "alertdb-writer"
}

variable "reader_k8s_service_account" {
  description = "Kubernetes ServiceAccount of the server (Helm value alertdb-server.serviceAccount.name)."
  type        = string
  default     = "alertdb-reader"
}

variable "writer_account_id" {
  description = "Account id of the Google service account the ingester acts as."
  type        = string
  default     = "alertdb-writer"
}

variable "reader_account_id" {
  description = "Account id of the Google service account the server acts as."
  type        = string
  default     = "alertdb-reader"
}

variable "labels" {
  description = "Labels added to the buckets."
  type        = map(string)
  default     = {}
}
