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
	"slices"
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
	switch {
	case len(args) > 0 && (isHelp(args[0]) || args[0] == "help"):
		if len(args) > 1 && commandUsage[args[1]] != "" {
			fmt.Fprint(stdout, commandUsage[args[1]])
			return nil
		}
		fmt.Fprint(stdout, usage)
		return nil
	case len(args) > 0 && args[0] != "" && args[0][0] != '-':
		cmd, args = args[0], args[1:]
	}
	if u := commandUsage[cmd]; u != "" && slices.ContainsFunc(args, isHelp) && cmd != "token" && cmd != "import" {
		// token and import print their flags themselves.
		fmt.Fprint(stdout, u)
		return nil
	}
	if cmd == "serve" && len(args) > 0 {
		return fmt.Errorf("serve takes no arguments, got %q: it is configured by environment variables (govmatch serve -h)", args)
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

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }

const usage = `govmatch: the marketplace between public buyers and start-ups, civic tech and SMEs.

Usage: govmatch [COMMAND] [ARGUMENTS]

Commands:
  serve     run the server (the default): every service in one process on
            :8080 (REST and web) and :9090 (gRPC), or the one GOVMATCH_TARGET names
  token     print a token of the development issuer (embedded mode)
  import    import vendors from a CSV or JSON Lines file through the REST API
  events    show the event bus, list and replay dead letters
  audit     verify the hash chains of the audit trails
  backup    copy the embedded SQLite databases while the server runs
  restore   put such a copy into an empty GOVMATCH_DATA_DIR

"govmatch COMMAND -h" prints a command's help. Configuration comes from
environment variables (GOVMATCH_*, DATABASE_URL, REDIS_URL, OIDC_ISSUER_URL,
OTEL_*); README.md lists them.
`

// commandUsage is each command's help, for "govmatch COMMAND -h"; token
// and import add their flags.
var commandUsage = map[string]string{
	"serve": `Usage: govmatch serve

Runs the server until SIGINT or SIGTERM. Without DATABASE_URL every service
runs in this process on embedded SQLite in GOVMATCH_DATA_DIR (default ./data)
with demo data; GOVMATCH_TARGET=needs|vendors|matching|gateway runs one
service (the microservices mode). All settings are environment variables;
README.md lists them.
`,
	"token": `Usage: govmatch token -org ORG [-role ROLE] [-sub SUBJECT] [-ttl DURATION]

Prints a bearer token of the development issuer, which the embedded mode
accepts, e.g. govmatch token -org stadt-giessen -role buyer.
`,
	"import": importUsage,
	"events": eventsUsage + `

  status        lag of every consumer group
  deadletters   events a consumer gave up on
  replay ID...  hand dead letters back to their consumer (-all: every one)
`,
	"audit": `Usage: govmatch audit verify [-heads]

Checks every hash chain of every service's audit trail, next to a running
server, and exits non-zero on a break, naming the entry; -heads prints the
newest entry of each chain, to keep outside the database.
`,
	"backup": `Usage: govmatch backup DIR

Copies every SQLite database of GOVMATCH_DATA_DIR into DIR (new or empty),
consistently, while the server goes on writing. On PostgreSQL use pg_dump.
`,
	"restore": `Usage: govmatch restore DIR

Copies a backup from DIR into GOVMATCH_DATA_DIR, which must hold no
databases (stop the server first). On PostgreSQL use pg_restore.
`,
}
