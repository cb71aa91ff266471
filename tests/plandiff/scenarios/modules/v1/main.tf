module "node" {
  source   = "./node"
  for_each = { a = 1, b = 2 }
  name     = each.key
  size     = each.value
}
module "single" {
  source = "./node"
  count  = 1
  name   = "single"
}
output "disks" {
  value = { for k, m in module.node : k => m.disks }
}
