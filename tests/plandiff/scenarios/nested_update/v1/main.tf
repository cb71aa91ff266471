resource "terraform_data" "a" {
  input = {
    name    = "alpha"
    count   = 3
    ratio   = 0.5
    enabled = true
    tags    = { env = "prod", team = "core", old = "x" }
    list    = ["a", "b", "c", "d"]
    nested  = { inner = { deep = [1, 2, 3], keep = "same" }, other = "o" }
    empty   = []
    emptym  = {}
    gone    = "bye"
    nothing = null
    set     = toset(["x", "y", "z"])
    objs    = [{ n = 1, s = "a" }, { n = 2, s = "b" }]
  }
}
