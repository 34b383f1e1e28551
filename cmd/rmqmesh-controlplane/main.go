// Command rmqmesh-controlplane is rmqmesh's control plane: it discovers a
// RocketMQ cluster from its nameservers, applies a policy file, and serves
// the result over xDS (state of the world and delta ADS on one gRPC port) to
// rmqmesh clients and Envoy sidecars alike.
//
//	rmqmesh-controlplane -nameservers 127.0.0.1:9876 -policy policy.yaml \
//	    -listen 127.0.0.1:18000 -admin 127.0.0.1:18001
//
// Every flag can also be set from the environment: RMQMESH_CP_ and the
// flag's name in capitals with "-" as "_" (RMQMESH_CP_NAMESERVERS,
// RMQMESH_CP_POLICY, ...); NAMESRV_ADDR, RocketMQ's own variable, is read
// for the nameservers too. A flag wins over the environment.
//
// Admin endpoints: /healthz (readiness: 503 until a nameserver has
// answered, and no client is answered before), /livez (liveness),
// /config_dump, /clients, /metrics. The policy file is reloaded when it
// changes; an edit that does not validate is refused and logged, and the
// previous policy keeps serving.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/rmqmesh/rmqmesh/controlplane"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "rmqmesh-controlplane:", err)
		}
		os.Exit(2)
	}
}

// config is what the flags say.
type config struct {
	nameservers  string
	policy       string
	listen       string
	admin        string
	tlsCert      string
	tlsKey       string
	tlsClientCA  string
	pollInterval time.Duration
	topicRefresh time.Duration
	holdTimeout  time.Duration
	logLevel     string
	logFormat    string
}

// run parses args (falling back to the environment), starts the control
// plane, calls ready with it if not nil, and serves until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(*controlplane.Server)) error {
	var c config
	fs := flag.NewFlagSet("rmqmesh-controlplane", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv("RMQMESH_CP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))); v != "" {
			return v
		}
		return def
	}
	dur := func(name string, def time.Duration) time.Duration {
		if d, err := time.ParseDuration(env(name, "")); err == nil {
			return d
		}
		return def
	}
	fs.StringVar(&c.nameservers, "nameservers", env("nameservers", strings.ReplaceAll(getenv("NAMESRV_ADDR"), ";", ",")), "RocketMQ nameservers, host:port, comma-separated (env RMQMESH_CP_NAMESERVERS or NAMESRV_ADDR)")
	fs.StringVar(&c.policy, "policy", env("policy", ""), "policy file (YAML), reloaded when it changes")
	fs.StringVar(&c.listen, "listen", env("listen", ":18000"), "xDS (gRPC ADS) listen address")
	fs.StringVar(&c.admin, "admin", env("admin", ":18001"), "admin listen address (/healthz, /livez, /config_dump, /clients, /metrics); empty disables it")
	fs.StringVar(&c.tlsCert, "tls-cert", env("tls-cert", ""), "serve xDS over TLS with this certificate (PEM)")
	fs.StringVar(&c.tlsKey, "tls-key", env("tls-key", ""), "private key of -tls-cert (PEM)")
	fs.StringVar(&c.tlsClientCA, "tls-client-ca", env("tls-client-ca", ""), "require client certificates signed by this CA (PEM): mutual TLS")
	fs.DurationVar(&c.pollInterval, "poll-interval", dur("poll-interval", 5*time.Second), "how often brokers are polled")
	fs.DurationVar(&c.topicRefresh, "topic-refresh", dur("topic-refresh", 30*time.Second), "how often a held topic's queue data is asked again")
	fs.DurationVar(&c.holdTimeout, "hold-timeout", dur("hold-timeout", 5*time.Second), "how long a client's first answer waits for the queue data of a topic it newly subscribes to; negative: not at all")
	fs.StringVar(&c.logLevel, "log-level", env("log-level", "info"), "debug, info, warn or error")
	fs.StringVar(&c.logFormat, "log-format", env("log-format", "text"), "text or json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	log, err := newLogger(stderr, c.logLevel, c.logFormat)
	if err != nil {
		return err
	}
	opts, err := c.options(log)
	if err != nil {
		return err
	}
	s, err := controlplane.New(opts...)
	if err != nil {
		return err
	}
	defer s.Close()
	if ready != nil {
		ready(s)
	}
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}

func (c *config) options(log *slog.Logger) ([]controlplane.Option, error) {
	var ns []string
	for _, a := range strings.Split(c.nameservers, ",") {
		if a = strings.TrimSpace(a); a != "" {
			ns = append(ns, a)
		}
	}
	if len(ns) == 0 {
		return nil, errors.New("no nameservers: set -nameservers host:port[,host:port...]")
	}
	if c.policy == "" {
		return nil, errors.New("no policy file: set -policy FILE")
	}
	opts := []controlplane.Option{
		controlplane.WithNameservers(ns...),
		controlplane.WithPolicyFile(c.policy),
		controlplane.WithListenAddress(c.listen),
		controlplane.WithLogger(log),
		controlplane.WithPollInterval(c.pollInterval),
		controlplane.WithTopicRefresh(c.topicRefresh),
		controlplane.WithHoldTimeout(c.holdTimeout),
	}
	if c.admin != "" {
		opts = append(opts, controlplane.WithAdminAddress(c.admin))
	}
	creds, err := c.tlsCredentials()
	if err != nil {
		return nil, err
	}
	if creds != nil {
		opts = append(opts, controlplane.WithGRPCServerOptions(grpc.Creds(creds)))
	}
	return opts, nil
}

func (c *config) tlsCredentials() (credentials.TransportCredentials, error) {
	if c.tlsCert == "" && c.tlsKey == "" {
		if c.tlsClientCA != "" {
			return nil, errors.New("-tls-client-ca needs -tls-cert and -tls-key")
		}
		return nil, nil
	}
	if c.tlsCert == "" || c.tlsKey == "" {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("TLS key pair %q, %q: %w", c.tlsCert, c.tlsKey, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.tlsClientCA != "" {
		pem, err := os.ReadFile(c.tlsClientCA)
		if err != nil {
			return nil, fmt.Errorf("client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client CA %q: no PEM certificate in it", c.tlsClientCA)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(cfg), nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}
