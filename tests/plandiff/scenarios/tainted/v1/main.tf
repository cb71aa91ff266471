resource "terraform_data" "a" {
  input = { name = "a", size = 1 }
}
resource "terraform_data" "cbd" {
  input = "c"
  lifecycle {
    create_before_destroy = true
  }
}
resource "terraform_data" "dependent" {
  input = terraform_data.a.output.name
}
