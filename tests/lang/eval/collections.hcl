# Tuples, objects, index and attribute access, splats and for expressions.
variable "nodes" {
  default = [
    { name = "kvm1", ram = 8 },
    { name = "kvm2", ram = 16 },
    { name = "kvm3", ram = 16 },
  ]
}

variable "tags" {
  type    = map(string)
  default = { env = "lab", owner = "ops" }
}

locals {
  first        = var.nodes[0].name
  legacy_index = var.nodes.1.name
  names        = var.nodes[*].name
  legacy_splat = var.nodes.*.ram
  splat_single = local.object[*]
  splat_null   = null[*]
  object       = { a = 1, "b-c" = 2, (local.key) = 3 }
  key          = "computed"
  tag          = var.tags["env"]
  for_tuple    = [for n in var.nodes : upper(n.name) if n.ram > 8]
  for_object   = { for n in var.nodes : n.name => n.ram }
  for_group    = { for n in var.nodes : n.ram => n.name... }
  for_index    = [for i, n in var.nodes : "${i}:${n.name}"]
  for_map      = [for k, v in var.tags : "${k}=${v}"]
  nested       = [[1, 2], [3]][0][1]
  missing_key  = var.tags["nope"]
  out_of_range = var.nodes[5]
  null_attr    = local.nothing.x
  nothing      = null
  dup_for      = { for n in var.nodes : n.ram => n.name }
}
