# The integration environment's alert database (like the design note's idfint): alert packets
# purged after 28 days, schemas kept. The bucket names and service accounts are read from the
# environment's Helm values (helm/alert-distribution/values-idfint.yaml), so the two cannot name
# different buckets; scripts/deploy/check_buckets.py checks the wiring (see terraform/README.md).

terraform {
  required_version = ">= 1.5"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 5.0, < 8.0"
    }
  }
  # State in a GCS bucket of the project, e.g.:
  # backend "gcs" {
  #   bucket = "<state bucket>"
  #   prefix = "alertdb/idfint"
  # }
}

provider "google" {
  project = var.project_id
  region  = var.region
}

locals {
  # One source of truth: what the charts are told to use is what Terraform creates.
  helm_values = yamldecode(file("${path.module}/../../../helm/alert-distribution/values-idfint.yaml"))
  ingester    = local.helm_values["alertdb-ingester"]
  server      = local.helm_values["alertdb-server"]
}

check "server_reads_the_ingester_buckets" {
  assert {
    condition     = local.server.alertsUrl == local.ingester.alertsUrl && local.server.schemasUrl == local.ingester.schemasUrl
    error_message = "values-idfint.yaml: alertdb-server must read the buckets alertdb-ingester writes (alertsUrl, schemasUrl)."
  }
}

module "alertdb" {
  source = "../../modules/alertdb"

  packets_bucket_name        = trimprefix(local.ingester.alertsUrl, "gs://")
  schemas_bucket_name        = trimprefix(local.ingester.schemasUrl, "gs://")
  writer_account_id          = split("@", local.ingester.serviceAccount.gcpServiceAccount)[0]
  reader_account_id          = split("@", local.server.serviceAccount.gcpServiceAccount)[0]
  writer_k8s_service_account = local.ingester.serviceAccount.name
  reader_k8s_service_account = local.server.serviceAccount.name

  project_id               = var.project_id
  environment              = "int"
  location                 = upper(var.region)
  packets_purge_after_days = 28
  k8s_namespace            = var.k8s_namespace
}
