resource "terraform_data" "long" {
  input = join("", [for i in range(60) : "segment-${i}-"])
}
resource "terraform_data" "num" {
  input = 12345678901234567890
}
resource "terraform_data" "frac" {
  input = 1.25
}
resource "terraform_data" "nullish" {
  input = null
}
resource "terraform_data" "tonull" {
  input = "value"
}
resource "terraform_data" "bool" {
  input = true
}
