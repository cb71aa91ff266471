// Command tfjson-check reads one of brick's JSON documents with HashiCorp's terraform-json
// library, exactly as tools written for Terraform do, and reports what the library saw.
//
// Usage:
//
//	tfjson-check plan FILE [--secret S]...   # brick plan --json / brick show --json PLANFILE
//	tfjson-check state FILE                  # brick show --json
//	tfjson-check outputs FILE                # brick output --json
//
// The document is unmarshalled into tfjson.Plan / tfjson.State / map of tfjson.StateOutput
// (which validates format_version against the library's accepted range) and Validate() is
// called. The parsed value is then marshalled again and compared with the raw document in the
// fields that matter to consumers, so anything brick printed that the library does not read
// shows up as lost. Finally the document is checked for the invariants Terraform's own output
// keeps (valid action lists, masks shaped like their values, every change in planned values,
// and so on), and a plan is run through terraform-json's sanitize package, which must redact
// every --secret.
//
// Output is one fact per line, for a test to assert on:
//
//	ok plan format=1.2 ...
//	change ADDRESS ACTIONS [reason=R] [previous=P] [replace_paths=...] [importing=ID]
//	drift ADDRESS ACTIONS
//	deferred ADDRESS ACTIONS reason=R   (deferred_changes)
//	output NAME ACTIONS [sensitive]
//	count ACTION N
//	relevant RESOURCE [STEP,...]   (relevant_attributes, steps as JSON)
//	timestamp rfc3339              (the plan's timestamp parses as RFC 3339)
//	resource ADDRESS ...           (state)
//	defect KIND: DETAIL            (something a Terraform consumer would trip over)
//
// Exit status: 0 when the library accepted the document and no defect was found, 1 when the
// library rejected it, 3 when it was accepted but defects were found, 2 on bad usage.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-json/sanitize"
)

var defects []string

func defect(kind, format string, args ...interface{}) {
	defects = append(defects, fmt.Sprintf("defect %s: %s", kind, fmt.Sprintf(format, args...)))
}

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: tfjson-check plan|state|outputs FILE [--secret S]...")
		os.Exit(2)
	}
	kind, file := os.Args[1], os.Args[2]
	var secrets []string
	for i := 3; i < len(os.Args); i++ {
		if os.Args[i] == "--secret" && i+1 < len(os.Args) {
			secrets = append(secrets, os.Args[i+1])
			i++
		} else {
			fmt.Fprintln(os.Stderr, "unexpected argument", os.Args[i])
			os.Exit(2)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var raw interface{}
	if err := decode(data, &raw); err != nil {
		reject("the document is not JSON: %v", err)
	}
	switch kind {
	case "plan":
		checkPlan(data, raw, secrets)
	case "state":
		checkState(data, raw)
	case "outputs":
		checkOutputs(data, raw)
	default:
		fmt.Fprintln(os.Stderr, "unknown kind", kind)
		os.Exit(2)
	}
	sort.Strings(defects) // maps are walked in random order; the report must not be
	for _, d := range defects {
		fmt.Println(d)
	}
	if len(defects) > 0 {
		os.Exit(3)
	}
}

func reject(format string, args ...interface{}) {
	fmt.Printf("rejected %s\n", fmt.Sprintf(format, args...))
	os.Exit(1)
}

func decode(data []byte, v interface{}) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}

// roundTrip marshals what the library parsed and decodes it generically again.
func roundTrip(v interface{}) interface{} {
	b, err := json.Marshal(v)
	if err != nil {
		reject("terraform-json cannot marshal what it parsed: %v", err)
	}
	var out interface{}
	if err := decode(b, &out); err != nil {
		reject("terraform-json marshalled invalid JSON: %v", err)
	}
	return out
}

// ---------------------------------------------------------------------------------------------
// Plans

