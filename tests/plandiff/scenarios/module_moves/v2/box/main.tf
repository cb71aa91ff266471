variable "label" {
  type = string
}
resource "terraform_data" "item" {
  count = 2
  input = { label = var.label, index = count.index }
}
output "labels" {
  value = terraform_data.item[*].output.label
}
