resource "terraform_data" "a" {
  input = "a1"
}
resource "terraform_data" "b" {
  input      = "b1"
  depends_on = [terraform_data.a]
}
resource "terraform_data" "c" {
  input = "c1"
}
