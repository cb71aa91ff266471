locals {
  a = 1
  # comment between
  bbb = 2
  list = [
  "a",
      "b",
  ]
  nested = { x = { y = [1,
    2] } }
  fn = merge(var.a,
    { b = 1 })
  tpl = "${var.a}-%{ if true }x%{ endif }"
  splat = var.items.*.id
  math = (1+2)*-3
  not = !var.ok
}


data "brick_data" "x" {
    dynamic "volume" {
  for_each = var.v
      content {
        size=volume.value
      }
    }
}
