# header comment
variable "x" {
type=object({a=string,b=optional(number,1)})
default={
a="x"
   bb = [1,2,3]
}
}

resource "brick_data" "n" {
  count=length(var.x)
  input = {
    name="node-${count.index}"
    list=[for i in range(3): i*2 if i>0]
    m = {for k,v in var.x: k=>v...}
    neg = -1
    idx = var.x.a[0].b[*].c
    cond = var.x!=null?1:2
  }
  /* block
     comment */
  lifecycle {
    ignore_changes=[input]  # trailing comment
    create_before_destroy = true
  }
  h = <<-EOT
      keep
    EOT
}
output "o" { value = var.x }
