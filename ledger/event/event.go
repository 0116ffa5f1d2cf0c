package event

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"
)

// Version is the value of the "v" member of every leaf this package writes and accepts.
const Version = 1

// MaxLeafSize bounds the encoding of one event. Leaves are records and digests, never documents.
const MaxLeafSize = 16 << 10

// TimeLayout is the layout of the "at" member: RFC 3339, UTC, millisecond precision.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// maxInt is the largest integer a KindInt field may hold (2^53−1, exact as an IEEE 754 double,
// which RFC 8785 assumes for every number).
const maxInt = 1<<53 - 1

// reserved are the member names common to every event; no type-specific field may use them.
var reserved = map[string]bool{"v": true, "id": true, "type": true, "at": true, "envelope": true, "signer": true}

// Event is one ledger leaf before encoding.
//
// Data holds the type-specific fields listed by the type's [Spec]: a KindInt field holds any Go
// integer type (an int64 after [Parse]), a KindDigests field a map[string]string, every other
// kind a string.
type Event struct {
	ID       string         // 32 lowercase hexadecimal digits: 128 random bits (see [NewID])
	Type     Type           // one of [Types]
	At       time.Time      // when it happened; encoded in UTC with millisecond precision
	Envelope string         // envelope identifier (KindID); empty exactly for appliance events
	Signer   string         // signer identifier within the envelope (KindID); set exactly for signer events
	Data     map[string]any // type-specific fields
}

// New returns an event of type t with a fresh random identifier, At set to now truncated to
// the millisecond, and the given identifiers and fields. It does not validate: [Event.Marshal]
// and the ledger's Append do.
func New(t Type, now time.Time, envelope, signer string, data map[string]any) (Event, error) {
	id, err := NewID()
	if err != nil {
		return Event{}, err
	}
	return Event{ID: id, Type: t, At: now.UTC().Truncate(time.Millisecond), Envelope: envelope, Signer: signer, Data: data}, nil
}

// NewID returns a random 128-bit event identifier as 32 lowercase hexadecimal digits.
func NewID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("event: reading random identifier: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Validate reports whether e is a well-formed event of a known type, with exactly the fields
// its type allows, each of the right kind.
func (e Event) Validate() error {
	_, err := e.normalize()
	return err
}

// Marshal returns the canonical JSON encoding (RFC 8785) of e, the bytes of its ledger leaf.
func (e Event) Marshal() ([]byte, error) {
	obj, err := e.normalize()
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("event %s: encoding: %w", e.ID, err)
	}
	v, err := Canonicalize(raw)
	if err != nil {
		return nil, fmt.Errorf("event %s: %w", e.ID, err)
	}
	if len(v) > MaxLeafSize {
		return nil, fmt.Errorf("event %s: encoding is %d bytes, more than the limit of %d", e.ID, len(v), MaxLeafSize)
	}
	return v, nil
}

// Canonicalize returns the RFC 8785 canonical form of a JSON text. It rejects invalid JSON,
// invalid UTF-8 and duplicate member names.
func Canonicalize(raw []byte) ([]byte, error) {
	v := jsontext.Value(bytes.Clone(raw))
	if err := v.Canonicalize(); err != nil {
		return nil, fmt.Errorf("canonicalizing JSON (RFC 8785): %w", err)
	}
	return []byte(v), nil
}

