resource "terraform_data" "c" {
  count = 3
  input = "c${count.index}"
}
resource "terraform_data" "e" {
  for_each = toset(["x", "y", "z"])
  input    = each.key
}
resource "terraform_data" "single" {
  input = "s"
}
