package org

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (OWASP 2023 baseline: 19 MiB, 2 passes, 1 lane).
// They are stored in each hash so they can be raised later without breaking
// existing passwords.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// hashSem bounds concurrent hashing so a burst of logins cannot take
// hundreds of megabytes.
var hashSem = make(chan struct{}, 4)

// HashPassword returns an encoded argon2id hash
// ($argon2id$v=19$m=19456,t=2,p=1$salt$key).
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	hashSem <- struct{}{}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	<-hashSem
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword verifies password against an encoded hash in constant time.
// An empty or malformed hash never matches.
func CheckPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<21 || t == 0 || t > 20 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false
	}
	hashSem <- struct{}{}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	<-hashSem
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is verified against when the user does not exist, so that an
// unknown user costs as much time as a wrong password.
var dummyHash, _ = HashPassword("yiwang-dummy-password")

// CheckPasswordPolicy returns "" when password is acceptable, else the reason.
func CheckPasswordPolicy(password, username string) string {
	n := utf8.RuneCountInString(password)
	if n < 10 {
		return "must be at least 10 characters"
	}
	if n > 128 {
		return "must be at most 128 characters"
	}
	var letter, digit, other bool
	for _, r := range password {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsControl(r):
			return "must not contain control characters"
		default:
			other = true
		}
	}
	classes := 0
	for _, b := range []bool{letter, digit, other} {
		if b {
			classes++
		}
	}
	if classes < 2 {
		return "must mix at least two of letters, digits and symbols"
	}
	if username != "" && strings.Contains(strings.ToLower(password), strings.ToLower(username)) {
		return "must not contain the username"
	}
	return ""
}

// Token prefixes make leaked tokens recognisable (secret scanners).
const (
	sessionPrefix = "yws_"
	apiPrefix     = "ywt_"
)

// newToken returns a random token with prefix and the hex SHA-256 stored
// for it. Only the hash is ever written to the store.
func newToken(prefix string) (token, hash string) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	token = prefix + base64.RawURLEncoding.EncodeToString(b)
	return token, tokenHash(token)
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// RandomPassword returns a random password that satisfies the policy
// (for one-time passwords of imported and demo users): three groups of
// five characters from an unambiguous alphabet, with a digit and a letter.
func RandomPassword() string {
	const (
		alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
		digits   = "23456789"
		letters  = "abcdefghijkmnpqrstuvwxyz"
	)
	out := make([]byte, 15)
	for i := range out {
		set := alphabet
		switch i {
		case 3:
			set = digits
		case 7:
			set = letters
		}
		out[i] = set[randIndex(len(set))]
	}
	return string(out[:5]) + "-" + string(out[5:10]) + "-" + string(out[10:])
}

// randIndex returns a uniform random integer in [0, n) for n <= 256.
func randIndex(n int) int {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(err)
		}
		if int(b[0]) < limit {
			return int(b[0]) % n
		}
	}
}
