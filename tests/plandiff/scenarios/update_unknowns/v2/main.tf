resource "terraform_data" "base" {
  input = "b"
}
resource "terraform_data" "user" {
  input = {
    direct = terraform_data.base.output
    list   = ["x", terraform_data.base.output, "z"]
    nested = { deep = { value = terraform_data.base.output, fixed = 1 } }
    keep   = "k"
  }
}
output "combined" {
  value = "${terraform_data.base.output}-${terraform_data.user.id}"
}
output "nested" {
  value = terraform_data.user.output.nested
}
