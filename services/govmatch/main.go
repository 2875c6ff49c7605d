// Command govmatch runs the govmatch services: all in one process (the
// monolith, the default) or one per process (GOVMATCH_TARGET), and offers
// the command-line tools around them.
//
//	govmatch [serve]                      run the services of GOVMATCH_TARGET
//	govmatch token -org ORG -role ROLE    print a development token
//	govmatch events status                outbox backlog and consumer lag
//	govmatch events deadletters           events set aside after failing
//	govmatch events replay ID... | -all   hand dead letters to their consumer again
//	govmatch import vendors FILE          import vendors from JSONL or CSV
//	govmatch audit verify [-heads]        check every hash chain of the audit trails
//	govmatch backup DIR                   online backup of the SQLite databases
//	govmatch restore DIR                  restore a backup into a new data directory
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-envconfig"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], envconfig.OsLookuper(), os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "govmatch:", err)
		os.Exit(1)
	}
}

// run dispatches the subcommand; it is main without the process globals,
// so tests can run the whole program in-process.
func run(ctx context.Context, args []string, env envconfig.Lookuper, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	cfg, err := loadConfig(ctx, env)
	if err != nil {
		return err
	}
	switch cmd {
	case "serve":
		return serve(ctx, cfg, stderr, nil)
	case "token":
		return token(cfg, args, stdout, stderr)
	case "import":
		return importCmd(ctx, args, env, os.Stdin, stdout, stderr)
	case "events":
		return events(ctx, cfg, args, stdout)
	case "audit":
		return auditCmd(ctx, cfg, args, stdout)
	case "backup":
		return backup(ctx, cfg, args, stdout)
	case "restore":
		return restore(ctx, cfg, args, stdout)
	default:
		return fmt.Errorf("unknown command %q (want serve, token, events, import, audit, backup or restore)", cmd)
	}
}
