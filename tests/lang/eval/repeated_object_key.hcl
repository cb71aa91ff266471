# Terraform accepts a repeated key in an object constructor (the last value wins); so does
# brick, with a warning for each repetition.
locals {
  sizes  = { small = 1, large = 8, small = 2 }
  quoted = { "a b" = 1, "a b" = 2 }
  nested = { outer = { x = 1, x = 2 }, outer = { y = 3 } }
}

output "sizes" {
  value = local.sizes
}
