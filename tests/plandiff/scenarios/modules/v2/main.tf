module "node" {
  source   = "./node"
  for_each = { a = 2, c = 1 }
  name     = each.key
  size     = each.value
}
module "single" {
  source = "./node"
  count  = 0
  name   = "single"
}
output "disks" {
  value = { for k, m in module.node : k => m.disks }
}