func checkPlan(data []byte, raw interface{}, secrets []string) {
	var plan tfjson.Plan
	plan.UseJSONNumber(true)
	if err := json.Unmarshal(data, &plan); err != nil {
		reject("tfjson.Plan unmarshal: %v", err)
	}
	if err := plan.Validate(); err != nil {
		reject("tfjson.Plan.Validate: %v", err)
	}
	top := raw.(map[string]interface{})
	rt := roundTrip(&plan).(map[string]interface{})
	for _, key := range []string{
		"format_version", "variables", "planned_values", "resource_drift", "resource_changes",
		"deferred_changes", "complete", "output_changes", "prior_state", "configuration",
		"relevant_attributes", "timestamp",
	} {
		compareLost(key, top[key], rt[key])
	}
	// Terraform leaves resource_changes and output_changes out when there are none.
	for _, key := range []string{"format_version", "planned_values", "configuration"} {
		if _, ok := top[key]; !ok {
			defect("missing", "the plan has no %q", key)
		}
	}

	counts := map[string]int{}
	addresses := map[string]*tfjson.ResourceChange{}
	for i, rc := range plan.ResourceChanges {
		where := fmt.Sprintf("resource_changes[%d]", i)
		if rc == nil || rc.Change == nil {
			defect("missing", "%s has no change", where)
			continue
		}
		name := actionName(rc.Change.Actions)
		counts[name]++
		line := fmt.Sprintf("change %s %s", rc.Address, name)
		if rc.ActionReason != "" {
			line += " reason=" + string(rc.ActionReason)
		}
		if rc.PreviousAddress != "" {
			line += " previous=" + rc.PreviousAddress
		}
		if len(rc.Change.ReplacePaths) > 0 {
			b, _ := json.Marshal(rc.Change.ReplacePaths)
			line += " replace_paths=" + string(b)
		}
		if rc.Change.Importing != nil {
			line += " importing=" + rc.Change.Importing.ID
		}
		if len(unknownPaths(rc.Change.AfterUnknown, "")) > 0 {
			line += " unknown=" + strings.Join(unknownPaths(rc.Change.AfterUnknown, ""), ",")
		}
		if s := truePaths(rc.Change.AfterSensitive, ""); len(s) > 0 {
			line += " sensitive=" + strings.Join(s, ",")
		}
		fmt.Println(line)
		if _, dup := addresses[rc.Address]; dup {
			defect("duplicate", "%s is listed twice in resource_changes", rc.Address)
		}
		addresses[rc.Address] = rc
		checkResourceChange(where, rc, false)
	}
	for i, rc := range plan.ResourceDrift {
		where := fmt.Sprintf("resource_drift[%d]", i)
		if rc == nil || rc.Change == nil {
			defect("missing", "%s has no change", where)
			continue
		}
		fmt.Printf("drift %s %s\n", rc.Address, actionName(rc.Change.Actions))
		checkResourceChange(where, rc, true)
	}
	// Terraform 1.10+: changes left for a later run, each with its reason and its change as
	// resource_changes carries one; an instance is either planned or deferred, not both.
	for i, dc := range plan.DeferredChanges {
		where := fmt.Sprintf("deferred_changes[%d]", i)
		if dc == nil || dc.ResourceChange == nil || dc.ResourceChange.Change == nil {
			defect("missing", "%s has no resource_change", where)
			continue
		}
		rc := dc.ResourceChange
		switch dc.Reason {
		case "unknown", "instance_count_unknown", "resource_config_unknown",
			"provider_config_unknown", "absent_prereq", "deferred_prereq":
		default:
			defect("deferred", "%s has the reason %q, which Terraform does not define", where, dc.Reason)
		}
		fmt.Printf("deferred %s %s reason=%s\n", rc.Address, actionName(rc.Change.Actions), dc.Reason)
		if _, planned := addresses[rc.Address]; planned {
			defect("deferred", "%s is both in resource_changes and deferred", rc.Address)
		}
		checkResourceChange(where+".resource_change", rc, false)
	}
	if len(plan.DeferredChanges) > 0 && plan.Complete != nil && *plan.Complete {
		defect("deferred", "a plan with deferred changes says it is complete")
	}
	outNames := make([]string, 0, len(plan.OutputChanges))
	for k := range plan.OutputChanges {
		outNames = append(outNames, k)
	}
	sort.Strings(outNames)
	for _, k := range outNames {
		c := plan.OutputChanges[k]
		if c == nil {
			defect("missing", "output_changes[%q] is null", k)
			continue
		}
		sens := c.AfterSensitive == true || c.BeforeSensitive == true
		line := fmt.Sprintf("output %s %s", k, actionName(c.Actions))
		if sens {
			line += " sensitive"
		}
		if c.AfterUnknown == true {
			line += " unknown"
		}
		fmt.Println(line)
		checkChangeValues(fmt.Sprintf("output_changes[%q]", k), c)
		if pv := plannedOutput(&plan, k); pv == nil && !c.Actions.Delete() {
			defect("planned_values", "output %q changes but is not in planned_values.outputs", k)
		} else if pv != nil && pv.Sensitive != sens {
			defect("sensitive", "planned_values.outputs[%q].sensitive is %v but its output_changes entry says %v", k, pv.Sensitive, sens)
		}
	}

	// planned_values lists every resource instance that exists after apply.
	planned := map[string]*tfjson.StateResource{}
	if plan.PlannedValues == nil || plan.PlannedValues.RootModule == nil {
		defect("planned_values", "planned_values.root_module is missing")
	} else {
		walkModule(plan.PlannedValues.RootModule, "", func(r *tfjson.StateResource) { planned[r.Address] = r }, "planned_values")
	}
	for addr, rc := range addresses {
		gone := rc.Change.Actions.Delete() || rc.Change.Actions.Forget()
		pr, ok := planned[addr]
		// Terraform 1.15 lists a forgotten object in planned_values, with no values.
		if rc.Change.Actions.Forget() {
			continue
		}
		if gone && ok {
			defect("planned_values", "%s is deleted but still in planned_values", addr)
		}
		if !gone && !ok {
			defect("planned_values", "%s (%s) is missing from planned_values", addr, actionName(rc.Change.Actions))
		}
		if ok && pr != nil && !gone {
			sv := rawMessageValue(pr.SensitiveValues)
			checkMaskShape("planned_values "+addr+" sensitive_values", pr.AttributeValues, sv, rc.Change.AfterUnknown)
			inPlanned := strings.Join(truePaths(sv, ""), ",")
			inChange := strings.Join(truePaths(rc.Change.AfterSensitive, ""), ",")
			if inPlanned != inChange {
				defect("after_sensitive", "%s: after_sensitive marks [%s] but planned_values sensitive_values marks [%s]", addr, inChange, inPlanned)
			}
		}
	}
	for addr := range planned {
		if _, ok := addresses[addr]; !ok {
			defect("planned_values", "%s is in planned_values but has no resource_changes entry", addr)
		}
	}

	// prior_state holds every object the changes start from.
	prior := map[string]*tfjson.StateResource{}
	if plan.PriorState != nil {
		if err := plan.PriorState.Validate(); err != nil {
			defect("prior_state", "prior_state does not validate: %v", err)
		}
		if plan.PriorState.Values != nil && plan.PriorState.Values.RootModule != nil {
			walkModule(plan.PriorState.Values.RootModule, "", func(r *tfjson.StateResource) { prior[r.Address] = r }, "prior_state")
		}
	}
	for addr, rc := range addresses {
		if rc.Mode != tfjson.ManagedResourceMode || rc.Change.Before == nil || rc.Change.Importing != nil {
			continue
		}
		key := addr
		if rc.PreviousAddress != "" {
			if _, ok := prior[addr]; !ok {
				key = rc.PreviousAddress
			}
		}
		pr, ok := prior[key]
		if !ok {
			defect("prior_state", "%s has a before value but is not in prior_state", addr)
			continue
		}
		inState := strings.Join(truePaths(rawMessageValue(pr.SensitiveValues), ""), ",")
		inChange := strings.Join(truePaths(rc.Change.BeforeSensitive, ""), ",")
		if inState != inChange {
			defect("before_sensitive", "%s: before_sensitive marks [%s] but prior_state sensitive_values marks [%s]; consumers redacting by before_sensitive show the rest", addr, inChange, inState)
		}
	}

	// configuration names every resource that still has configuration.
	configured := map[string]bool{}
	if plan.Config == nil || plan.Config.RootModule == nil {
		defect("configuration", "configuration.root_module is missing")
	} else {
		for _, r := range plan.Config.RootModule.Resources {
			configured[r.Address] = true
			exprs := make([]string, 0, len(r.Expressions))
			for k := range r.Expressions {
				exprs = append(exprs, k)
			}
			sort.Strings(exprs)
			line := fmt.Sprintf("config %s expressions=%s", r.Address, strings.Join(exprs, ","))
			if r.CountExpression != nil {
				line += " count"
			}
			if r.ForEachExpression != nil {
				line += " for_each"
			}
			if len(r.DependsOn) > 0 {
				line += " depends_on=" + strings.Join(r.DependsOn, ",")
			}
			fmt.Println(line)
			if r.ProviderConfigKey != "" {
				if _, ok := plan.Config.ProviderConfigs[r.ProviderConfigKey]; !ok {
					defect("configuration", "resource %s names provider_config_key %q, which configuration.provider_config lacks", r.Address, r.ProviderConfigKey)
				}
			}
		}
		outs := make([]string, 0, len(plan.Config.RootModule.Outputs))
		for k, o := range plan.Config.RootModule.Outputs {
			if o != nil && o.Expression != nil && o.Expression.ExpressionData != nil &&
				(o.Expression.ConstantValue != nil || len(o.Expression.References) > 0) {
				k += "(expression)"
			}
			outs = append(outs, k)
		}
		sort.Strings(outs)
		fmt.Printf("config outputs=%s\n", strings.Join(outs, ","))
		for name := range plan.Variables {
			if _, ok := plan.Config.RootModule.Variables[name]; !ok {
				defect("configuration", "variable %q has a value in \"variables\" but is not declared in configuration.root_module.variables (consumers learn there whether it is sensitive)", name)
			}
		}
	}
	for addr, rc := range addresses {
		if rc.Change.Actions.Delete() || rc.Change.Actions.Forget() || rc.ModuleAddress != "" {
			continue
		}
		if !configured[resourceAddress(rc)] {
			defect("configuration", "%s (%s) has no resource %s in configuration.root_module.resources", addr, actionName(rc.Change.Actions), resourceAddress(rc))
		}
	}
	for i, ra := range plan.RelevantAttributes {
		if ra.Resource == "" {
			defect("relevant_attributes", "relevant_attributes[%d] names no resource", i)
		}
		steps := make([]string, 0, len(ra.Attribute))
		for _, st := range ra.Attribute {
			steps = append(steps, string(st))
		}
		fmt.Printf("relevant %s [%s]\n", ra.Resource, strings.Join(steps, ","))
	}
	if plan.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339, plan.Timestamp); err != nil {
			defect("timestamp", "timestamp %q is not RFC 3339: %v", plan.Timestamp, err)
		} else {
			fmt.Println("timestamp rfc3339")
		}
	}
	if plan.Complete == nil {
		defect("missing", "the plan has no \"complete\"")
	}

	checkSanitize(&plan, secrets)

	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("count %s %d\n", k, counts[k])
	}
	complete := "unset"
	if plan.Complete != nil {
		complete = strconv.FormatBool(*plan.Complete)
	}
	fmt.Printf("ok plan format=%s changes=%d drift=%d outputs=%d prior=%d planned=%d complete=%s\n",
		plan.FormatVersion, len(plan.ResourceChanges), len(plan.ResourceDrift), len(plan.OutputChanges),
		len(prior), len(planned), complete)
}

