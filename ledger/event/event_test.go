package event

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

// RFC 8785 §3.2.2 and §3.2.3, and numbers from Appendix B.
func TestCanonicalizeRFC8785Examples(t *testing.T) {
	cases := []struct{ in, want string }{
		{
			`{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}`,
			`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`,
		},
		{
			`{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}`,
			"{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u0080\":\"Control\",\"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\"😀\":\"Emoji: Grinning Face\",\"\ufb33\":\"Hebrew Letter Dalet With Dagesh\"}",
		},
		{`[0, -0, 5e-324, 1.7976931348623157e308, 9007199254740992, 1e21, 999999999999999999999, 0.000001, 1e-7]`,
			`[0,0,5e-324,1.7976931348623157e+308,9007199254740992,1e+21,1e+21,0.000001,1e-7]`},
		{`{"b":[],"a":{"d":1,"c":{}}}`, `{"a":{"c":{},"d":1},"b":[]}`},
	}
	for _, c := range cases {
		got, err := Canonicalize([]byte(c.in))
		if err != nil {
			t.Fatalf("Canonicalize(%s): %v", c.in, err)
		}
		if string(got) != c.want {
			t.Errorf("Canonicalize(%s)\n got %s\nwant %s", c.in, got, c.want)
		}
	}
	for _, bad := range []string{`{"a":1,"a":2}`, "\"\xff\"", `{"a":}`, `[1,]`} {
		if _, err := Canonicalize([]byte(bad)); err == nil {
			t.Errorf("Canonicalize(%q) succeeded, want an error", bad)
		}
	}
}

// sample returns a valid value for each kind.
func sample(k Kind) any {
	switch k {
	case KindID:
		return "doc-1"
	case KindInt:
		return 3
	case KindDigest, KindCommitment:
		return strings.Repeat("ab", 32)
	case KindDigests:
		return map[string]string{"root": strings.Repeat("01", 32), "tsa": strings.Repeat("02", 32)}
	case KindText:
		return "v1.2.3"
	}
	panic("unknown kind")
}

