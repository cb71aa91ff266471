variable "password" {
  type      = string
  sensitive = true
}
resource "terraform_data" "secret" {
  triggers_replace = var.password
}
resource "terraform_data" "nested" {
  input = { user = "root", plain = "visible" }
  triggers_replace = {
    user = "root"
    pass = sensitive("s3cret2")
    list = ["a", sensitive("b"), "d"]
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
