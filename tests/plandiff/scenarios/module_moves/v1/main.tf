module "old" {
  source = "./box"
  label  = "moving"
}
module "keep" {
  source   = "./box"
  for_each = toset(["a", "b"])
  label    = each.key
}
module "gone" {
  source = "./box"
  label  = "gone"
}
output "all" {
  value = { for k, m in module.keep : k => m.labels }
}
