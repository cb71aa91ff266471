resource "terraform_data" "long" {
  input = join("", [for i in range(61) : "segment-${i}-"])
}
resource "terraform_data" "num" {
  input = 12345678901234567891
}
resource "terraform_data" "frac" {
  input = -0.001
}
resource "terraform_data" "nullish" {
  input = "now set"
}
resource "terraform_data" "tonull" {
  input = null
}
resource "terraform_data" "bool" {
  input = "true"
}