func sampleEvent(t *testing.T, typ Type, optional bool) Event {
	t.Helper()
	spec, ok := Lookup(typ)
	if !ok {
		t.Fatalf("Lookup(%s) failed", typ)
	}
	data := map[string]any{}
	for _, f := range spec.Fields {
		if f.Required || optional {
			data[f.Name] = sample(f.Kind)
		}
	}
	var env, signer string
	if spec.Scope != ScopeAppliance {
		env = "env_42"
	}
	if spec.Scope == ScopeSigner {
		signer = "signer:7"
	}
	e, err := New(typ, time.Date(2026, 11, 26, 10, 0, 0, 123456789, time.FixedZone("CET", 3600)), env, signer, data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEveryTypeRoundTrips(t *testing.T) {
	if len(Types()) < 25 {
		t.Fatalf("%d types, want the documented 25", len(Types()))
	}
	for _, typ := range Types() {
		spec, _ := Lookup(typ)
		for _, f := range spec.Fields {
			if reserved[f.Name] || strings.ContainsRune(f.Name, 0) {
				t.Errorf("type %s: field name %q is reserved", typ, f.Name)
			}
		}
		for _, optional := range []bool{false, true} {
			e := sampleEvent(t, typ, optional)
			leaf, err := e.Marshal()
			if err != nil {
				t.Fatalf("%s: Marshal: %v", typ, err)
			}
			got, err := Parse(leaf)
			if err != nil {
				t.Fatalf("%s: Parse(%s): %v", typ, leaf, err)
			}
			again, err := got.Marshal()
			if err != nil || !bytes.Equal(again, leaf) {
				t.Fatalf("%s: re-encoding gives %s (%v), want %s", typ, again, err, leaf)
			}
			if got.ID != e.ID || got.Type != typ || !got.At.Equal(e.At) || got.Envelope != e.Envelope || got.Signer != e.Signer {
				t.Fatalf("%s: parsed %+v, want %+v", typ, got, e)
			}
			if !bytes.HasPrefix(leaf, []byte(`{"at":"2026-11-26T09:00:00.123Z"`)) {
				t.Fatalf("%s: leaf %s does not start with the UTC millisecond time", typ, leaf)
			}
		}
	}
}

func TestExactEncoding(t *testing.T) {
	e := Event{
		ID: "0123456789abcdef0123456789abcdef", Type: PageRead,
		At:       time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC),
		Envelope: "env-1", Signer: "s-1",
		Data: map[string]any{"page": uint16(7), "document": "d<1>"},
	}
	if _, err := e.Marshal(); err == nil {
		t.Fatal("an identifier with < and > must not validate")
	}
	e.Data["document"] = "d-1"
	leaf, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"at":"2026-01-02T03:04:05.006Z","document":"d-1","envelope":"env-1","id":"0123456789abcdef0123456789abcdef","page":7,"signer":"s-1","type":"page.read","v":1}`
	if string(leaf) != want {
		t.Fatalf("leaf\n got %s\nwant %s", leaf, want)
	}
}

func TestValidateRejects(t *testing.T) {
	ok := sampleEvent(t, InvitationSent, true)
	mod := func(f func(e *Event)) Event {
		e := ok
		e.Data = map[string]any{}
		for k, v := range ok.Data {
			e.Data[k] = v
		}
		f(&e)
		return e
	}
	cases := map[string]Event{
		"unknown type":          mod(func(e *Event) { e.Type = "envelope.teleported" }),
		"clear email":           mod(func(e *Event) { e.Data["email"] = "alice@example.org" }),
		"upper-case commitment": mod(func(e *Event) { e.Data["email"] = strings.Repeat("AB", 32) }),
		"missing field":         mod(func(e *Event) { delete(e.Data, "email") }),
		"extra field":           mod(func(e *Event) { e.Data["phone"] = strings.Repeat("ab", 32) }),
		"no signer":             mod(func(e *Event) { e.Signer = "" }),
		"no envelope":           mod(func(e *Event) { e.Envelope = "" }),
		"short id":              mod(func(e *Event) { e.ID = "abc" }),
		"upper id":              mod(func(e *Event) { e.ID = strings.ToUpper(e.ID) }),
		"zero time":             mod(func(e *Event) { e.At = time.Time{} }),
		"year 10000":            mod(func(e *Event) { e.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }),
		"bad envelope id":       mod(func(e *Event) { e.Envelope = "a b" }),
		"long envelope id":      mod(func(e *Event) { e.Envelope = strings.Repeat("a", 129) }),
		"reserved name":         mod(func(e *Event) { e.Data["id"] = "x" }),
		"int as string":         mod(func(e *Event) { e.Type = OTPFailed; e.Data = map[string]any{"attempt": "3"} }),
		"negative int":          mod(func(e *Event) { e.Type = OTPFailed; e.Data = map[string]any{"attempt": -1} }),
		"int above 2^53":        mod(func(e *Event) { e.Type = OTPFailed; e.Data = map[string]any{"attempt": uint64(1) << 53} }),
		"float":                 mod(func(e *Event) { e.Type = OTPFailed; e.Data = map[string]any{"attempt": 1.5} }),
		"appliance with env":    mod(func(e *Event) { e.Type = ApplianceStarted; e.Signer = ""; e.Data = map[string]any{"version": "1"} }),
		"text with newline": mod(func(e *Event) {
			e.Type = ApplianceStarted
			e.Envelope, e.Signer = "", ""
			e.Data = map[string]any{"version": "1\n2"}
		}),
		"empty digests": mod(func(e *Event) {
			e.Type, e.Signer = EnvelopeCreated, ""
			e.Data = map[string]any{"documents": map[string]string{}, "signers": 1}
		}),
	}
	for name, e := range cases {
		if err := e.Validate(); err == nil {
			t.Errorf("%s: Validate succeeded, want an error", name)
		}
		if _, err := e.Marshal(); err == nil {
			t.Errorf("%s: Marshal succeeded, want an error", name)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Fatalf("the unmodified event does not validate: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	leaf, err := sampleEvent(t, PageRead, true).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := string(leaf)
	cases := map[string]string{
		"whitespace":      strings.Replace(s, ",", ", ", 1),
		"reordered":       `{"v":1,` + strings.Replace(s[1:], `,"v":1`, "", 1),
		"version 2":       strings.Replace(s, `"v":1`, `"v":2`, 1),
		"version string":  strings.Replace(s, `"v":1`, `"v":"1"`, 1),
		"array":           "[" + s + "]",
		"null":            "null",
		"empty":           "",
		"duplicate":       strings.Replace(s, `"v":1}`, `"v":1,"v":1}`, 1),
		"unknown field":   strings.Replace(s, `"type"`, `"x":"y","type"`, 1),
		"page as float":   strings.Replace(s, `"page":3`, `"page":3.5`, 1),
		"time not UTC ms": strings.Replace(s, `.123Z`, `.123456Z`, 1),
		"too big":         s + strings.Repeat(" ", MaxLeafSize),
		"empty member":    strings.Replace(s, `"id"`, `"extra_signer":"","id"`, 1),
	}
	for name, in := range cases {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: Parse(%s) succeeded, want an error", name, in)
		}
	}
}

func TestParseRejectsEmptyIdentifiers(t *testing.T) {
	leaf, err := sampleEvent(t, ApplianceStarted, true).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	withEnv := strings.Replace(string(leaf), `"id"`, `"envelope":"","id"`, 1)
	if _, err := Parse([]byte(withEnv)); err == nil {
		t.Fatalf("Parse accepted an appliance event with an empty envelope member: %s", withEnv)
	}
	leaf, _ = sampleEvent(t, EnvelopeSent, true).Marshal()
	withSigner := strings.Replace(string(leaf), `"type"`, `"signer":"","type"`, 1)
	if _, err := Parse([]byte(withSigner)); err == nil {
		t.Fatalf("Parse accepted an envelope event with an empty signer member: %s", withSigner)
	}
}

func TestCommitments(t *testing.T) {
	salt, err := NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	c := Commit(salt, "email", "alice@example.org")
	m := hmac.New(sha256.New, salt)
	m.Write([]byte("email\x00alice@example.org"))
	if want := hex.EncodeToString(m.Sum(nil)); c != want {
		t.Fatalf("Commit = %s, want HMAC-SHA256(salt, field 0x00 value) = %s", c, want)
	}
	if !OpenCommitment(salt, "email", "alice@example.org", c) {
		t.Fatal("OpenCommitment rejects the right value")
	}
	other, _ := NewSalt()
	for name, ok := range map[string]bool{
		"other value":    OpenCommitment(salt, "email", "bob@example.org", c),
		"other field":    OpenCommitment(salt, "phone", "alice@example.org", c),
		"other salt":     OpenCommitment(other, "email", "alice@example.org", c),
		"shifted split":  OpenCommitment(salt, "emai", "lalice@example.org", c),
		"malformed":      OpenCommitment(salt, "email", "alice@example.org", c[:63]),
		"upper-case hex": OpenCommitment(salt, "email", "alice@example.org", strings.ToUpper(c)),
	} {
		if ok {
			t.Errorf("%s: OpenCommitment accepted", name)
		}
	}
	e := sampleEvent(t, InvitationSent, false)
	e.Data["email"] = c
	if err := e.Validate(); err != nil {
		t.Fatalf("event with a commitment does not validate: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, typ := range []Type{PageRead, EnvelopeCreated, ApplianceInitialized, OTPFailed} {
		e := Event{ID: strings.Repeat("0f", 16), Type: typ, At: time.Unix(1e9, 0)}
		if leaf, err := e.Marshal(); err == nil {
			f.Add(leaf)
		}
	}
	f.Add([]byte(`{"at":"2026-01-02T03:04:05.006Z","document":"d-1","envelope":"env-1","id":"0123456789abcdef0123456789abcdef","page":7,"signer":"s-1","type":"page.read","v":1}`))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, leaf []byte) {
		e, err := Parse(leaf)
		if err != nil {
			return
		}
		again, err := e.Marshal()
		if err != nil {
			t.Fatalf("Parse accepted %q but Marshal fails: %v", leaf, err)
		}
		if !bytes.Equal(again, leaf) {
			t.Fatalf("Parse accepted %q, which re-encodes as %q", leaf, again)
		}
	})
}
