resource "terraform_data" "trig" {
  input            = "x"
  triggers_replace = { version = 2 }
}
resource "terraform_data" "cbd" {
  input            = "y2"
  triggers_replace = ["b"]
  lifecycle {
    create_before_destroy = true
  }
}
resource "terraform_data" "plain" {
  input = "p"
}
resource "terraform_data" "watched" {
  input = "w2"
}
resource "terraform_data" "follower" {
  input = "f"
  lifecycle {
    replace_triggered_by = [terraform_data.watched]
  }
}
