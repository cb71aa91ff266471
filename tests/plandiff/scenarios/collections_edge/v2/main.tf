resource "terraform_data" "c" {
  input = {
    reordered   = ["c", "a", "b"]
    "odd key"   = { "with space" = 1, "dash-key" = 20, "1digit" = 3 }
    objs        = [{ n = 1 }, { n = 5 }, { n = 2 }, { n = 3 }]
    long_list   = ["k0", "k1", "k2", "k3", "K4", "k5", "k6", "k7", "k8", "k9", "k10"]
    json_ws     = "{\"a\": 1, \"b\": [1, 2]}"
    to_json     = "{\"now\":\"json\"}"
    from_json   = "not json"
    type_change = 1
    obj_to_list = [1]
    empty_str   = "x"
    unicode     = "héllo ✗"
    quotes      = "say \"bye\"\tand\\go"
  }
}
output "list" {
  value = ["a", "c", "b"]
}
