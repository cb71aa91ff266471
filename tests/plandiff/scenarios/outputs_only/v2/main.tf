resource "terraform_data" "a" {
  input = "a"
}
output "same" {
  value = terraform_data.a.output
}
output "changed" {
  value = "two"
}
output "added" {
  value = { k = "v" }
}
output "obj" {
  value = { a = 1, b = "three", c = [1, 2, 3] }
}
output "secret" {
  value     = "y"
  sensitive = true
}
