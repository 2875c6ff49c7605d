package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/govmatch/govmatch/pkg/auth"
	"github.com/govmatch/govmatch/pkg/identity"
)

// token prints a bearer token of the development issuer, which the
// embedded mode accepts: `make token ORG=stadt-giessen ROLE=buyer`.
func token(cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), commandUsage["token"]+"\n")
		fs.PrintDefaults()
	}
	org := fs.String("org", "", "organisation id of the user, e.g. stadt-giessen (required except for admin)")
	role := fs.String("role", "buyer", "role: buyer, vendor, venture_unit or admin")
	sub := fs.String("sub", "", "subject (user id); defaults to ROLE@ORG")
	ttl := fs.Duration("ttl", 8*time.Hour, "validity")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, err := identity.ParseRole(*role)
	if err != nil {
		return err
	}
	if *org != "" {
		if err := identity.ValidOrgID(*org); err != nil {
			return fmt.Errorf("-org: %w", err)
		}
	} else if r != identity.RoleAdmin {
		return fmt.Errorf("-org is required for role %s", r)
	}
	if *ttl <= 0 || *ttl > 30*24*time.Hour {
		return fmt.Errorf("-ttl must be between 1s and 720h")
	}
	subject := *sub
	if subject == "" {
		subject = string(r) + "@" + *org
	}
	iss, err := auth.LoadOrCreateDevIssuer(cfg.devKeyPath(), cfg.DevIssuerURL)
	if err != nil {
		return err
	}
	tok, err := iss.Mint(subject, *org, []identity.Role{r}, *ttl)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}
