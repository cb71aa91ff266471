variable "password" {
  type      = string
  sensitive = true
  default   = "hunter2"
}
resource "terraform_data" "secret" {
  input = var.password
}
resource "terraform_data" "nested" {
  input = {
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
  value     = terraform_data.nested.input
  sensitive = true
}
