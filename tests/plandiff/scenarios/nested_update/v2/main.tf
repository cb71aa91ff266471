resource "terraform_data" "a" {
  input = {
    name    = "beta"
    count   = 4
    ratio   = 0.75
    enabled = false
    tags    = { env = "dev", team = "core", new = "y" }
    list    = ["a", "c", "b", "e"]
    nested  = { inner = { deep = [1, 3], keep = "same" }, other = "o" }
    empty   = ["now"]
    emptym  = { k = "v" }
    gone    = null
    nothing = "something"
    set     = toset(["x", "w", "z"])
    objs    = [{ n = 1, s = "a" }, { n = 3, s = "c" }]
  }
}
