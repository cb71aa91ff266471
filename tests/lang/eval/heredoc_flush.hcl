# Terraform's flush heredoc rule (`<<-`) with template directives: the smallest indentation of
# the lines' first tokens (a directive or interpolation there counts zero) is removed from each
# line, inside `%{ for }` and `%{ if }` bodies too, after the strip markers (which in a heredoc
# trim only the neighbouring line). Each `terraform_*` output holds the value Terraform 1.11.4
# gave for the local (`terraform console`, `jsonencode`), and must be true.
variable "nodes" {
  default = ["kvm4", "kvm5"]
}

locals {
  for_stripped_after = <<-EOT
    %{ for n in var.nodes ~}
    node ${n}
    %{ endfor ~}
  EOT
  for_unstripped = <<-EOT
    %{ for n in var.nodes }
    node ${n}
    %{ endfor }
  EOT
  for_stripped_both = <<-EOT
    head
    %{~ for n in var.nodes ~}
      node ${n}
    %{~ endfor ~}
  EOT
  for_deeper_body = <<-EOT
    hosts:
    %{ for n in var.nodes ~}
      - ${n}
    %{ endfor ~}
    end
  EOT
  if_else = <<-EOT
      %{ if length(var.nodes) > 1 ~}
      many
      %{ else ~}
      few
      %{ endif ~}
    done
  EOT
  interp_first = <<-EOT
    ${var.nodes[0]}
      indented
  EOT
  blank_lines = <<-EOT

      a

      %{ for n in var.nodes ~}
        ${n}
      %{ endfor ~}
  EOT
  strip_one_line_only = <<-EOT
    %{ for n in var.nodes ~}

    ${n}
    %{ endfor ~}
  EOT
  escapes = <<-EOT
    $${literal} %%{ also }
      ${var.nodes[1]}
  EOT
}

output "terraform_for_stripped_after" {
  value = local.for_stripped_after == "    node kvm4\n    node kvm5\n"
}

output "terraform_for_unstripped" {
  value = local.for_unstripped == "\nnode kvm4\n\nnode kvm5\n\n"
}

output "terraform_for_stripped_both" {
  value = local.for_stripped_both == "    head\n      node kvm4\n      node kvm5\n"
}

output "terraform_for_deeper_body" {
  value = local.for_deeper_body == "hosts:\n      - kvm4\n      - kvm5\n    end\n"
}

output "terraform_if_else" {
  value = local.if_else == "      many\n    done\n"
}

output "terraform_interp_first" {
  value = local.interp_first == "kvm4\n  indented\n"
}

output "terraform_blank_lines" {
  value = local.blank_lines == "\na\n\n        kvm4\n        kvm5\n"
}

output "terraform_strip_one_line_only" {
  value = local.strip_one_line_only == "\nkvm4\n\nkvm5\n"
}

output "terraform_escapes" {
  value = local.escapes == "$${literal} %%{ also }\n  kvm5\n"
}