func plannedOutput(p *tfjson.Plan, name string) *tfjson.StateOutput {
	if p.PlannedValues == nil {
		return nil
	}
	return p.PlannedValues.Outputs[name]
}

// actionName is the one name a consumer gives an action list, by terraform-json's helpers.
func actionName(a tfjson.Actions) string {
	switch {
	case a.NoOp():
		return "no-op"
	case a.Create():
		return "create"
	case a.Read():
		return "read"
	case a.Update():
		return "update"
	case a.DestroyBeforeCreate():
		return "delete-create"
	case a.CreateBeforeDestroy():
		return "create-delete"
	case a.Delete():
		return "delete"
	case a.Forget():
		return "forget"
	}
	b, _ := json.Marshal(a)
	defect("actions", "%s is not an action list terraform-json recognizes", b)
	return "invalid"
}

var reasons = map[tfjson.ActionReason]string{
	tfjson.ActionReasonReplaceBecauseCannotUpdate:    "replace",
	tfjson.ActionReasonReplaceBecauseTainted:         "replace",
	tfjson.ActionReasonReplaceByRequest:              "replace",
	tfjson.ActionReasonReplaceByTriggers:             "replace",
	tfjson.ActionReasonDeleteBecauseNoResourceConfig: "delete",
	tfjson.ActionReasonDeleteBecauseWrongRepetition:  "delete",
	tfjson.ActionReasonDeleteBecauseCountIndex:       "delete",
	tfjson.ActionReasonDeleteBecauseEachKey:          "delete",
	tfjson.ActionReasonDeleteBecauseNoModule:         "delete",
	tfjson.ActionReasonDeleteBecauseNoMoveTarget:     "delete",
	tfjson.ActionReasonReadBecauseConfigUnknown:      "read",
	tfjson.ActionReasonReadBecauseDependencyPending:  "read",
	tfjson.ActionReasonReadBecauseCheckNested:        "read",
}

