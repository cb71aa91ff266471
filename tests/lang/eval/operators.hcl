# Arithmetic, comparison, logic and automatic string/number/bool conversion.
locals {
  add        = 1 + 2
  sub        = 10 - 2.5
  mul        = 3 * 4
  div        = 7 / 2
  mod        = -7 % 3
  neg        = -(3)
  not        = !true
  precedence = 1 + 2 * 3 - 4 / 2
  big        = 9007199254740993 + 1
  huge       = 123456789012345678901234567890 * 10
  huge_str   = "123456789012345678901234567890 stays text"
  string_num = "5" + 1
  lt         = 1 < 2
  ge         = "10" >= 9
  and        = true && false
  or         = false || true
  eq_num     = 1 == 1.0
  eq_str     = "a" != "b"
  eq_null    = null == null
  eq_tuple   = [1, "a"] == [1, "a"]
  eq_obj     = { a = 1 } == { a = 1 }
  div_zero   = 1 / 0
  bad_operand = "x" * 2
}
