variable "size" {
  default = 5
}
resource "terraform_data" "a" {
  input = var.size
  lifecycle {
    precondition {
      condition     = var.size < 3
      error_message = "The size must be below 3."
    }
  }
}
