variable "project_id" {
  description = "Google Cloud project of the integration environment."
  type        = string
}

variable "region" {
  description = "Region of the buckets."
  type        = string
  default     = "us-central1"
}

variable "k8s_namespace" {
  description = "Namespace of the Helm release."
  type        = string
  default     = "alert-stream-broker"
}
