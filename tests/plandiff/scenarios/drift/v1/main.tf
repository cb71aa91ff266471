resource "terraform_data" "a" {
  input = { name = "inside", size = 2 }
}
locals {
  x = terraform_data.a.output.name
}
resource "terraform_data" "b" {
  input = local.x
}
output "from_local" {
  value = local.x
}
