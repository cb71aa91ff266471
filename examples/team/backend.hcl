# The garage's state, kept for the whole team in Ceph's own S3 gateway (RGW), encrypted.
#
#   export AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=…      # an RGW user's key pair
#   export BRICK_STATE_PASSPHRASE='…at least 16 characters…' # or BRICK_STATE_KEY / _KEY_FILE
#   brick init          # proves RGW refuses a second If-None-Match create, records the backend
#   brick plan && brick apply
#
# Moving an existing local state in: `brick init -migrate-state`. See the README's
# "State for a team" section.
brick {
  backend "s3" {
    bucket         = "brick-state"
    key            = "garage/brick.state.json"
    region         = "us-east-1"
    endpoints      = { s3 = "http://127.0.0.1:7480" }
    use_path_style = true
    use_lockfile   = true
  }
}
