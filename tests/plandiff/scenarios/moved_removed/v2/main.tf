resource "terraform_data" "new" {
  input = "o"
}
moved {
  from = terraform_data.old
  to   = terraform_data.new
}
resource "terraform_data" "renamed" {
  input = "m2"
}
moved {
  from = terraform_data.moved_changed
  to   = terraform_data.renamed
}
removed {
  from = terraform_data.forget
  lifecycle {
    destroy = false
  }
}
