package consumerkit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	consumerkit "github.com/jwt-rotation-operator/jwt-rotation-operator/sdk/go"
)

// The kit's own timer re-reads a mounted Secret (the conformance suite calls Reload itself).
func TestTimerReloadsMountedSecret(t *testing.T) {
	dir := t.TempDir()
	oldKey, newKey := strings.Repeat("a", 88), strings.Repeat("b", 88)
	must(t, os.WriteFile(filepath.Join(dir, "JWT_SECRET"), []byte(oldKey), 0o600))
	kit, err := consumerkit.Open(context.Background(), consumerkit.Options{SecretDir: dir, ReloadInterval: 50 * time.Millisecond, Logger: quiet})
	must(t, err)
	defer kit.Close()
	if kit.Keys().Current.Kid != consumerkit.Fingerprint(oldKey) {
		t.Fatal("not on the old key")
	}
	must(t, os.WriteFile(filepath.Join(dir, "JWT_SECRET"), []byte(newKey), 0o600))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if kit.Keys().Current.Kid == consumerkit.Fingerprint(newKey) {
			return
		}
	}
	t.Fatal("the new key was not loaded within 10 s")
}