// Parse decodes a ledger leaf. It accepts only the canonical encoding of a valid event, the
// exact output of [Event.Marshal].
func Parse(leaf []byte) (Event, error) {
	if len(leaf) > MaxLeafSize {
		return Event{}, fmt.Errorf("event: leaf is %d bytes, more than the limit of %d", len(leaf), MaxLeafSize)
	}
	v, err := Canonicalize(leaf)
	if err != nil {
		return Event{}, fmt.Errorf("event: leaf: %w", err)
	}
	if !bytes.Equal(v, leaf) {
		return Event{}, errors.New("event: leaf is not in canonical JSON form (RFC 8785)")
	}
	d := json.NewDecoder(bytes.NewReader(leaf))
	d.UseNumber()
	var obj map[string]any
	if err := d.Decode(&obj); err != nil {
		return Event{}, fmt.Errorf("event: leaf is not a JSON object: %w", err)
	}
	if obj == nil {
		return Event{}, errors.New("event: leaf is not a JSON object")
	}
	ver, ok := obj["v"].(json.Number)
	if !ok || ver.String() != strconv.Itoa(Version) {
		return Event{}, fmt.Errorf("event: member \"v\" is %v, want %d", obj["v"], Version)
	}
	var e Event
	str := func(name string, required bool) (string, error) {
		x, present := obj[name]
		if !present {
			if required {
				return "", fmt.Errorf("event: member %q is missing", name)
			}
			return "", nil
		}
		s, ok := x.(string)
		if !ok {
			return "", fmt.Errorf("event: member %q is not a string", name)
		}
		return s, nil
	}
	if e.ID, err = str("id", true); err != nil {
		return Event{}, err
	}
	t, err := str("type", true)
	if err != nil {
		return Event{}, err
	}
	e.Type = Type(t)
	at, err := str("at", true)
	if err != nil {
		return Event{}, err
	}
	if e.At, err = parseTime(at); err != nil {
		return Event{}, err
	}
	if e.Envelope, err = str("envelope", false); err != nil {
		return Event{}, err
	}
	if e.Signer, err = str("signer", false); err != nil {
		return Event{}, err
	}
	for k, x := range obj {
		if reserved[k] {
			continue
		}
		if e.Data == nil {
			e.Data = make(map[string]any)
		}
		e.Data[k] = x
	}
	norm, err := e.normalize()
	if err != nil {
		return Event{}, err
	}
	for k := range e.Data {
		e.Data[k] = norm[k]
	}
	// One event, one encoding: refuse what Marshal would write differently (an empty
	// "envelope" member, for instance).
	if again, err := e.Marshal(); err != nil || !bytes.Equal(again, leaf) {
		return Event{}, errors.New("event: leaf is not the encoding of its event (empty or superfluous members)")
	}
	return e, nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(TimeLayout, s)
	if err != nil || t.Format(TimeLayout) != s {
		return time.Time{}, fmt.Errorf("event: member \"at\" is %q, want UTC time as %s", s, TimeLayout)
	}
	return t, nil
}

// normalize validates e and returns the JSON object to encode, with normalized field values.
func (e Event) normalize() (map[string]any, error) {
	spec, ok := specs[e.Type]
	if !ok {
		return nil, fmt.Errorf("event %s: unknown type %q", e.ID, e.Type)
	}
	if len(e.ID) != 32 || !isLowerHex(e.ID) {
		return nil, fmt.Errorf("event: id %q is not 32 lowercase hexadecimal digits", e.ID)
	}
	if e.At.IsZero() {
		return nil, fmt.Errorf("event %s: time is not set", e.ID)
	}
	if y := e.At.UTC().Year(); y < 1 || y > 9999 {
		return nil, fmt.Errorf("event %s: time %v is outside years 1 to 9999", e.ID, e.At)
	}
	obj := map[string]any{
		"v":    Version,
		"id":   e.ID,
		"type": string(e.Type),
		"at":   e.At.UTC().Format(TimeLayout),
	}
	switch {
	case spec.Scope == ScopeAppliance && (e.Envelope != "" || e.Signer != ""):
		return nil, fmt.Errorf("event %s: type %s concerns the appliance and takes no envelope or signer", e.ID, e.Type)
	case spec.Scope == ScopeEnvelope && e.Signer != "":
		return nil, fmt.Errorf("event %s: type %s concerns an envelope and takes no signer", e.ID, e.Type)
	case spec.Scope == ScopeSigner && e.Signer == "":
		return nil, fmt.Errorf("event %s: type %s requires a signer", e.ID, e.Type)
	}
	if spec.Scope != ScopeAppliance {
		if !isID(e.Envelope) {
			return nil, fmt.Errorf("event %s: envelope %q is not an identifier (1 to 128 of A-Z a-z 0-9 . _ : -)", e.ID, e.Envelope)
		}
		obj["envelope"] = e.Envelope
	}
	if spec.Scope == ScopeSigner {
		if !isID(e.Signer) {
			return nil, fmt.Errorf("event %s: signer %q is not an identifier (1 to 128 of A-Z a-z 0-9 . _ : -)", e.ID, e.Signer)
		}
		obj["signer"] = e.Signer
	}
	known := make(map[string]bool, len(spec.Fields))
	for _, f := range spec.Fields {
		known[f.Name] = true
		x, present := e.Data[f.Name]
		if !present {
			if f.Required {
				return nil, fmt.Errorf("event %s: type %s requires field %q", e.ID, e.Type, f.Name)
			}
			continue
		}
		nv, err := normalizeValue(f.Kind, x)
		if err != nil {
			return nil, fmt.Errorf("event %s: field %q: %w", e.ID, f.Name, err)
		}
		obj[f.Name] = nv
	}
	for k := range e.Data {
		if !known[k] {
			return nil, fmt.Errorf("event %s: type %s has no field %q", e.ID, e.Type, k)
		}
	}
	return obj, nil
}

