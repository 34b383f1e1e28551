package rmqmesh_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// ignoreOption matches a goleak option that hides goroutines.
var ignoreOption = regexp.MustCompile(`goleak\.Ignore(TopFunction|AnyFunction|AnyContainingPkg|Current)\(`)

// Issue 16 item 7: every package's tests end with goleak's check, and the
// only goroutines any of them ignore are the official client's known ones,
// listed once by function name in meshtest.OfficialClientGoroutines (or the
// goroutines that existed before a test, in goleak.VerifyNone calls).
func TestEveryPackageChecksForLeaks(t *testing.T) {
	dirs := map[string]bool{}    // directories with Go code
	checked := map[string]bool{} // … whose tests run goleak.VerifyTestMain
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		dir := filepath.Dir(path)
		dirs[dir] = true
		if !strings.HasSuffix(path, "_test.go") && path != filepath.Join("meshtest", "leaks.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.Contains(string(src), "goleak.VerifyTestMain(") {
			checked[dir] = true
		}
		for _, m := range ignoreOption.FindAllStringSubmatch(string(src), -1) {
			if m[1] == "Current" && strings.HasSuffix(path, "_test.go") {
				continue // goleak.VerifyNone(t, goleak.IgnoreCurrent()) inside a test
			}
			if path != filepath.Join("meshtest", "leaks.go") {
				t.Errorf("%s ignores goroutines with goleak.Ignore%s; only meshtest.OfficialClientGoroutines may", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for dir := range dirs {
		if !checked[dir] {
			t.Errorf("package %s: no test runs goleak.VerifyTestMain", dir)
		}
	}
	if len(dirs) < 20 {
		t.Errorf("found %d packages; the walk missed some", len(dirs))
	}
}
