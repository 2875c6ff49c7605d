package testdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// throwaway is a PostgreSQL server in a temporary directory that lives as
// long as the test binary.
type throwaway struct {
	dir string // data directory, socket directory and log live below it
	cmd *exec.Cmd
	log string // server log file
	dsn string

	exited chan struct{} // closed when cmd has exited
	err    error         // cmd's exit status, valid once exited is closed
}

// findBinaries returns the paths of initdb and postgres: those on PATH, else
// the newest Debian-style /usr/lib/postgresql/*/bin.
func findBinaries() (initdb, postgres string, ok bool) {
	initdb, err1 := exec.LookPath("initdb")
	postgres, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return initdb, postgres, true
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Highest major version first; numeric so that 9.6 sorts below 15.
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(version(b), version(a)) })
	for _, d := range dirs {
		initdb, postgres = filepath.Join(d, "initdb"), filepath.Join(d, "postgres")
		if isExecutable(initdb) && isExecutable(postgres) {
			return initdb, postgres, true
		}
	}
	return "", "", false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// startThrowaway initialises a cluster in a new temporary directory and
// starts postgres on a free loopback port. PostgreSQL refuses to run as root,
// so as root both run as the OS user "postgres", which then owns the
// directory.
func startThrowaway(initdbPath, postgresPath string) (_ *throwaway, err error) {
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "testdb-postgres-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dir)
		}
	}()
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")

	initdb := exec.Command(initdbPath,
		"--pgdata="+data, "--username=postgres", "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir // the server user may not be allowed into our working directory
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}

	// Between picking a free port and postgres binding it another process may
	// take it; try a few ports before giving up.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := startPostgres(postgresPath, dir, data, port, cred)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startPostgres(postgresPath, dir, data string, port int, cred *syscall.Credential) (*throwaway, error) {
	logPath := filepath.Join(dir, "postgres-"+strconv.Itoa(port)+".log")
	log, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer log.Close() // postgres has its own descriptor
	s := &throwaway{
		dir:    dir,
		log:    logPath,
		exited: make(chan struct{}),
		dsn:    fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
	}
	s.cmd = exec.Command(postgresPath,
		"-D", data,
		"-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories="+dir,
		// Durability is worthless for a database that dies with the tests.
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		// Parallel tests each hold a connection pool.
		"-c", "max_connections=300",
	)
	s.cmd.Dir = dir
	s.cmd.Stdout = log
	s.cmd.Stderr = log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Should the test binary die without running Cleanup (a panic, a
		// timeout), the server goes with it (SIGINT: fast shutdown).
		Pdeathsig: syscall.SIGINT,
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, s.dsn)
		if err == nil {
			_ = conn.Close(ctx)
			return s, nil
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("postgres exited: %v\n%s", s.err, s.logTail())
		case <-ctx.Done():
			_ = s.stop()
			return nil, fmt.Errorf("postgres did not accept connections within a minute: %w\n%s", err, s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logTail is the end of the server log, for error messages.
func (s *throwaway) logTail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop shuts the server down fast and removes its directory.
func (s *throwaway) stop() error {
	var errs []error
	select {
	case <-s.exited:
	default:
		if err := s.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, err)
		}
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if err := os.RemoveAll(s.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// serverCredential is nil when we may run PostgreSQL ourselves, and the
// "postgres" OS user when we are root.
func serverCredential() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and PostgreSQL refuses root: need an OS user \"postgres\" to run it as: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, err
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, err
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
