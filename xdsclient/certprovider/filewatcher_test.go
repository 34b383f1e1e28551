package certprovider

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate and its key made at test
// time and returns their paths and the certificate's common name.
func selfSigned(t *testing.T, dir, cn string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for path, b := range map[string][]byte{
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile
}

func commonName(t *testing.T, km *KeyMaterial) string {
	t.Helper()
	c, err := x509.ParseCertificate(km.Certificates[0].Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return c.Subject.CommonName
}

func TestFileWatcher_ReloadsPerInterval(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := selfSigned(t, dir, "one")
	now := time.Unix(1000, 0)
	w, err := NewFileWatcher(Files{CertificateFile: certFile, PrivateKeyFile: keyFile, CACertificateFile: certFile, RefreshInterval: time.Minute},
		func(w *FileWatcher) { w.now = func() time.Time { return now } })
	if err != nil {
		t.Fatalf("NewFileWatcher() failed: %v", err)
	}
	if km := w.KeyMaterial(); commonName(t, km) != "one" || km.Roots == nil {
		t.Fatalf("first reading: %q, roots %v", commonName(t, km), km.Roots)
	}
	selfSigned(t, dir, "two")
	now = now.Add(59 * time.Second)
	if got := commonName(t, w.KeyMaterial()); got != "one" {
		t.Errorf("before the interval: %q, want the first reading", got)
	}
	now = now.Add(time.Second)
	if got := commonName(t, w.KeyMaterial()); got != "two" {
		t.Errorf("after the interval: %q, want the rotated certificate", got)
	}
	// A broken rotation keeps the last good material.
	if err := os.WriteFile(keyFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	if got := commonName(t, w.KeyMaterial()); got != "two" {
		t.Errorf("after a failed reload: %q, want the last good certificate", got)
	}
}

func TestNewFileWatcher_Errors(t *testing.T) {
	dir := t.TempDir()
	certFile, _ := selfSigned(t, dir, "x")
	tests := []struct {
		files Files
		want  string
	}{
		{Files{CertificateFile: certFile}, "must be set together"},
		{Files{CACertificateFile: filepath.Join(dir, "missing.pem")}, "missing.pem"},
		{Files{CACertificateFile: filepath.Join(dir, "key.pem")}, `no certificates in`},
		{Files{CertificateFile: certFile, PrivateKeyFile: certFile}, `certificate "` + certFile},
	}
	for _, tc := range tests {
		_, err := NewFileWatcher(tc.files)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "certprovider: ") {
			t.Errorf("NewFileWatcher(%+v) error = %v, want it to contain %q", tc.files, err, tc.want)
		}
	}
	w, err := NewFileWatcher(Files{})
	if err != nil {
		t.Fatalf("NewFileWatcher(no files) failed: %v", err)
	}
	if km := w.KeyMaterial(); km.Roots != nil || len(km.Certificates) != 0 {
		t.Errorf("no files: %+v, want system roots and no certificate", km)
	}
}
