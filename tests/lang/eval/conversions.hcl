# Conversion and unification rules: conditionals, collections, sets, typed variables.
variable "list" {
  type    = list(number)
  default = ["1", 2, "3.5"]
}

variable "set" {
  type    = set(string)
  default = ["b", "a", "b", "B", "10", "9"]
}

variable "flags" {
  type    = map(bool)
  default = { on = "true", off = false }
}

variable "obj" {
  type = object({
    name  = string
    attrs = optional(map(string), {})
    nested = optional(object({
      level = optional(number, 1)
    }), {})
  })
  default = { name = "x", extra = "dropped" }
}

locals {
  cond_str_num   = true ? "a" : 1
  cond_null      = false ? "a" : null
  cond_obj_map   = true ? { a = "x" } : tomap({ b = "y" })
  cond_mismatch  = true ? { a = 1 } : [1]
  list           = var.list
  set            = var.set
  set_splat      = var.set[*]
  flags          = var.flags
  obj            = var.obj
  number_string  = "${1.50}"
  bool_string    = "${true}"
  tolist_mixed   = tolist(["a", 1, true])
  concat_unknown = concat([1], [2])
}
