package consumerkit

import (
	"sync"
	"time"
)

// Sessions counts active sessions as jwt_active_sessions reports them: distinct token subjects seen in a
// successful validation (or a login) within the window, whose token has not expired. A rotation that breaks
// verification makes it fall within one window, which is what the gate's session-drop check looks for.
type Sessions struct {
	mu         sync.Mutex
	window     time.Duration
	maxEntries int
	seen       map[string]session
}

type session struct{ lastSeen, expiresAt time.Time }

// NewSessions counts subjects seen within window, remembering at most maxEntries of them.
func NewSessions(window time.Duration, maxEntries int) *Sessions {
	return &Sessions{window: window, maxEntries: maxEntries, seen: map[string]session{}}
}

// Touch records a subject seen now with a token valid until expiresAt.
func (s *Sessions) Touch(subject string, expiresAt, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen[subject] = session{lastSeen: now, expiresAt: expiresAt}
	if len(s.seen) > s.maxEntries {
		// Bounded memory: past the cap, forget the longest-unseen subject.
		oldest, at := "", now
		for name, e := range s.seen {
			if !e.lastSeen.After(at) {
				oldest, at = name, e.lastSeen
			}
		}
		delete(s.seen, oldest)
	}
}

// Count is the number of active sessions at now.
func (s *Sessions) Count(now time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, e := range s.seen {
		if e.lastSeen.Before(now.Add(-s.window)) || !e.expiresAt.After(now) {
			delete(s.seen, name)
		}
	}
	return len(s.seen)
}
