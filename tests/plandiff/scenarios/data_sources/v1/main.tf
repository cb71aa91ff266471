data "terraform_remote_state" "net" {
  backend = "local"
  config = {
    path = "other.tfstate"
  }
}
resource "terraform_data" "a" {
  input = data.terraform_remote_state.net.outputs.region
}
