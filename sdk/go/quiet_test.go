package consumerkit_test

import (
	"io"
	"log/slog"
)

// quiet drops the kit's log lines in tests (they carry fingerprints only, but make the output noisy).
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
