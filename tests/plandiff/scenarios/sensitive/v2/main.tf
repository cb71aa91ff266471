variable "password" {
  type      = string
  sensitive = true
  default   = "hunter3"
}
resource "terraform_data" "secret" {
  input = var.password
}
resource "terraform_data" "nested" {
  input = {
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
  value     = terraform_data.nested.input
  sensitive = true
}
