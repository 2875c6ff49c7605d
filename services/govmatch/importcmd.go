package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/schollz/progressbar/v3"
	"github.com/sethvargo/go-envconfig"
	"golang.org/x/term"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	vendorsv1 "github.com/govmatch/govmatch/proto/govmatch/vendors/v1"
)

// importUsage is the help of `govmatch import`.
const importUsage = `usage: govmatch import vendors [flags] FILE

Imports the vendors of FILE ("-" for stdin) through the REST API's
POST /v1/vendors:batchCreate, in batches. FILE is JSON Lines (.jsonl,
.ndjson, .json) or CSV (.csv), by its extension or -format.

A record is a Vendor as the REST API takes it (camelCase or snake_case
keys), plus:
  id, externalId  the record's key in its source; without one, a hash of
                  the record's content stands in
  vendorId        the id of the new vendor ("vendors/{vendorId}")
  name            the display name when displayName is absent (as in the
                  evaluation sets: {"id", "name", "description", "cpvCodes"}),
                  else the resource name "vendors/{vendorId}"; a record
                  without either gets its id as display name
CSV files have a header row with these names; list fields hold values
separated by ";", products and references hold JSON arrays. Control
characters the server rejects are replaced (C1 controls by their
Windows-1252 character, as in text decoded as Latin-1 by mistake).

The command reads the whole file, lets the server check every batch
(validateOnly) and imports only when all pass: a bad line anywhere names
the offending lines and imports nothing. Fix the lines and run the same
command again. Should an import stop half-way for another reason (the
server went away), running it again resumes: every record carries an
external id, so records imported before are not created twice ("already
present").

The token needs role venture_unit or admin:
  govmatch token -role venture_unit -org ORG

Flags:
`

// Import limits and defaults.
const (
	defaultImportBatch = 500
	maxImportBatch     = 1000 // BatchCreateVendorsRequest.requests
	// defaultImportBytes is the server's default GOVMATCH_MAX_BODY_BYTES.
	defaultImportBytes = 1 << 20
	// maxShownProblems caps the lines printed for one failed batch.
	maxShownProblems = 50
)

// importCmd runs `govmatch import vendors [flags] FILE`.
func importCmd(ctx context.Context, args []string, env envconfig.Lookuper, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), importUsage)
		fs.PrintDefaults()
	}
	envToken, _ := env.Lookup("GOVMATCH_TOKEN")
	opts := importOptions{}
	fs.StringVar(&opts.server, "server", "http://localhost:8080", "base URL of the govmatch REST API")
	fs.StringVar(&opts.token, "token", envToken, "bearer token with role venture_unit or admin (default $GOVMATCH_TOKEN)")
	fs.IntVar(&opts.batch, "batch", defaultImportBatch, fmt.Sprintf("vendors per request, 1 to %d", maxImportBatch))
	fs.IntVar(&opts.maxBytes, "max-bytes", defaultImportBytes, "largest request body; keep it at most the server's GOVMATCH_MAX_BODY_BYTES")
	fs.StringVar(&opts.kind, "kind", "OTHER", "kind of records without one: START_UP, CIVIC_TECH, SME, NGO, RESEARCH_INSTITUTION or OTHER")
	fs.StringVar(&opts.format, "format", "", "jsonl or csv (default: by FILE's extension; jsonl for stdin)")
	fs.IntVar(&opts.retries, "retries", 8, "retries of a request on 429, 502, 503, 504 and connection errors")
	fs.BoolVar(&opts.quiet, "quiet", false, "no progress bar")

	if len(args) > 0 && isHelp(args[0]) {
		fs.Usage()
		return flag.ErrHelp
	}
	if len(args) == 0 || args[0] != "vendors" {
		fs.Usage()
		return errors.New("import: want `import vendors [flags] FILE`")
	}
	files, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(files) != 1 {
		fs.Usage()
		return fmt.Errorf("import vendors: want exactly one FILE, got %d", len(files))
	}
	opts.file = files[0]
	if err := opts.validate(); err != nil {
		return fmt.Errorf("import vendors: %w", err)
	}

	in, size, err := openInput(opts.file, stdin)
	if err != nil {
		return fmt.Errorf("import vendors: %w", err)
	}
	defer in.Close()

	im := &importer{
		opts:   opts,
		client: &http.Client{Timeout: 5 * time.Minute},
		stderr: stderr,
		sleep:  sleepCtx,
	}
	if !opts.quiet && isTerminal(stderr) {
		im.bar = newImportBar(size, stderr)
	}
	start := time.Now()
	err = im.run(ctx, in)
	im.clearBar()
	sum := im.sum
	sum.Elapsed = time.Since(start)
	fmt.Fprintln(stdout, sum.String(opts.file, err != nil))
	if err != nil {
		return fmt.Errorf("import vendors: %w", err)
	}
	return nil
}