func checkResourceChange(where string, rc *tfjson.ResourceChange, drift bool) {
	if rc.Mode != tfjson.ManagedResourceMode && rc.Mode != tfjson.DataResourceMode {
		defect("mode", "%s %s has mode %q", where, rc.Address, rc.Mode)
	}
	if rc.Type == "" || rc.Name == "" || rc.ProviderName == "" {
		defect("missing", "%s %s lacks type, name or provider_name", where, rc.Address)
	}
	if want := instanceAddress(rc.ModuleAddress, rc.Mode, rc.Type, rc.Name, rc.Index); want != rc.Address {
		defect("address", "%s address %q does not match its module_address/mode/type/name/index (%q)", where, rc.Address, want)
	}
	if rc.PreviousAddress != "" && rc.PreviousAddress == rc.Address {
		defect("previous_address", "%s previous_address equals address %q", where, rc.Address)
	}
	a := rc.Change.Actions
	if rc.ActionReason != "" {
		kind, known := reasons[rc.ActionReason]
		switch {
		case !known:
			defect("action_reason", "%s %s has action_reason %q, which Terraform does not define", where, rc.Address, rc.ActionReason)
		case kind == "replace" && !a.Replace():
			defect("action_reason", "%s %s has replace reason %q on actions %s", where, rc.Address, rc.ActionReason, actionName(a))
		case kind == "delete" && !a.Delete() && !a.Forget():
			defect("action_reason", "%s %s has delete reason %q on actions %s", where, rc.Address, rc.ActionReason, actionName(a))
		case kind == "read" && !a.Read():
			defect("action_reason", "%s %s has read reason %q on actions %s", where, rc.Address, rc.ActionReason, actionName(a))
		}
	}
	if len(rc.Change.ReplacePaths) > 0 && !a.Replace() {
		defect("replace_paths", "%s %s has replace_paths on actions %s", where, rc.Address, actionName(a))
	}
	for _, p := range rc.Change.ReplacePaths {
		steps, ok := p.([]interface{})
		if !ok || len(steps) == 0 {
			defect("replace_paths", "%s %s replace_paths entry %v is not a non-empty list of steps", where, rc.Address, p)
			continue
		}
		for _, s := range steps {
			switch s.(type) {
			case string, json.Number, float64:
			default:
				defect("replace_paths", "%s %s replace_paths step %v is neither a string nor a number", where, rc.Address, s)
			}
		}
		if !pathExists(rc.Change.Before, steps) && !pathExists(rc.Change.After, steps) {
			defect("replace_paths", "%s %s replace_paths %v names no attribute of before or after", where, rc.Address, p)
		}
	}
	if a.Replace() && rc.ActionReason == tfjson.ActionReasonReplaceBecauseCannotUpdate && len(rc.Change.ReplacePaths) == 0 {
		defect("replace_paths", "%s %s is replaced because it cannot be updated but names no replace_paths", where, rc.Address)
	}
	if !drift {
		switch {
		case a.Create() && rc.Change.Before != nil:
			defect("before", "%s %s is created but before is not null", where, rc.Address)
		case (a.Delete() || a.Forget()) && rc.Change.After != nil:
			defect("after", "%s %s is deleted but after is not null", where, rc.Address)
		case (a.Update() || a.NoOp() || a.Replace()) && (rc.Change.Before == nil || rc.Change.After == nil):
			defect("before", "%s %s (%s) lacks before or after", where, rc.Address, actionName(a))
		}
		if a.NoOp() && !reflect.DeepEqual(normalize(rc.Change.Before), normalize(rc.Change.After)) {
			defect("no-op", "%s %s is no-op but before and after differ", where, rc.Address)
		}
		if a.NoOp() && len(unknownPaths(rc.Change.AfterUnknown, "")) > 0 {
			defect("no-op", "%s %s is no-op but has unknown values", where, rc.Address)
		}
		if a.Update() && reflect.DeepEqual(normalize(rc.Change.Before), normalize(rc.Change.After)) &&
			len(unknownPaths(rc.Change.AfterUnknown, "")) == 0 &&
			reflect.DeepEqual(normalize(rc.Change.BeforeSensitive), normalize(rc.Change.AfterSensitive)) {
			defect("update", "%s %s is an update but nothing differs", where, rc.Address)
		}
	}
	checkChangeValues(where+" "+rc.Address, rc.Change)
}

