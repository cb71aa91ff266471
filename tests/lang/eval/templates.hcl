# Interpolation, directives with strip markers, heredocs.
variable "items" {
  default = ["a", "b", "c"]
}

locals {
  plain      = "hello"
  interp     = "x=${1 + 1}!"
  single     = "${var.items}"
  escaped    = "$${not} %%{not}"
  if_dir     = "%{if length(var.items) > 2}many%{else}few%{endif}"
  for_dir    = "%{for i in var.items}[${i}]%{endfor}"
  strip      = "a  ${"b"}  c ${~"d"~} e"
  heredoc    = <<EOT
line one
  line two
EOT
  indented   = <<-EOT
    alpha
      beta
    EOT
  heredoc_for = <<-EOT
    %{~ for i in var.items ~}
    item ${i}
    %{~ endfor ~}
    EOT
  null_interp = "x${null}"
  list_interp = "x${var.items}"
}