// parseInterspersed parses flags before and after the positional
// arguments, so that `import vendors FILE -batch 100` works too.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// importOptions are the flags of `import vendors`.
type importOptions struct {
	file     string
	server   string
	token    string
	batch    int
	maxBytes int
	kind     string
	format   string
	retries  int
	quiet    bool
}

func (o *importOptions) validate() error {
	u, err := url.Parse(o.server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-server %q: want an http or https URL", o.server)
	}
	o.server = strings.TrimRight(o.server, "/")
	if o.token == "" {
		return errors.New("no token: pass -token or set GOVMATCH_TOKEN (govmatch token -role venture_unit -org ORG)")
	}
	if o.batch < 1 || o.batch > maxImportBatch {
		return fmt.Errorf("-batch %d: want 1 to %d", o.batch, maxImportBatch)
	}
	if o.maxBytes < 1024 {
		return fmt.Errorf("-max-bytes %d: want at least 1024", o.maxBytes)
	}
	if o.retries < 0 {
		return fmt.Errorf("-retries %d: want 0 or more", o.retries)
	}
	kind, ok := canonicalKind(o.kind)
	if !ok {
		return fmt.Errorf("-kind %q: want START_UP, CIVIC_TECH, SME, NGO, RESEARCH_INSTITUTION or OTHER", o.kind)
	}
	o.kind = kind
	switch o.format {
	case "jsonl", "csv":
	case "":
		switch strings.ToLower(filepath.Ext(o.file)) {
		case ".csv":
			o.format = "csv"
		case ".jsonl", ".ndjson", ".json", "":
			o.format = "jsonl"
		default:
			return fmt.Errorf("cannot tell the format of %s by its extension; pass -format jsonl or -format csv", o.file)
		}
	default:
		return fmt.Errorf("-format %q: want jsonl or csv", o.format)
	}
	return nil
}

// openInput opens FILE, or stdin for "-", and returns its size when known
// (-1 otherwise) for the progress bar.
func openInput(name string, stdin io.Reader) (io.ReadCloser, int64, error) {
	if name == "-" {
		return io.NopCloser(stdin), -1, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, err
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newImportBar(size int64, w io.Writer) *progressbar.ProgressBar {
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(size > 0),
	)
}

// importSummary is what an import did.
type importSummary struct {
	Imported int // vendors created by this run
	Present  int // records whose vendor existed already
	Elapsed  time.Duration
}

// String is the final line of the command.
func (s importSummary) String(file string, failed bool) string {
	if file == "-" {
		file = "stdin"
	}
	secs := s.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(s.Imported+s.Present) / secs
	}
	what := "imported"
	if failed {
		what = "before the failure: imported"
	}
	return fmt.Sprintf("%s %d vendors, %d already present, from %s in %.1f s (%.0f vendors/s)",
		what, s.Imported, s.Present, file, secs, rate)
}

// importRecord is one record of FILE, ready to send.
type importRecord struct {
	line       int   // the record's first line in FILE
	end        int64 // byte offset after the record, for the progress bar
	externalID string
	item       []byte // the CreateVendorRequest JSON
	repaired   bool   // control characters were replaced
}

