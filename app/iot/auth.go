package iot

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

// Device secrets are random (24 bytes, base64url) and stored only as an
// argon2id hash. Verifying argon2id costs ~5 ms of CPU and 8 MiB, so a
// reconnect storm (a county's sensors after a power cut, a gateway that
// reconnects in a loop) would pin the CPU. The authenticator therefore
// remembers, per device, an HMAC of the last secret that verified (keyed by
// a per-process random key, so the cache never holds anything reusable)
// together with the stored hash it verified against: a later CONNECT with
// the same secret and an unchanged hash is a constant-time comparison.
// Rotation changes the stored hash, which invalidates the entry. Failures
// are remembered briefly too, so a device hammering with a wrong secret
// costs one hash per failureTTL, and hashing is bounded by a semaphore.

const (
	successTTL = 10 * time.Minute
	failureTTL = 30 * time.Second
)

type authEntry struct {
	mac  [32]byte
	hash string // stored hash the secret verified against
	ok   bool
	exp  time.Time
}

type authenticator struct {
	m   *Module
	key [32]byte
	sem chan struct{}

	mu    sync.Mutex
	cache map[string]authEntry
}

var _ mqtt.DeviceAuthenticator = (*authenticator)(nil)

func newAuthenticator(m *Module) *authenticator {
	a := &authenticator{m: m, sem: make(chan struct{}, max(2, runtime.GOMAXPROCS(0))), cache: map[string]authEntry{}}
	if _, err := rand.Read(a.key[:]); err != nil {
		panic(err)
	}
	return a
}

func (a *authenticator) mac(device, secret string) [32]byte {
	h := hmac.New(sha256.New, a.key[:])
	h.Write([]byte(device))
	h.Write([]byte{0})
	h.Write([]byte(secret))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

// newSecret returns a device secret and its hash.
func newSecret() (secret, hash string, err error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, hashSecret(secret), nil
}

// Secret hashing parameters. A device secret has 192 random bits, so the
// hash needs no password-grade work factor to resist guessing; argon2id
// with 8 MiB and one pass (~5 ms) keeps a cold reconnect of thousands of
// devices (after a restart, when the verified-credentials cache is empty)
// in seconds rather than minutes. The encoding is the one org uses for
// passwords, parameters included, so org.CheckPassword verifies it and the
// parameters can change later without breaking stored hashes.
const (
	secretArgonTime   = 1
	secretArgonMemory = 8 * 1024 // KiB
)

func hashSecret(secret string) string {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		panic(err)
	}
	key := argon2.IDKey([]byte(secret), salt, secretArgonTime, secretArgonMemory, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=1$%s$%s", argon2.Version, secretArgonMemory, secretArgonTime,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// AuthenticateDevice implements mqtt.DeviceAuthenticator.
func (a *authenticator) AuthenticateDevice(ctx context.Context, device, secret string) (mqtt.Principal, error) {
	if !validDeviceID(device) || secret == "" || len(secret) > 256 {
		return mqtt.Principal{}, mqtt.ErrDenied
	}
	var typ, status, hash string
	var isGW bool
	err := a.m.st.DB().QueryRowContext(ctx, `SELECT type, status, secret_hash, is_gateway FROM iot_device WHERE id = ?`, device).
		Scan(&typ, &status, &hash, &isGW)
	if errors.Is(err, sql.ErrNoRows) || status == StatusRetired {
		return mqtt.Principal{}, mqtt.ErrDenied
	}
	if err != nil {
		return mqtt.Principal{}, err
	}
	mac := a.mac(device, secret)
	now := time.Now()
	a.mu.Lock()
	e, hit := a.cache[device]
	a.mu.Unlock()
	ok := false
	switch {
	case hit && now.Before(e.exp) && e.hash == hash && hmac.Equal(e.mac[:], mac[:]):
		ok = e.ok
	default:
		select {
		case a.sem <- struct{}{}:
		case <-ctx.Done():
			return mqtt.Principal{}, ctx.Err()
		}
		ok = org.CheckPassword(hash, secret)
		<-a.sem
		ttl := successTTL
		if !ok {
			ttl = failureTTL
		}
		a.mu.Lock()
		if len(a.cache) > 200000 {
			clear(a.cache)
		}
		// A failure never evicts a remembered success: a wrong secret
		// presented for a device must not slow the device itself down.
		if ok || !hit || !e.ok || e.hash != hash {
			a.cache[device] = authEntry{mac: mac, hash: hash, ok: ok, exp: now.Add(ttl)}
		}
		a.mu.Unlock()
	}
	if !ok {
		return mqtt.Principal{}, mqtt.ErrDenied
	}
	p := mqtt.Principal{Device: device, Type: typ}
	if isGW {
		rows, err := a.m.st.DB().QueryContext(ctx, `SELECT id, type FROM iot_device WHERE gateway_id = ? AND status != 'retired'`, device)
		if err != nil {
			return mqtt.Principal{}, err
		}
		defer rows.Close()
		p.Children = map[string]string{}
		for rows.Next() {
			var id, t string
			if err := rows.Scan(&id, &t); err != nil {
				return mqtt.Principal{}, err
			}
			p.Children[id] = t
		}
		if err := rows.Err(); err != nil {
			return mqtt.Principal{}, err
		}
	}
	return p, nil
}

// AuthenticateSession implements mqtt.DeviceAuthenticator: a console
// session (or API) token, validated by the org module exactly as for the
// HTTP API, scoped to the devices the user may read.
func (a *authenticator) AuthenticateSession(ctx context.Context, token string) (mqtt.Principal, error) {
	auth := a.m.opts.Sessions
	if auth == nil || token == "" {
		return mqtt.Principal{}, mqtt.ErrDenied
	}
	r, err := http.NewRequestWithContext(ctx, "GET", "http://mqtt.invalid/", nil)
	if err != nil {
		return mqtt.Principal{}, err
	}
	r.Header.Set("Authorization", "Bearer "+token)
	p, err := auth.Authenticate(r)
	if err != nil || p == nil || !p.Can(httpapi.PermIoTRead) {
		return mqtt.Principal{}, mqtt.ErrDenied
	}
	out := mqtt.Principal{User: p.Username}
	if out.User == "" {
		out.User = p.Actor()
	}
	if p.Scope.Kind == httpapi.ScopeAll {
		out.AllDevices = true
		return out, nil
	}
	cond, args := p.ScopeFilter(scopeCols)
	rows, err := a.m.st.DB().QueryContext(ctx, `SELECT id FROM iot_device WHERE status != 'retired' AND `+cond, args...)
	if err != nil {
		return mqtt.Principal{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return mqtt.Principal{}, err
		}
		out.Devices = append(out.Devices, id)
	}
	return out, rows.Err()
}

var scopeCols = httpapi.ScopeColumns{Dept: "owner_dept_id", Grid: "grid_code"}
