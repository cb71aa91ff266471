resource "terraform_data" "base" {
  input = "base"
}
resource "terraform_data" "user" {
  input = {
    id    = terraform_data.base.id
    list  = [terraform_data.base.id, "known"]
    map   = { a = terraform_data.base.output, b = "b" }
    deep  = { x = [{ y = terraform_data.base.id }] }
  }
  triggers_replace = [terraform_data.base.id]
}
output "user_output" {
  value = terraform_data.user.output
}
output "plain" {
  value = "hello"
}
