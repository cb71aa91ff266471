# Undeclared references with "did you mean", each/count outside their context,
# unknown resource types and arguments, cycles, invalid moved/removed/import.
variable "nodes" {
  type = list(string)
}

locals {
  a      = local.b
  b      = local.a
  typo   = var.node
  count  = count.index
  unk    = nosuchfn(1)
}

resource "brick_data" "x" {
  input   = brick_data.y.output
  inptu   = 1
  output  = "computed"
}

resource "brick_data" "y" {
  for_each = toset(var.nodes)
  input    = brick_data.x.output
}

resource "brick_dta" "z" {}

resource "brick_data" "both" {
  count    = 1
  for_each = {}
}

resource "brick_data" "dup" {}
resource "brick_data" "dup" {}

moved {
  from = brick_data.old
  to   = brick_data.old
}

moved {
  from = brick_data.x.output
  to   = brick_data.y
}

removed {
  from = brick_data.x
  lifecycle {
    destroy = false
  }
}

import {
  to = brick_data.nowhere
  id = "abc"
}

output "o" {
  value = brick_data.dupe.id
}
