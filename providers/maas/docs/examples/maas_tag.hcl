resource "maas_tag" "garage" {
  name    = "garage"
  comment = "The old PCs of the garage cluster"
}