// checkChangeValues: the masks are shaped like the values they describe, and what is unknown
// is not also given a value in after.
func checkChangeValues(where string, c *tfjson.Change) {
	checkMaskShape(where+" before_sensitive", c.Before, c.BeforeSensitive, nil)
	checkMaskShape(where+" after_sensitive", c.After, c.AfterSensitive, c.AfterUnknown)
	checkMaskShape(where+" after_unknown", c.After, c.AfterUnknown, nil)
	for _, p := range unknownPaths(c.AfterUnknown, "") {
		if p == "" {
			continue
		}
		if present(c.After, p) {
			defect("after_unknown", "%s: %s is unknown but after has a value for it (null); Terraform omits unknown attributes from after", where, p)
		}
	}
}

// checkMaskShape: a mask is a bool, or an object/array whose keys exist in the value, as
// sanitize.SanitizeChange and every renderer assume. `unknown` is the after_unknown mask at
// the same position (nil when the value has no unknowns): a sensitive mask may name an
// attribute that after omits because it is unknown — real Terraform 1.15 writes
// `"after": {}`, `"after_unknown": {"input": true}`, `"after_sensitive": {"input": true}` for
// `input = sensitive(terraform_data.a.id)`, and `{"input": {"k": true}}` in all three masks'
// places for `input = {k = sensitive(terraform_data.a.id), plain = "p"}`.
func checkMaskShape(where string, value, mask, unknown interface{}) {
	switch m := mask.(type) {
	case nil, bool:
		return
	case map[string]interface{}:
		if len(m) == 0 {
			return
		}
		v, ok := value.(map[string]interface{})
		if !ok {
			defect("mask", "%s is an object but the value is %s", where, kindOf(value))
			return
		}
		for k, sub := range m {
			if _, ok := v[k]; !ok {
				if b, isBool := sub.(bool); isBool && b && strings.Contains(where, "after_unknown") {
					continue // an unknown attribute is omitted from after, at any depth (omitUnknowns)
				}
				if isUnknownAt(unknown, k) {
					continue // omitted from after because unknown; its sensitivity is still marked
				}
				defect("mask", "%s names %q, which the value lacks", where, k)
				continue
			}
			checkMaskShape(where+"."+k, v[k], sub, childMask(unknown, k))
		}
	case []interface{}:
		v, ok := value.([]interface{})
		if !ok {
			if len(m) > 0 {
				defect("mask", "%s is an array but the value is %s", where, kindOf(value))
			}
			return
		}
		if len(m) != len(v) {
			defect("mask", "%s has %d elements but the value has %d", where, len(m), len(v))
		}
		for i := 0; i < len(m) && i < len(v); i++ {
			checkMaskShape(fmt.Sprintf("%s[%d]", where, i), v[i], m[i], elemMask(unknown, i))
		}
	default:
		defect("mask", "%s is %s, not a bool, object or array", where, kindOf(mask))
	}
}

