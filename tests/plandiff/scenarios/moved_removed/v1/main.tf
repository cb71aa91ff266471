resource "terraform_data" "old" {
  input = "o"
}
resource "terraform_data" "moved_changed" {
  input = "m1"
}
resource "terraform_data" "forget" {
  input = "f"
}
resource "terraform_data" "gone" {
  input = "g"
}
