// Command compose-config is `docker compose config --quiet` for machines without the compose
// plugin: it loads a compose file with compose-go, the library docker compose itself uses, so
// the file is checked against the compose specification's JSON schema, interpolated, merged
// (anchors, `<<`) and normalised the same way.
//
//	compose-config [-profile NAME]... FILE
//
// Exit status: 0 valid, 1 invalid, 2 usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

type profiles []string

func (p *profiles) String() string     { return strings.Join(*p, ",") }
func (p *profiles) Set(v string) error { *p = append(*p, v); return nil }

func main() {
	var wanted profiles
	flag.Var(&wanted, "profile", "profile to enable (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: compose-config [-profile NAME]... FILE")
		os.Exit(2)
	}
	file, err := filepath.Abs(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(filepath.Dir(file)),
		cli.WithOsEnv,
		cli.WithName("alert-distribution"),
		cli.WithProfiles(wanted),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", file, err)
		os.Exit(1)
	}
	fmt.Printf("%s: valid, %d services enabled\n", file, len(project.Services))
}
