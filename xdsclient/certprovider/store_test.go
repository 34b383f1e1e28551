package certprovider

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Issue 16 item 1: a store makes one watcher per instance on first use, and
// a use that fails (the files are not written yet, as when Istio's agent
// starts after the application) is retried by the next one.
func TestStore_LazyAndRetried(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "later-cert.pem"), filepath.Join(dir, "later-key.pem")
	s := NewStore(map[string]Files{"default": {CertificateFile: certFile, PrivateKeyFile: keyFile}})
	if _, err := s.KeyMaterial("missing"); err == nil || !strings.Contains(err.Error(), `no certificate provider instance "missing" (have ["default"])`) {
		t.Fatalf("unknown instance: %v", err)
	}
	if _, err := s.KeyMaterial("default"); err == nil || !strings.Contains(err.Error(), `instance "default"`) {
		t.Fatalf("files not written yet: %v, want an error naming the instance", err)
	}
	c, k := selfSigned(t, dir, "workload")
	if err := os.Rename(c, certFile); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(k, keyFile); err != nil {
		t.Fatal(err)
	}
	km, err := s.KeyMaterial("default")
	if err != nil {
		t.Fatalf("after the files appeared: %v", err)
	}
	if commonName(t, km) != "workload" {
		t.Errorf("common name %q", commonName(t, km))
	}
	w1, _ := s.watcher("default")
	w2, _ := s.watcher("default")
	if w1 != w2 {
		t.Error("the store made a second watcher for one instance")
	}
}
