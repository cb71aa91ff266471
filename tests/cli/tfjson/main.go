// Command tfjson reads brick's JSON plan and state documents with HashiCorp's terraform-json
// library, the way tools written for Terraform do, and fails if the library rejects them.
//
// Usage: tfjson plan FILE | tfjson state FILE
package main

import (
	"encoding/json"
	"fmt"
	"os"

	tfjson "github.com/hashicorp/terraform-json"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tfjson plan|state FILE")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	switch os.Args[1] {
	case "plan":
		var p tfjson.Plan
		if err := json.Unmarshal(data, &p); err != nil {
			fmt.Fprintln(os.Stderr, "unmarshal:", err)
			os.Exit(1)
		}
		if err := p.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, "validate:", err)
			os.Exit(1)
		}
		for _, rc := range p.ResourceChanges {
			fmt.Printf("%s %v\n", rc.Address, rc.Change.Actions)
		}
		fmt.Printf("format=%s drift=%d outputs=%d\n", p.FormatVersion, len(p.ResourceDrift), len(p.OutputChanges))
	case "state":
		var s tfjson.State
		if err := json.Unmarshal(data, &s); err != nil {
			fmt.Fprintln(os.Stderr, "unmarshal:", err)
			os.Exit(1)
		}
		if err := s.Validate(); err != nil {
			fmt.Fprintln(os.Stderr, "validate:", err)
			os.Exit(1)
		}
		n := 0
		if s.Values != nil && s.Values.RootModule != nil {
			n = len(s.Values.RootModule.Resources)
		}
		fmt.Printf("resources=%d\n", n)
	default:
		os.Exit(2)
	}
}
