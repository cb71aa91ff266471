# Loader diagnostics: unknown blocks, labels, duplicates, type constraints, meta-arguments.
resorce "brick_data" "x" {}

variable "a" {
  type = lsit(string)
}

variable "a" {}

variable "b" {
  type    = object({ name = string, size = optional(number, "big") })
  typo    = 1
}

variable "count" {}

locals {
  x = 1
}

locals {
  x = 2
}

output "no_value" {}

resource "brick_data" {}

resource "brick_data" "m" {
  provider = "brick"
  lifecycle {
    prevent_destroy = var.yes
    ignore_changes  = [for x in y : x]
  }
  lifecycle {}
}

module "remote" {
  source = "git::https://example.invalid/x.git"
}

module "missing" {
  source = "./does-not-exist"
}

brick {
  required_version = ">= 1.0"
}

top_level = 1
