output "packets_bucket" {
  value = module.alertdb.packets_bucket
}

output "schemas_bucket" {
  value = module.alertdb.schemas_bucket
}

output "writer_service_account_email" {
  value = module.alertdb.writer_service_account_email
}

output "reader_service_account_email" {
  value = module.alertdb.reader_service_account_email
}
