# One cluster node: its identity and the cloud-init it joins the cluster with.

variable "hostname" {
  type = string
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*$", var.hostname))
    error_message = "A hostname is lower-case letters, digits and dashes."
  }
}

variable "role" {
  type    = string
  default = "worker"
}

variable "domain" {
  type = string
}

variable "token" {
  description = "Changing the cluster token re-joins every node."
  type        = string
}

variable "labels" {
  type = object({
    zone = optional(string, "garage")
    rack = optional(number, 1)
  })
  default = {}
}

locals {
  fqdn = "${var.hostname}.${var.domain}"
}

resource "brick_data" "identity" {
  input = {
    fqdn   = local.fqdn
    role   = var.role
    labels = var.labels
  }
}

resource "brick_data" "join" {
  input            = "join ${local.fqdn} as ${var.role}"
  triggers_replace = var.token
}

output "fqdn" {
  value = brick_data.identity.output.fqdn
}

output "role" {
  value = var.role
}

output "join_id" {
  value = brick_data.join.id
}
