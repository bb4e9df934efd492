package verify

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Variables that can carry the secrets, so they need not be on the command
// line (where other local users can read them in the process list).
const (
	envJWTSecret        = "TASKFLOW_VERIFY_JWT_SECRET"
	envBetterAuthSecret = "BETTER_AUTH_SECRET"
)

const commandUsage = `usage: taskflow verify --url URL --origin ORIGIN [flags]

Checks a live deployment: health, CORS, authentication, user isolation,
hidden docs and security headers. Exits non-zero when any check fails.

flags:
`

// Command is `taskflow verify`: args are the flags after the command name;
// getenv supplies the secrets not given as flags. It returns an error when
// the flags are wrong or any check fails.
func Command(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, asJSON, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	report, err := Run(ctx, cfg)
	if err != nil {
		return err
	}
	if asJSON {
		err = report.WriteJSON(stdout)
	} else {
		err = report.WriteTable(stdout)
	}
	if err != nil {
		return err
	}
	if _, failed := report.Counts(); failed > 0 {
		return fmt.Errorf("verify: %d of %d checks failed", failed, len(report.Results))
	}
	return nil
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (Config, bool, error) {
	var cfg Config
	var jwtSecret, betterAuthSecret string
	var asJSON bool
	fs := flag.NewFlagSet("taskflow verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, commandUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.URL, "url", "", "the API's base URL, such as https://app.up.railway.app (required)")
	fs.StringVar(&cfg.Origin, "origin", "", "the frontend's origin, which CORS must allow, such as https://app.vercel.app")
	fs.StringVar(&jwtSecret, "jwt-secret", "", "the deployment's JWT_SECRET_KEY, to mint test users' tokens (default $"+envJWTSecret+")")
	fs.StringVar(&betterAuthSecret, "better-auth-secret", "", "the deployment's BETTER_AUTH_SECRET, to mint frontend tokens (default $"+envBetterAuthSecret+")")
	fs.StringVar(&cfg.Issuer, "issuer", DefaultIssuer, "the deployment's JWT_ISSUER")
	fs.DurationVar(&cfg.Timeout, "timeout", DefaultTimeout, "timeout of each request")
	fs.BoolVar(&asJSON, "json", false, "print a JSON document instead of a table")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("verify: unexpected argument %q (flags only; see taskflow verify -h)", fs.Arg(0))
	}
	cfg.JWTSecret = secretFrom(jwtSecret, "--jwt-secret", getenv, envJWTSecret)
	cfg.BetterAuthSecret = secretFrom(betterAuthSecret, "--better-auth-secret", getenv, envBetterAuthSecret)
	cfg.Deadline = DefaultDeadline
	return cfg, asJSON, validateFlags(&cfg)
}

// secretFrom prefers the flag's value to the variable's, and records which
// one it used.
func secretFrom(flagValue, flagName string, getenv func(string) string, variable string) Secret {
	if flagValue != "" {
		return Secret{Value: flagValue, Source: flagName}
	}
	if v := getenv(variable); v != "" {
		return Secret{Value: v, Source: "$" + variable}
	}
	return Secret{}
}

func validateFlags(cfg *Config) error {
	var problems []string
	switch {
	case cfg.URL == "":
		problems = append(problems, "--url is required")
	case !strings.Contains(cfg.URL, "://"):
		cfg.URL = "https://" + cfg.URL // a bare host name, as Railway shows it
	}
	if cfg.URL != "" && !isHTTPURL(cfg.URL) {
		problems = append(problems, "--url must be an http:// or https:// URL")
	}
	if cfg.Origin != "" && !isOrigin(cfg.Origin) {
		problems = append(problems, "--origin must be an origin such as https://app.vercel.app (scheme, host and optional port)")
	}
	if cfg.Timeout <= 0 || cfg.Timeout > DefaultDeadline {
		problems = append(problems, fmt.Sprintf("--timeout must be more than 0 and at most %s", DefaultDeadline))
	}
	if len(problems) > 0 {
		return errors.New("verify: " + strings.Join(problems, "; "))
	}
	return nil
}

func isHTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func isOrigin(raw string) bool {
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil
}