// isUnknownAt: whether the unknown mask marks attribute k (or the whole value) unknown.
func isUnknownAt(unknown interface{}, k string) bool {
	switch u := unknown.(type) {
	case bool:
		return u
	case map[string]interface{}:
		b, ok := u[k].(bool)
		return ok && b
	}
	return false
}

// childMask and elemMask descend into a mask (a `true` mask covers everything below it).
func childMask(mask interface{}, k string) interface{} {
	switch m := mask.(type) {
	case bool:
		return m
	case map[string]interface{}:
		return m[k]
	}
	return nil
}

func elemMask(mask interface{}, i int) interface{} {
	switch m := mask.(type) {
	case bool:
		return m
	case []interface{}:
		if i < len(m) {
			return m[i]
		}
	}
	return nil
}

func kindOf(v interface{}) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]interface{}:
		return "an object"
	case []interface{}:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a bool"
	default:
		return "a number"
	}
}

// unknownPaths lists the paths set to true in a mask ("" for the whole value).
func unknownPaths(mask interface{}, prefix string) []string {
	return truePaths(mask, prefix)
}

func truePaths(mask interface{}, prefix string) []string {
	var out []string
	switch m := mask.(type) {
	case bool:
		if m {
			out = append(out, prefix)
		}
	case map[string]interface{}:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			out = append(out, truePaths(m[k], p)...)
		}
	case []interface{}:
		for i, x := range m {
			out = append(out, truePaths(x, fmt.Sprintf("%s[%d]", prefix, i))...)
		}
	}
	return out
}

