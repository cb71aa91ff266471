resource "terraform_data" "yaml" {
  input = <<-EOT
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: demo
      namespace: kube-system
    data:
      one: "1"
      two: "2"
      three: "3"
      four: "4"
      five: "five"
      six: "6"
      seven: "7"
      eight: "8"
  EOT
}
resource "terraform_data" "json" {
  input = jsonencode({ a = 2, b = [1, 2, 3], c = { d = "f" } })
}
resource "terraform_data" "nested" {
  input = { script = "#!/bin/sh\necho one\necho 2\necho three\n", plain = "x" }
}
