resource "terraform_data" "yaml" {
  input = <<-EOT
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: demo
      namespace: default
    data:
      one: "1"
      two: "2"
      three: "3"
      four: "4"
      five: "5"
      six: "6"
      seven: "7"
  EOT
}
resource "terraform_data" "json" {
  input = jsonencode({ a = 1, b = [1, 2, 3], c = { d = "e" } })
}
resource "terraform_data" "nested" {
  input = { script = "#!/bin/sh\necho one\necho two\necho three\n", plain = "x" }
}
