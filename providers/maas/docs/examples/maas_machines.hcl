# Every Ready machine, e.g. to adopt them with for_each.
data "maas_machines" "ready" {
  status = "Ready"
}
