resource "terraform_data" "a" {
  input = "a"
}
resource "terraform_data" "b" {
  input      = { k = "v" }
  depends_on = [terraform_data.a]
}
