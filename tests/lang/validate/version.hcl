# A configuration that needs a newer brick.
brick {
  required_version = ">= 99.0"
}
