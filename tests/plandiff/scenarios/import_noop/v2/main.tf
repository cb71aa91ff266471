resource "terraform_data" "a" {
  input = "a"
}
resource "terraform_data" "b" {
  input      = { k = "v" }
  depends_on = [terraform_data.a]
}
import {
  to = terraform_data.imported
  id = "0a1b2c3d-0000-4000-8000-000000000001"
}
resource "terraform_data" "imported" {
}
