variable "password" {
  type      = string
  sensitive = true
}
resource "terraform_data" "secret" {
  triggers_replace = var.password
}
resource "terraform_data" "nested" {
  input = { user = "admin", plain = "visible" }
  triggers_replace = {
    user = "admin"
    pass = sensitive("s3cret")
    list = ["a", sensitive("b"), "c"]
  }
}
output "pass" {
  value     = var.password
  sensitive = true
}
output "nested" {
  value     = terraform_data.nested.triggers_replace
  sensitive = true
}
output "user" {
  value = terraform_data.nested.output.user
}
