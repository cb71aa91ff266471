# hcl-edit refuses a repeated attribute in one body while parsing.
locals {
  x = 1
  x = 2
}
