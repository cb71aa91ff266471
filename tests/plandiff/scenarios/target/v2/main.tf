resource "terraform_data" "a" {
  input = "a2"
}
resource "terraform_data" "b" {
  input      = "b2"
  depends_on = [terraform_data.a]
}
resource "terraform_data" "c" {
  input = "c2"
}
