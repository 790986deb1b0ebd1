# The integration environment's alert database (like the design note's idfint): alert packets
# purged after 28 days, schemas kept. Apply, then copy the outputs into
# helm/alert-distribution/values-idfint.yaml (see terraform/README.md).

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

module "alertdb" {
  source = "../../modules/alertdb"

  project_id               = var.project_id
  environment              = "int"
  location                 = upper(var.region)
  packets_purge_after_days = 28
  k8s_namespace            = var.k8s_namespace
}