// present: the dotted object path exists as a key in v (array steps are not followed).
func present(v interface{}, path string) bool {
	if strings.Contains(path, "[") {
		return false
	}
	cur := v
	for _, step := range strings.Split(path, ".") {
		m, ok := cur.(map[string]interface{})
		if !ok {
			return false
		}
		cur, ok = m[step]
		if !ok {
			return false
		}
	}
	return true
}

func pathExists(v interface{}, steps []interface{}) bool {
	cur := v
	for _, s := range steps {
		switch x := s.(type) {
		case string:
			m, ok := cur.(map[string]interface{})
			if !ok {
				return false
			}
			if cur, ok = m[x]; !ok {
				return false
			}
		default:
			i, err := strconv.Atoi(fmt.Sprint(x))
			arr, ok := cur.([]interface{})
			if err != nil || !ok || i < 0 || i >= len(arr) {
				return false
			}
			cur = arr[i]
		}
	}
	return true
}

func resourceAddress(rc *tfjson.ResourceChange) string {
	a := rc.Type + "." + rc.Name
	if rc.Mode == tfjson.DataResourceMode {
		a = "data." + a
	}
	return a
}

func instanceAddress(module string, mode tfjson.ResourceMode, typ, name string, index interface{}) string {
	a := typ + "." + name
	if mode == tfjson.DataResourceMode {
		a = "data." + a
	}
	if module != "" {
		a = module + "." + a
	}
	switch i := index.(type) {
	case nil:
	case string:
		b, _ := json.Marshal(i)
		a += "[" + string(b) + "]"
	default:
		a += "[" + fmt.Sprint(i) + "]"
	}
	return a
}

func walkModule(m *tfjson.StateModule, parent string, f func(*tfjson.StateResource), where string) {
	if parent != "" && m.Address == "" {
		defect(where, "a child module of %q has no address", parent)
	}
	for _, r := range m.Resources {
		if r == nil {
			defect(where, "a null resource in module %q", m.Address)
			continue
		}
		if want := instanceAddress(m.Address, r.Mode, r.Type, r.Name, r.Index); want != r.Address {
			defect("address", "%s resource address %q does not match its module/mode/type/name/index (%q)", where, r.Address, want)
		}
		if r.ProviderName == "" {
			defect("missing", "%s resource %s has no provider_name", where, r.Address)
		}
		f(r)
	}
	for _, c := range m.ChildModules {
		walkModule(c, m.Address+"/", f, where)
	}
}

func rawMessageValue(m json.RawMessage) interface{} {
	if len(m) == 0 {
		return nil
	}
	var v interface{}
	if err := decode(m, &v); err != nil {
		defect("mask", "sensitive_values is not JSON: %v", err)
	}
	return v
}

// checkSanitize runs terraform-json's own redaction, as CI tools do before they publish a
// plan, and requires that no secret survives it.
func checkSanitize(plan *tfjson.Plan, secrets []string) {
	var clean *tfjson.Plan
	func() {
		defer func() {
			if r := recover(); r != nil {
				defect("sanitize", "sanitize.SanitizePlan panicked: %v", r)
			}
		}()
		var err error
		clean, err = sanitize.SanitizePlan(plan)
		if err != nil {
			defect("sanitize", "sanitize.SanitizePlan failed: %v", err)
		}
	}()
	if clean == nil {
		return
	}
	parts := map[string]interface{}{
		"resource_changes": clean.ResourceChanges,
		"planned_values":   clean.PlannedValues,
		"prior_state":      clean.PriorState,
		"output_changes":   clean.OutputChanges,
		"variables":        clean.Variables,
	}
	names := []string{"output_changes", "planned_values", "prior_state", "resource_changes", "variables"}
	for _, s := range secrets {
		for _, n := range names {
			b, err := json.Marshal(parts[n])
			if err != nil {
				defect("sanitize", "cannot marshal sanitized %s: %v", n, err)
				continue
			}
			if bytes.Contains(b, []byte(s)) {
				defect("sanitize", "secret %q is still readable in %s after sanitize.SanitizePlan", s, n)
			}
		}
	}
	fmt.Printf("sanitized secrets=%d\n", len(secrets))
}