// lineError is a problem of one line of FILE.
type lineError struct {
	line int
	msg  string
	// stop says that the rest of FILE cannot be read (a broken CSV quote).
	stop bool
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

// recordReader yields the records of FILE one after the other; a
// *lineError concerns one record only and reading may go on.
type recordReader interface {
	next() (importRecord, error)
}

// importer sends the records of FILE to the server.
type importer struct {
	opts   importOptions
	client *http.Client
	stderr io.Writer
	bar    *progressbar.ProgressBar
	// sleep waits, or returns early with the context's error; tests
	// replace it.
	sleep func(context.Context, time.Duration) error

	since time.Time           // create time of the newest vendor before the run
	seen  map[string]struct{} // external ids counted as imported by this run
	sum   importSummary
	lines int // last line sent
	// validating: send checks batches (validate_only) instead of importing.
	validating bool
	// repaired counts records whose control characters were replaced.
	repaired, firstRepaired int
}

func (im *importer) run(ctx context.Context, in io.Reader) error {
	im.seen = map[string]struct{}{}
	var rr recordReader
	var err error
	if im.opts.format == "csv" {
		rr, err = newCSVRecords(in, im.opts.kind)
	} else {
		rr = newJSONLRecords(in, im.opts.kind)
	}
	if err != nil {
		return err
	}
	if im.since, err = im.newestCreateTime(ctx); err != nil {
		return err
	}

	// 1. Read the whole file, reporting every line that is not a vendor.
	var (
		records  []importRecord
		problems []*lineError
	)
	for {
		rec, err := rr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *lineError
		if errors.As(err, &le) {
			problems = append(problems, le)
			if le.stop {
				break
			}
			continue
		}
		if err != nil {
			return err
		}
		if rec.repaired {
			if im.repaired == 0 {
				im.firstRepaired = rec.line
			}
			im.repaired++
		}
		records = append(records, rec)
	}
	if len(problems) > 0 {
		im.clearBar()
		for i, p := range problems {
			if i == maxShownProblems {
				fmt.Fprintf(im.stderr, "… and %d more\n", len(problems)-i)
				break
			}
			fmt.Fprintln(im.stderr, p)
		}
		return fmt.Errorf("%d bad records, the first on line %d; nothing is imported; fix the lines and run the same command again",
			len(problems), problems[0].line)
	}
	batches := im.batches(records)

	// 2. Let the server check every batch without writing (validate_only),
	// so that a bad line anywhere in the file imports nothing at all.
	im.validating = true
	rejected := 0
	for _, b := range batches {
		if err := im.send(ctx, b); err != nil {
			var re *rejectedError
			if !errors.As(err, &re) {
				return err
			}
			rejected++
		}
	}
	im.validating = false
	if rejected > 0 {
		return fmt.Errorf("the server rejected %d of %d batches; nothing is imported; fix the lines and run the same command again",
			rejected, len(batches))
	}

	// 3. Import. A batch is all or nothing; should one fail now (another
	// writer took a vendor id meanwhile), re-running the command resumes.
	for _, b := range batches {
		if err := im.send(ctx, b); err != nil {
			return err
		}
	}
	if im.bar != nil {
		_ = im.bar.Finish()
	}
	if im.repaired > 0 {
		fmt.Fprintf(im.stderr, "note: replaced control characters in %d records, the first on line %d\n", im.repaired, im.firstRepaired)
	}
	return nil
}

// batches cuts records into requests of at most -batch vendors and
// -max-bytes bytes.
func (im *importer) batches(records []importRecord) [][]importRecord {
	var out [][]importRecord
	var batch []importRecord
	size := 0
	limit := im.opts.maxBytes - len(batchPrefix) - len(validatePrefix) - len(batchSuffix)
	for _, rec := range records {
		if len(batch) > 0 && (len(batch) == im.opts.batch || size+len(rec.item)+1 > limit) {
			out = append(out, batch)
			batch, size = nil, 0
		}
		batch = append(batch, rec)
		size += len(rec.item) + 1
	}
	if len(batch) > 0 {
		out = append(out, batch)
	}
	return out
}

// rejectedError is a batch the server refused; its lines are printed.
type rejectedError struct{ msg string }

func (e *rejectedError) Error() string { return e.msg }

const (
	batchPrefix    = `{"requests":[`
	validatePrefix = `"validateOnly":true,`
	batchSuffix    = `]}`
)

// send imports one batch. A batch the server finds too large is split in
// two; the halves are imported one after the other.
func (im *importer) send(ctx context.Context, batch []importRecord) error {
	var body bytes.Buffer
	if im.validating {
		body.WriteString(`{` + validatePrefix + batchPrefix[1:])
	} else {
		body.WriteString(batchPrefix)
	}
	for i, r := range batch {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(r.item)
	}
	body.WriteString(batchSuffix)

	res, err := im.do(ctx, http.MethodPost, "/v1/vendors:batchCreate", body.Bytes())
	if err != nil {
		return fmt.Errorf("lines %d–%d: %w", batch[0].line, batch[len(batch)-1].line, err)
	}
	switch {
	case res.status == http.StatusRequestEntityTooLarge && len(batch) > 1:
		half := len(batch) / 2
		if err := im.send(ctx, batch[:half]); err != nil {
			return err
		}
		return im.send(ctx, batch[half:])
	case res.status == http.StatusRequestEntityTooLarge:
		return fmt.Errorf("line %d: the record is larger than the server accepts (%s)", batch[0].line, res.message())
	case res.status != http.StatusOK:
		return im.rejected(batch, res)
	case im.validating:
		return nil
	}

	var out struct {
		Vendors []struct {
			ExternalID string    `json:"externalId"`
			CreateTime time.Time `json:"createTime"`
		} `json:"vendors"`
	}
	if err := json.Unmarshal(res.body, &out); err != nil || len(out.Vendors) != len(batch) {
		return fmt.Errorf("lines %d–%d: unexpected answer of the server: %.200s", batch[0].line, batch[len(batch)-1].line, res.body)
	}
	for _, v := range out.Vendors {
		// A vendor created after the newest one before the run was created
		// by this run; once counted, a later batch repeating it finds it.
		_, counted := im.seen[v.ExternalID]
		if v.CreateTime.After(im.since) && !counted {
			im.seen[v.ExternalID] = struct{}{}
			im.sum.Imported++
		} else {
			im.sum.Present++
		}
	}
	last := batch[len(batch)-1]
	im.lines = last.line
	if im.bar != nil {
		im.bar.Describe(fmt.Sprintf("%d vendors (line %d)", im.sum.Imported+im.sum.Present, last.line))
		_ = im.bar.Set64(last.end)
	}
	return nil
}

// done says how far the import got before it stopped.
func (im *importer) done() string {
	if im.lines == 0 {
		return "nothing is imported"
	}
	return fmt.Sprintf("the vendors up to line %d are imported, none after", im.lines)
}

var (
	violationField = regexp.MustCompile(`^requests\[(\d+)\]\.`)
	requestIndex   = regexp.MustCompile(`requests\[(\d+)\]`)
)

// rejected prints the server's field violations of a rejected batch by
// line of FILE and returns the error that stops the import.
func (im *importer) rejected(batch []importRecord, res apiResponse) error {
	first, last := batch[0].line, batch[len(batch)-1].line
	lineOf := func(idx string) (int, bool) {
		i, err := strconv.Atoi(idx)
		if err != nil || i < 0 || i >= len(batch) {
			return 0, false
		}
		return batch[i].line, true
	}
	violations := res.violations()
	im.clearBar()
	for i, v := range violations {
		if i == maxShownProblems {
			fmt.Fprintf(im.stderr, "… and %d more\n", len(violations)-i)
			break
		}
		// "repeats the external_id of requests[3]" → "… of line 5"
		desc := requestIndex.ReplaceAllStringFunc(v.Description, func(m string) string {
			if l, ok := lineOf(requestIndex.FindStringSubmatch(m)[1]); ok {
				return "line " + strconv.Itoa(l)
			}
			return m
		})
		if m := violationField.FindStringSubmatchIndex(v.Field); m != nil {
			if l, ok := lineOf(v.Field[m[2]:m[3]]); ok {
				fmt.Fprintf(im.stderr, "line %d: %s: %s\n", l, v.Field[m[1]:], desc)
				continue
			}
		}
		fmt.Fprintf(im.stderr, "lines %d–%d: %s: %s\n", first, last, v.Field, desc)
	}
	what := fmt.Sprintf("the server rejected the batch of lines %d–%d (%d %s)", first, last, res.status, res.message())
	if len(violations) > 0 {
		what = fmt.Sprintf("the server rejected the batch of lines %d–%d", first, last)
	}
	if im.validating && res.status == http.StatusBadRequest {
		return &rejectedError{msg: what} // the run goes on checking the other batches
	}
	return fmt.Errorf("%s; a batch is all or nothing, so none of its vendors is imported; %s; fix the lines and run the same command again", what, im.done())
}

// newestCreateTime returns the create time of the newest vendor, or the
// zero time for an empty registry: vendors created later come from this
// run (see send).
func (im *importer) newestCreateTime(ctx context.Context) (time.Time, error) {
	res, err := im.do(ctx, http.MethodGet, "/v1/vendors?pageSize=1&orderBy=create_time%20desc", nil)
	if err != nil {
		return time.Time{}, err
	}
	if res.status != http.StatusOK {
		return time.Time{}, fmt.Errorf("list vendors: %d %s", res.status, res.message())
	}
	var out struct {
		Vendors []struct {
			CreateTime time.Time `json:"createTime"`
		} `json:"vendors"`
	}
	if err := json.Unmarshal(res.body, &out); err != nil {
		return time.Time{}, fmt.Errorf("list vendors: %w", err)
	}
	if len(out.Vendors) == 0 {
		return time.Time{}, nil
	}
	return out.Vendors[0].CreateTime, nil
}

// apiResponse is an answer of the REST API.
type apiResponse struct {
	status int
	body   []byte
}

// fieldViolation is one violation of a google.rpc.BadRequest detail.
type fieldViolation struct {
	Field       string `json:"field"`
	Description string `json:"description"`
}

// apiStatus is the google.rpc.Status JSON of the gateway's errors.
type apiStatus struct {
	Message string `json:"message"`
	Details []struct {
		FieldViolations []fieldViolation `json:"fieldViolations"`
	} `json:"details"`
}

func (r apiResponse) rpcStatus() apiStatus {
	var st apiStatus
	_ = json.Unmarshal(r.body, &st)
	return st
}

func (r apiResponse) message() string {
	if m := r.rpcStatus().Message; m != "" {
		return m
	}
	return strings.TrimSpace(fmt.Sprintf("%.200s", r.body))
}

func (r apiResponse) violations() []fieldViolation {
	var out []fieldViolation
	for _, d := range r.rpcStatus().Details {
		out = append(out, d.FieldViolations...)
	}
	return out
}

// retryable reports whether a request answered with status may succeed
// later: the server or a proxy in front of it is overloaded or restarting.
// Sending a batch again is safe: every record carries an external id.
func retryable(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// do sends a request, retrying with exponential backoff and jitter on
// retryable answers and connection errors; a Retry-After of the server
// takes precedence over the backoff.
func (im *importer) do(ctx context.Context, method, path string, body []byte) (apiResponse, error) {
	backoff := 500 * time.Millisecond
	const maxBackoff = 30 * time.Second
	for attempt := 0; ; attempt++ {
		res, wait, err := im.try(ctx, method, path, body)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if err == nil && !retryable(res.status) {
			return res, nil
		}
		why := ""
		if err != nil {
			why = err.Error()
		} else {
			why = fmt.Sprintf("%d %s", res.status, res.message())
		}
		if attempt >= im.opts.retries {
			if err != nil {
				return res, fmt.Errorf("%s: giving up after %d attempts: %w", path, attempt+1, err)
			}
			return res, fmt.Errorf("%s: giving up after %d attempts: %s", path, attempt+1, why)
		}
		if wait <= 0 {
			// Full jitter: replicas of a failed-over server are not hit by
			// every client at the same moment.
			wait = backoff/2 + rand.N(backoff/2+1)
		}
		backoff = min(2*backoff, maxBackoff)
		im.clearBar()
		fmt.Fprintf(im.stderr, "retrying in %s: %s\n", wait.Round(time.Millisecond), why)
		if err := im.sleep(ctx, wait); err != nil {
			return res, err
		}
	}
}

// try sends a request once. It returns the server's Retry-After, if any.
func (im *importer) try(ctx context.Context, method, path string, body []byte) (apiResponse, time.Duration, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, im.opts.server+path, rd)
	if err != nil {
		return apiResponse{}, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+im.opts.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := im.client.Do(req)
	if err != nil {
		return apiResponse{}, 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return apiResponse{}, 0, err
	}
	return apiResponse{status: res.StatusCode, body: raw}, retryAfter(res.Header.Get("Retry-After"), time.Now()), nil
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// clearBar removes the progress bar before a message is printed; it shows
// up again with the next progress.
func (im *importer) clearBar() {
	if im.bar != nil {
		_ = im.bar.Clear()
	}
}

// ---- records ----

// vendorFields describes the Vendor message, so records are checked and
// CSV cells typed by the API's own schema.
var vendorFields = (&vendorsv1.Vendor{}).ProtoReflect().Descriptor().Fields()

// outputOnly are Vendor fields the server ignores on create; exports of
// GET /v1/vendors carry them. externalId is taken for the request.
var outputOnly = map[string]bool{
	"verificationStatus": true, "verificationNote": true, "verifyTime": true,
	"ownerOrganization": true, "createTime": true, "updateTime": true, "etag": true,
}

// camel turns a snake_case key into the camelCase of protojson.
func camel(k string) string {
	if !strings.Contains(k, "_") {
		return k
	}
	parts := strings.Split(k, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// canonicalKind accepts "OTHER", "other", "start-up", "KIND_SME", ...
func canonicalKind(s string) (string, bool) {
	k := strings.ToUpper(strings.NewReplacer("-", "_", " ", "_").Replace(strings.TrimSpace(s)))
	if !strings.HasPrefix(k, "KIND_") {
		k = "KIND_" + k
	}
	v, ok := vendorsv1.Vendor_Kind_value[k]
	return k, ok && v != 0
}

// buildRecord turns the fields of one record, keys in camelCase, into the
// CreateVendorRequest to send. defaultKind fills in a missing kind.
func buildRecord(line int, rec map[string]any, defaultKind string) (importRecord, error) {
	bad := func(format string, a ...any) (importRecord, error) {
		return importRecord{}, &lineError{line: line, msg: fmt.Sprintf(format, a...)}
	}
	// The external id: the record's own key, else its content's hash,
	// taken before defaults so that a re-run with another -kind finds the
	// vendors of the first run.
	extID, err := stringField(rec, "externalId")
	if err != nil {
		return bad("%v", err)
	}
	if extID == "" {
		if extID, err = stringField(rec, "id"); err != nil {
			return bad("%v", err)
		}
	}
	ownID := extID != ""
	if !ownID {
		canon, err := json.Marshal(rec) // map keys sorted: independent of key order and format
		if err != nil {
			return bad("%v", err)
		}
		sum := sha256.Sum256(canon)
		extID = "sha256-" + hex.EncodeToString(sum[:20])
	}
	vendorID, err := stringField(rec, "vendorId")
	if err != nil {
		return bad("%v", err)
	}

	vendor := make(map[string]any, len(rec))
	for k, v := range rec {
		switch {
		case k == "id" || k == "externalId" || k == "vendorId" || outputOnly[k]:
		case k == "name":
		default:
			vendor[k] = v
		}
	}
	name, err := stringField(rec, "name")
	if err != nil {
		return bad("%v", err)
	}
	if _, ok := vendor["displayName"]; !ok {
		// The evaluation sets' format: name is the display name. A few of
		// their records have none; their id stands in, as a listing would
		// show them.
		switch {
		case name != "":
			vendor["displayName"] = name
		case ownID:
			vendor["displayName"] = extID
		}
	} else if id, ok := strings.CutPrefix(name, "vendors/"); ok && vendorID == "" {
		vendorID = id
	} else if name != "" && !ok {
		return bad("name %q: with displayName, name must be the resource name vendors/{id}", name)
	}
	switch k := vendor["kind"].(type) {
	case nil:
		vendor["kind"] = defaultKind
	case string:
		if k == "" {
			vendor["kind"] = defaultKind
		} else if c, ok := canonicalKind(k); ok {
			vendor["kind"] = c
		}
	}

	repaired := repairControls(vendor)
	raw, err := json.Marshal(vendor)
	if err != nil {
		return bad("%v", err)
	}
	// Check the vendor as the gateway will, to name the line of an unknown
	// field or a wrong type (the gateway's message could not).
	if err := protojson.Unmarshal(raw, &vendorsv1.Vendor{}); err != nil {
		return bad("%s", protoMessage(err))
	}
	item := struct {
		Vendor     json.RawMessage `json:"vendor"`
		VendorID   string          `json:"vendorId,omitempty"`
		ExternalID string          `json:"externalId"`
	}{raw, vendorID, extID}
	buf, err := json.Marshal(item)
	if err != nil {
		return bad("%v", err)
	}
	return importRecord{line: line, externalID: extID, item: buf, repaired: repaired}, nil
}

// repairControls replaces, in every string of v, the control characters
// the server rejects (all but tab and line breaks). C1 controls are
// almost always Windows-1252 text read as Latin-1 (U+0096 for "–"), so
// they become the Windows-1252 character; others become a space. It
// reports whether it changed anything.
func repairControls(v any) bool {
	changed := false
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case string:
			if !strings.ContainsFunc(v, forbiddenControl) {
				return v
			}
			changed = true
			return strings.Map(func(r rune) rune {
				switch {
				case !forbiddenControl(r):
					return r
				case r >= 0x80 && r <= 0x9f && cp1252[r-0x80] != 0:
					return cp1252[r-0x80]
				default:
					return ' '
				}
			}, v)
		case map[string]any:
			for k, e := range v {
				v[k] = walk(e)
			}
		case []any:
			for i, e := range v {
				v[i] = walk(e)
			}
		}
		return v
	}
	walk(v)
	return changed
}

// forbiddenControl is the server's rule for text fields.
func forbiddenControl(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
}

// cp1252 maps 0x80–0x9F of Windows-1252 to Unicode; 0 where undefined.
var cp1252 = [32]rune{
	'€', 0, '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', 0, 'Ž', 0,
	0, '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', 0, 'ž', 'Ÿ',
}

var protoPosition = regexp.MustCompile(`^proto:\s*(\(line \d+:\d+\):\s*)?`)

// protoMessage drops protojson's prefix and its position in the one-line
// object, which would be mistaken for a line of FILE.
func protoMessage(err error) string {
	return protoPosition.ReplaceAllString(strings.ReplaceAll(err.Error(), "\u00a0", " "), "")
}

func stringField(rec map[string]any, k string) (string, error) {
	switch v := rec[k].(type) {
	case nil:
		return "", nil
	case string:
		return strings.TrimSpace(v), nil
	default:
		return "", fmt.Errorf("%s must be a string, not %v", k, v)
	}
}

// normalizeKeys renames snake_case keys to camelCase.
func normalizeKeys(rec map[string]any) error {
	for k, v := range rec {
		c := camel(k)
		if c == k {
			continue
		}
		if _, dup := rec[c]; dup {
			return fmt.Errorf("both %s and %s are set", k, c)
		}
		delete(rec, k)
		rec[c] = v
	}
	return nil
}

// notUTF8 is the problem of a line in another encoding, most often a
// spreadsheet's Windows-1252 export.
const notUTF8 = "not UTF-8 text; save the file as UTF-8"

// jsonlRecords reads JSON Lines.
type jsonlRecords struct {
	r      *bufio.Reader
	kind   string
	line   int
	offset int64
}

func newJSONLRecords(r io.Reader, kind string) *jsonlRecords {
	return &jsonlRecords{r: bufio.NewReaderSize(r, 64<<10), kind: kind}
}

func (j *jsonlRecords) next() (importRecord, error) {
	for {
		text, err := j.r.ReadBytes('\n')
		if len(text) == 0 && err != nil {
			return importRecord{}, err // io.EOF at the end
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return importRecord{}, err
		}
		j.line++
		j.offset += int64(len(text))
		if j.line == 1 {
			text = bytes.TrimPrefix(text, []byte("\ufeff"))
		}
		text = bytes.TrimSpace(text)
		if len(text) == 0 {
			continue
		}
		// encoding/json would replace each invalid byte by U+FFFD and the
		// vendor be imported with its letters lost.
		if !utf8.Valid(text) {
			return importRecord{}, &lineError{line: j.line, msg: notUTF8}
		}
		var rec map[string]any
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil || rec == nil {
			msg := "not a JSON object"
			if err != nil {
				msg += ": " + err.Error()
			}
			return importRecord{}, &lineError{line: j.line, msg: msg}
		}
		if dec.More() {
			return importRecord{}, &lineError{line: j.line, msg: "more than one JSON value on the line"}
		}
		if err := normalizeKeys(rec); err != nil {
			return importRecord{}, &lineError{line: j.line, msg: err.Error()}
		}
		out, err := buildRecord(j.line, rec, j.kind)
		out.end = j.offset
		return out, err
	}
}

// csvRecords reads CSV with a header row.
type csvRecords struct {
	r      *csv.Reader
	header []string
	kind   string
}

func newCSVRecords(r io.Reader, kind string) (*csvRecords, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the CSV file is empty; it needs a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	seen := map[string]bool{}
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		h = camel(strings.TrimSpace(h))
		if h == "" || seen[h] {
			return nil, fmt.Errorf("line 1: CSV header: column %d is empty or repeated (%q)", i+1, h)
		}
		switch h {
		case "id", "externalId", "vendorId", "name":
		default:
			if vendorFields.ByJSONName(h) == nil {
				return nil, fmt.Errorf("line 1: CSV header: unknown column %q", h)
			}
		}
		seen[h] = true
		header[i] = h
	}
	cr.ReuseRecord = true
	return &csvRecords{r: cr, header: header, kind: kind}, nil
}

func (c *csvRecords) next() (importRecord, error) {
	row, err := c.r.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			// A broken quote may swallow the rest of the file: report it
			// and stop reading; a row of the wrong length is one bad line.
			return importRecord{}, &lineError{line: pe.StartLine, msg: pe.Err.Error(), stop: !errors.Is(pe.Err, csv.ErrFieldCount)}
		}
		return importRecord{}, err
	}
	line, _ := c.r.FieldPos(0)
	rec := make(map[string]any, len(row))
	for i, cell := range row {
		cell = strings.TrimSpace(cell)
		if cell == "" {
			continue
		}
		if !utf8.ValidString(cell) { // see jsonlRecords.next
			return importRecord{}, &lineError{line: line, msg: fmt.Sprintf("column %s: %s", c.header[i], notUTF8)}
		}
		v, err := csvValue(c.header[i], cell)
		if err != nil {
			return importRecord{}, &lineError{line: line, msg: fmt.Sprintf("column %s: %v", c.header[i], err)}
		}
		rec[c.header[i]] = v
	}
	out, err := buildRecord(line, rec, c.kind)
	out.end = c.r.InputOffset()
	return out, err
}

// csvValue types a CSV cell by the Vendor field it fills, as its JSON
// would have it: lists split at ";", products and references as JSON.
func csvValue(col, cell string) (any, error) {
	f := vendorFields.ByJSONName(col)
	if f == nil {
		return cell, nil // id, externalId, vendorId, name
	}
	if f.Kind() == protoreflect.MessageKind || f.Kind() == protoreflect.GroupKind {
		var v any
		d := json.NewDecoder(strings.NewReader(cell))
		d.UseNumber()
		if err := d.Decode(&v); err != nil {
			return nil, fmt.Errorf("want JSON: %v", err)
		}
		return v, nil
	}
	if f.IsList() {
		var list []any
		for _, s := range strings.Split(cell, ";") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		return list, nil
	}
	switch f.Kind() {
	case protoreflect.BoolKind:
		b, err := strconv.ParseBool(cell)
		if err != nil {
			return nil, fmt.Errorf("want true or false, not %q", cell)
		}
		return b, nil
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind:
		if _, err := strconv.ParseInt(cell, 10, 64); err != nil {
			return nil, fmt.Errorf("want a whole number, not %q", cell)
		}
		return json.Number(cell), nil
	}
	return cell, nil
}
