resource "terraform_data" "a" {
  input = "a"
}
output "same" {
  value = terraform_data.a.output
}
output "changed" {
  value = "one"
}
output "removed" {
  value = [1, 2]
}
output "obj" {
  value = { a = 1, b = "two", c = [1, 2] }
}
output "secret" {
  value     = "x"
  sensitive = true
}