// ---------------------------------------------------------------------------------------------
// Lost fields: what brick printed that the library did not carry over.

// normalize turns json.Number into float64 so numbers compare by value.
func normalize(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case float64:
		return x
	case map[string]interface{}:
		out := make(map[string]interface{}, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []interface{}:
		out := make([]interface{}, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

func isZero(v interface{}) bool {
	switch x := v.(type) {
	case nil:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case json.Number:
		f, _ := x.Float64()
		return f == 0
	case map[string]interface{}:
		return len(x) == 0
	case []interface{}:
		return len(x) == 0
	}
	return false
}

func compareLost(path string, raw, rt interface{}) {
	switch r := raw.(type) {
	case map[string]interface{}:
		t, ok := rt.(map[string]interface{})
		if !ok {
			if !isZero(r) {
				defect("lost", "%s: terraform-json did not keep this object (got %s)", path, kindOf(rt))
			}
			return
		}
		keys := make([]string, 0, len(r))
		for k := range r {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			tv, ok := t[k]
			if !ok {
				if !isZero(r[k]) {
					defect("lost", "%s.%s: terraform-json has no such field, so consumers never see it", path, k)
				}
				continue
			}
			compareLost(path+"."+k, r[k], tv)
		}
	case []interface{}:
		t, ok := rt.([]interface{})
		if !ok || len(t) != len(r) {
			if !isZero(r) {
				defect("lost", "%s: terraform-json kept %s instead of %d elements", path, kindOf(rt), len(r))
			}
			return
		}
		for i := range r {
			compareLost(fmt.Sprintf("%s[%d]", path, i), r[i], t[i])
		}
	default:
		if rt == nil && isZero(raw) {
			return
		}
		if !reflect.DeepEqual(normalize(raw), normalize(rt)) {
			defect("lost", "%s: brick printed %v, terraform-json read %v", path, raw, rt)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// State and outputs

func checkState(data []byte, raw interface{}) {
	var st tfjson.State
	st.UseJSONNumber(true)
	if err := json.Unmarshal(data, &st); err != nil {
		reject("tfjson.State unmarshal: %v", err)
	}
	if err := st.Validate(); err != nil {
		reject("tfjson.State.Validate: %v", err)
	}
	top := raw.(map[string]interface{})
	rt := roundTrip(&st).(map[string]interface{})
	for _, key := range []string{"format_version", "values"} {
		compareLost(key, top[key], rt[key])
	}
	n := 0
	if st.Values != nil {
		if st.Values.RootModule != nil {
			walkModule(st.Values.RootModule, "", func(r *tfjson.StateResource) {
				n++
				line := fmt.Sprintf("resource %s mode=%s provider=%s", r.Address, r.Mode, r.ProviderName)
				if len(r.DependsOn) > 0 {
					line += " depends_on=" + strings.Join(r.DependsOn, ",")
				}
				if r.Tainted {
					line += " tainted"
				}
				sv := rawMessageValue(r.SensitiveValues)
				if s := truePaths(sv, ""); len(s) > 0 {
					line += " sensitive=" + strings.Join(s, ",")
				}
				fmt.Println(line)
				if r.AttributeValues == nil {
					defect("missing", "state resource %s has no values", r.Address)
				}
				checkMaskShape("state "+r.Address+" sensitive_values", r.AttributeValues, sv, nil)
			}, "values")
		}
		printOutputs(st.Values.Outputs)
	}
	fmt.Printf("ok state format=%s resources=%d\n", st.FormatVersion, n)
}

func printOutputs(outs map[string]*tfjson.StateOutput) {
	names := make([]string, 0, len(outs))
	for k := range outs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		o := outs[k]
		if o == nil {
			defect("missing", "output %q is null", k)
			continue
		}
		line := fmt.Sprintf("output %s type=%s", k, o.Type.FriendlyName())
		if o.Sensitive {
			line += " sensitive"
		}
		fmt.Println(line)
	}
}

func checkOutputs(data []byte, raw interface{}) {
	outs := map[string]*tfjson.StateOutput{}
	if err := json.Unmarshal(data, &outs); err != nil {
		reject("map of tfjson.StateOutput unmarshal: %v", err)
	}
	rt := roundTrip(outs)
	compareLost("outputs", raw, rt)
	printOutputs(outs)
	fmt.Printf("ok outputs count=%d\n", len(outs))
}
