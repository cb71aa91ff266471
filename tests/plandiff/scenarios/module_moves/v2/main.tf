module "new" {
  source = "./box"
  label  = "moving"
}
moved {
  from = module.old
  to   = module.new
}
module "keep" {
  source   = "./box"
  for_each = toset(["a", "b"])
  label    = "${each.key}!"
}
output "all" {
  value = { for k, m in module.keep : k => m.labels }
}
