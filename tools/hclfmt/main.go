// Command hclfmt is `terraform fmt -check -recursive` for machines without Terraform: the
// Terraform CLI cannot be built with `go install` (its go.mod has replace directives), and its
// formatter is hclwrite.Format, which this calls. It also parses each file, so syntax errors fail.
//
//	hclfmt [-write] PATH...   check (or rewrite) every *.tf and *.tfvars under PATH
//
// Exit status: 0 all formatted, 1 some file is not formatted or does not parse, 2 usage.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

func main() {
	write := flag.Bool("write", false, "rewrite files instead of reporting them")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: hclfmt [-write] PATH...")
		os.Exit(2)
	}
	bad := 0
	for _, root := range flag.Args() {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if strings.HasPrefix(d.Name(), ".terraform") {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".tf") && !strings.HasSuffix(path, ".tfvars") {
				return nil
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if _, diags := hclsyntax.ParseConfig(src, path, hcl.Pos{Line: 1, Column: 1}); diags.HasErrors() {
				fmt.Fprintf(os.Stderr, "%s: %s\n", path, diags.Error())
				bad++
				return nil
			}
			formatted := hclwrite.Format(src)
			if bytes.Equal(src, formatted) {
				return nil
			}
			if *write {
				return os.WriteFile(path, formatted, 0o644)
			}
			fmt.Println(path)
			bad++
			return nil
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
}
