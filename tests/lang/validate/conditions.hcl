variable "n" {
  type    = number
  default = 1
}

resource "brick_data" "constant" {
  lifecycle {
    precondition {
      condition     = 1 == 2
      error_message = "Reads nothing, so checks nothing."
    }
    postcondition {
      condition     = true
      error_message = "Neither does this."
    }
  }
}

resource "brick_data" "checked" {
  input = var.n
  lifecycle {
    precondition {
      condition     = var.n > 0
      error_message = "n must be positive."
    }
    postcondition {
      condition     = self.output == var.n
      error_message = "The output repeats the input."
    }
  }
}

output "o" {
  value = brick_data.checked.output
  precondition {
    condition     = "yes" == "yes"
    error_message = "Constant."
  }
}
