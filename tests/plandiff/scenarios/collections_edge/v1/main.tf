resource "terraform_data" "c" {
  input = {
    reordered   = ["a", "b", "c"]
    "odd key"   = { "with space" = 1, "dash-key" = 2, "1digit" = 3 }
    objs        = [{ n = 1 }, { n = 2 }, { n = 3 }]
    long_list   = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7", "k8", "k9"]
    json_ws     = "{\"a\":1,\"b\":[1,2]}"
    to_json     = "plain"
    from_json   = "[1,2,3]"
    type_change = "1"
    obj_to_list = { a = 1 }
    empty_str   = ""
    unicode     = "héllo ✓"
    quotes      = "say \"hi\"\tand\\go"
  }
}
output "list" {
  value = ["a", "b"]
}
