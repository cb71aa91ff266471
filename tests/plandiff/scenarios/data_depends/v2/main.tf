resource "terraform_data" "gate" {
  input = "two"
}
data "terraform_remote_state" "after_gate" {
  backend    = "local"
  config     = { path = "other.tfstate" }
  depends_on = [terraform_data.gate]
}
resource "terraform_data" "use" {
  input = data.terraform_remote_state.after_gate.outputs.region
}
