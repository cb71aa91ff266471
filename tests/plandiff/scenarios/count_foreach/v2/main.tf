resource "terraform_data" "c" {
  count = 2
  input = "c${count.index}"
}
resource "terraform_data" "e" {
  for_each = toset(["x", "z", "w"])
  input    = each.key
}
resource "terraform_data" "single" {
  count = 1
  input = "s"
}
