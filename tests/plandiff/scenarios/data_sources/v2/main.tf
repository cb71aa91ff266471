data "terraform_remote_state" "net" {
  backend = "local"
  config = {
    path = "other.tfstate"
  }
}
resource "terraform_data" "a" {
  input = data.terraform_remote_state.net.outputs.nodes
}
resource "terraform_data" "later" {
  input = "new"
}
data "terraform_remote_state" "deferred" {
  backend = "local"
  config = {
    path = terraform_data.later.output == "new" ? "other.tfstate" : "x"
  }
}
output "deferred_region" {
  value = data.terraform_remote_state.deferred.outputs.region
}
