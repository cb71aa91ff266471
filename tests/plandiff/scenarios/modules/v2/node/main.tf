variable "name" {
  type = string
}
variable "size" {
  type    = number
  default = 1
}
resource "terraform_data" "disk" {
  count = var.size
  input = "${var.name}-disk-${count.index}"
}
output "disks" {
  value = terraform_data.disk[*].output
}
