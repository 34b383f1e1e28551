// Package certprovider supplies TLS key material read from files and read
// again every refresh interval, as gRPC's "file_watcher" certificate
// provider does (gRFC A29, and A65 for xDS channel credentials). The xDS
// client uses it for "tls" channel credentials; the bootstrap's
// certificate_providers instances are FileWatchers too.
//
// A FileWatcher starts no goroutine: it reads the files again on the first
// use after the interval has passed. A failed reload keeps the last good
// material and is logged, so a rotation caught half-written heals on the
// next attempt.
package certprovider

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Files names the PEM files of a FileWatcher. CertificateFile and
// PrivateKeyFile are set together or not at all; an empty
// CACertificateFile means the system roots.
type Files struct {
	CertificateFile   string
	PrivateKeyFile    string
	CACertificateFile string
	// RefreshInterval is how often the files are read again; zero means
	// DefaultRefreshInterval.
	RefreshInterval time.Duration
}

// DefaultRefreshInterval is gRPC's file_watcher default.
const DefaultRefreshInterval = 10 * time.Minute

// KeyMaterial is one reading of the files. It is immutable.
type KeyMaterial struct {
	// Certificates holds the identity certificate, if any.
	Certificates []tls.Certificate
	// Roots holds the trusted CAs, nil for the system roots.
	Roots *x509.CertPool
}

// FileWatcher reads Files and reads them again once per refresh interval.
// It is safe for concurrent use.
type FileWatcher struct {
	// Immutable after construction.
	files  Files
	logger *slog.Logger
	now    func() time.Time

	// Guarded by mu.
	mu     sync.Mutex
	km     *KeyMaterial
	readAt time.Time
}

// Option configures a FileWatcher.
type Option func(*FileWatcher)

// WithLogger sets the logger for failed reloads (default: discard).
func WithLogger(l *slog.Logger) Option { return func(w *FileWatcher) { w.logger = l } }

// NewFileWatcher reads files once; it fails when they cannot be used.
func NewFileWatcher(files Files, opts ...Option) (*FileWatcher, error) {
	if (files.CertificateFile == "") != (files.PrivateKeyFile == "") {
		return nil, errors.New("certprovider: certificate file and private key file must be set together")
	}
	if files.RefreshInterval <= 0 {
		files.RefreshInterval = DefaultRefreshInterval
	}
	w := &FileWatcher{files: files, logger: slog.New(slog.DiscardHandler), now: time.Now}
	for _, o := range opts {
		if o != nil {
			o(w)
		}
	}
	km, err := read(files)
	if err != nil {
		return nil, err
	}
	w.km, w.readAt = km, w.now()
	return w, nil
}

// KeyMaterial returns the current material, reading the files again when
// the refresh interval has passed since the last reading.
func (w *FileWatcher) KeyMaterial() *KeyMaterial {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	if now.Sub(w.readAt) < w.files.RefreshInterval {
		return w.km
	}
	w.readAt = now
	km, err := read(w.files)
	if err != nil {
		w.logger.Warn("cannot reload certificates; keeping the last good ones", "error", err)
		return w.km
	}
	w.km = km
	return km
}

func read(f Files) (*KeyMaterial, error) {
	km := &KeyMaterial{}
	if f.CACertificateFile != "" {
		pem, err := os.ReadFile(f.CACertificateFile)
		if err != nil {
			return nil, fmt.Errorf("certprovider: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("certprovider: no certificates in %q", f.CACertificateFile)
		}
		km.Roots = pool
	}
	if f.CertificateFile != "" {
		cert, err := tls.LoadX509KeyPair(f.CertificateFile, f.PrivateKeyFile)
		if err != nil {
			return nil, fmt.Errorf("certprovider: certificate %q, key %q: %w", f.CertificateFile, f.PrivateKeyFile, err)
		}
		km.Certificates = []tls.Certificate{cert}
	}
	return km, nil
}
