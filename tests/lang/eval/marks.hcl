# Unknown ("known after apply") and sensitive values flow through every operation.
variable "password" {
  type      = string
  default   = "hunter2"
  sensitive = true
}

resource "brick_data" "node" {
  input = { size = 3 }
}

locals {
  id              = brick_data.node.id
  id_concat       = "node-${brick_data.node.id}"
  id_plus         = length(brick_data.node.id) + 1
  unknown_cond    = brick_data.node.id == "x" ? 1 : 2
  unknown_for     = [for c in brick_data.node.id : c]
  known_output    = brick_data.node.output.size * 2
  secret_upper    = "${var.password}!"
  secret_in_obj   = { user = "admin", pass = var.password }
  secret_len_cond = var.password == "" ? "empty" : "set"
  try_ok          = try(local.nothing.x, "fallback")
  nothing         = null
  can_ok          = can(local.nothing.x)
  can_unknown     = can(brick_data.node.id)
  type_of         = type({ a = [1, 2] })
}
