# Set order, as Terraform's: known elements sorted (strings by bytes, numbers numerically,
# false before true), unknown elements ("known after apply") last and never merged.
resource "brick_data" "node" {
  input = "n"
}

locals {
  strings        = toset(["b", brick_data.node.id, "a", "B"])
  numbers        = toset([10, 9, -1, 1 / 0])
  bools          = toset([true, false, true])
  two_unknowns   = toset([brick_data.node.id, "a", brick_data.node.id])
  union          = setunion(["c"], [brick_data.node.id], ["a"])
  nested         = toset([["b"], ["a", "z"], ["a"]])
}

output "ordered" {
  value = [for s in toset(["y", "x"]) : s]
}