func normalizeValue(k Kind, x any) (any, error) {
	switch k {
	case KindInt:
		n, err := toInt(x)
		if err != nil {
			return nil, err
		}
		if n < 0 || n > maxInt {
			return nil, fmt.Errorf("integer %d is outside 0 to 2^53-1", n)
		}
		return n, nil
	case KindDigests:
		m, err := toStringMap(x)
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, errors.New("empty map of digests")
		}
		for name, d := range m {
			if !isID(name) {
				return nil, fmt.Errorf("name %q is not an identifier", name)
			}
			if !isHex64(d) {
				return nil, fmt.Errorf("digest of %q is not 64 lowercase hexadecimal digits", name)
			}
		}
		return m, nil
	}
	s, ok := x.(string)
	if !ok {
		return nil, fmt.Errorf("value of type %T, want a string", x)
	}
	switch k {
	case KindID:
		if !isID(s) {
			return nil, fmt.Errorf("%q is not an identifier (1 to 128 of A-Z a-z 0-9 . _ : -)", s)
		}
	case KindDigest:
		if !isHex64(s) {
			return nil, errors.New("not a SHA-256 digest in 64 lowercase hexadecimal digits")
		}
	case KindCommitment:
		if !isHex64(s) {
			return nil, errors.New("not a commitment in 64 lowercase hexadecimal digits (personal data must be committed with event.Commit)")
		}
	case KindText:
		if len(s) == 0 || len(s) > 1024 {
			return nil, fmt.Errorf("text of %d bytes, want 1 to 1024", len(s))
		}
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				return nil, fmt.Errorf("text has byte 0x%02x at %d; only printable ASCII is allowed", s[i], i)
			}
		}
	default:
		return nil, fmt.Errorf("unknown field kind %d", k)
	}
	return s, nil
}

func toInt(x any) (int64, error) {
	switch n := x.(type) {
	case int:
		return int64(n), nil
	case int8:
		return int64(n), nil
	case int16:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case int64:
		return n, nil
	case uint:
		return uintToInt(uint64(n))
	case uint8:
		return int64(n), nil
	case uint16:
		return int64(n), nil
	case uint32:
		return int64(n), nil
	case uint64:
		return uintToInt(n)
	case json.Number:
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("number %s is not an integer", n)
		}
		return i, nil
	}
	return 0, fmt.Errorf("value of type %T, want an integer", x)
}

func uintToInt(n uint64) (int64, error) {
	if n > maxInt {
		return 0, fmt.Errorf("integer %d is outside 0 to 2^53-1", n)
	}
	return int64(n), nil
}

func toStringMap(x any) (map[string]string, error) {
	switch m := x.(type) {
	case map[string]string:
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out, nil
	case map[string]any:
		out := make(map[string]string, len(m))
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("entry %q of type %T, want a string", k, v)
			}
			out[k] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("value of type %T, want a map of strings", x)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func isID(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
