package keys_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"go.step.sm/crypto/pemutil"

	"github.com/paraphe/paraphe/ca/keys"
)

func TestDataKeySealOpen(t *testing.T) {
	k, err := keys.NewEphemeralDataKey()
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("whsec_0123456789abcdef")
	ad := []byte("webhook/env-1")
	sealed, err := k.Seal(secret, ad)
	if err != nil {
		t.Fatal(err)
	}
	if len(sealed) != len(secret)+keys.SealOverhead || sealed[0] != 1 {
		t.Fatalf("sealed value of %d bytes with key id %d, want %d bytes and id 1", len(sealed), sealed[0], len(secret)+keys.SealOverhead)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("the sealed value holds the plaintext")
	}
	got, err := k.Open(sealed, ad)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v; want the plaintext", got, err)
	}
	again, _ := k.Seal(secret, ad)
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of the same plaintext are equal: the nonce is not random")
	}

	fails := func(what string, v, ad []byte) {
		t.Helper()
		if pt, err := k.Open(v, ad); !errors.Is(err, keys.ErrUnsealable) || pt != nil {
			t.Errorf("%s: Open = %q, %v; want ErrUnsealable", what, pt, err)
		}
	}
	fails("other associated data", sealed, []byte("webhook/env-2"))
	fails("no associated data", sealed, nil)
	for i := range sealed {
		v := bytes.Clone(sealed)
		v[i] ^= 0x01
		fails("byte flipped", v, ad)
	}
	for n := range len(sealed) {
		fails("truncated", sealed[:n], ad)
	}
	fails("extended", append(bytes.Clone(sealed), 0), ad)
	other, _ := keys.NewEphemeralDataKey()
	if _, err := other.Open(sealed, ad); !errors.Is(err, keys.ErrUnsealable) {
		t.Errorf("another key opened the value: %v", err)
	}
	if err := keys.ErrUnsealable.Error(); bytes.Contains([]byte(err), secret) {
		t.Error("the error names the secret")
	}
}

// decryptDataKeyFile decrypts dir/data.key independently of the package.
func decryptDataKeyFile(t *testing.T, dir string, pass []byte) (file, key []byte) {
	t.Helper()
	file, err := os.ReadFile(filepath.Join(dir, "data.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(file)
	if block == nil || block.Type != "PARAPHE ENCRYPTED DATA KEY" {
		t.Fatalf("data.key is not an encrypted data key: %q", file)
	}
	der, err := pemutil.DecryptPKCS8PrivateKey(bytes.Clone(block.Bytes), pass)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Version, ID int
		Key         []byte
	}
	if rest, err := asn1.Unmarshal(der, &f); err != nil || len(rest) != 0 || f.Version != 1 || f.ID != 1 || len(f.Key) != 32 {
		t.Fatalf("data.key content: %+v, %v", f, err)
	}
	return file, f.Key
}

func TestDataKeyFileIsEncryptedAndUsed(t *testing.T) {
	dir := t.TempDir()
	o := opts(dir)
	s, err := keys.Init(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.DataKey() == nil || s.DataKeyCreated {
		t.Fatalf("Init: data key %v, DataKeyCreated %v", s.DataKey(), s.DataKeyCreated)
	}
	st, err := os.Stat(filepath.Join(dir, "data.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("data.key: %v, %v; want mode 0600", st, err)
	}
	file, key := decryptDataKeyFile(t, dir, o.Passphrase)
	block, _ := pem.Decode(file)
	if bytes.Contains(file, key) || bytes.Contains(block.Bytes, key) {
		t.Fatal("data.key holds the key in clear")
	}
	if _, err := pemutil.DecryptPKCS8PrivateKey(bytes.Clone(block.Bytes), []byte("wrong")); err == nil {
		// PKCS#7 padding lets a wrong passphrase through once in 256; then the content differs.
		t.Log("a wrong passphrase passed the padding check")
	}

	// The key in the file is the one the Set seals with (AES-256-GCM, id byte, 96-bit nonce).
	sealed, _ := s.DataKey().Seal([]byte("totp secret"), []byte("user/1"))
	b, _ := aes.NewCipher(key)
	g, _ := cipher.NewGCM(b)
	pt, err := g.Open(nil, sealed[1:13], sealed[13:], append([]byte{1}, "user/1"...))
	if err != nil || string(pt) != "totp secret" {
		t.Fatalf("the file's key does not open what the Set sealed: %q, %v", pt, err)
	}
}

func TestLoadReusesTheDataKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := opts(dir)
	a, err := keys.Init(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := a.DataKey().Seal([]byte("secret"), []byte("ad"))
	a.Close()
	before := snapshot(t, dir)
	for range 2 {
		b, err := keys.Load(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if b.DataKeyCreated {
			t.Error("Load created a data key where one exists")
		}
		if pt, err := b.DataKey().Open(sealed, []byte("ad")); err != nil || string(pt) != "secret" {
			t.Errorf("after a restart the data key does not open what it sealed: %q, %v", pt, err)
		}
		b.Close()
	}
	if !sameSnapshot(before, snapshot(t, dir)) {
		t.Fatal("Load changed the key directory")
	}
}

func TestLoadCreatesAMissingDataKeyOnce(t *testing.T) {
	ctx := context.Background()
	dir, o := initWithoutDataKey(t)
	// A hierarchy made before data keys existed: no data.key, and a manifest that names none.
	forgetDataKeyInManifest(t, dir)
	before := snapshot(t, dir)

	// A wrong passphrase creates nothing (the file would be encrypted under it).
	wrong := opts(dir)
	wrong.Passphrase = []byte("not the passphrase")
	if _, err := keys.Load(ctx, wrong); !errors.Is(err, keys.ErrWrongPassphrase) {
		t.Fatalf("Load with a wrong passphrase: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed Load created data.key: %v", err)
	}

	b, err := keys.Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !b.DataKeyCreated || b.DataKey() == nil {
		t.Fatalf("Load of a hierarchy without data key: created %v, key %v", b.DataKeyCreated, b.DataKey())
	}
	sealed, _ := b.DataKey().Seal([]byte("secret"), nil)
	b.Close()
	decryptDataKeyFile(t, dir, o.Passphrase)
	after := snapshot(t, dir)
	for name, sum := range before {
		if after[name] != sum {
			t.Errorf("Load changed %s", name)
		}
	}
	if len(after) != len(before)+1 {
		t.Errorf("Load left %d files, want %d", len(after), len(before)+1)
	}

	c, err := keys.Load(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.DataKeyCreated {
		t.Error("the data key was created twice")
	}
	if _, err := c.DataKey().Open(sealed, nil); err != nil {
		t.Errorf("the created data key is not the one loaded next: %v", err)
	}
}

func TestLoadNeverReplacesADataKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := opts(dir)
	a, err := keys.Init(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	path := filepath.Join(dir, "data.key")
	for name, content := range map[string][]byte{
		"damaged":   []byte("-----BEGIN PARAPHE ENCRYPTED DATA KEY-----\nAAAA\n-----END PARAPHE ENCRYPTED DATA KEY-----\n"),
		"plaintext": pem.EncodeToMemory(&pem.Block{Type: "AES KEY", Bytes: bytes.Repeat([]byte{7}, 32)}),
		"empty":     nil,
	} {
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := keys.Load(ctx, o)
		if err == nil {
			s.Close()
			t.Fatalf("%s data.key: Load succeeded", name)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
			t.Fatalf("%s data.key: Load replaced it", name)
		}
	}
}

// forgetDataKeyInManifest rewrites hierarchy.json as a key ceremony of before data keys wrote it.
func forgetDataKeyInManifest(t *testing.T, dir string) {
	t.Helper()
	p := filepath.Join(dir, "hierarchy.json")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["data_key"] != "data.key" {
		t.Fatalf("the manifest does not record the data key: %s", b)
	}
	delete(m, "data_key")
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// A data key that the key ceremony made and that has gone missing is an error: a new key could
// not open what the old one sealed, so Load never replaces it silently.
func TestLoadRefusesALostDataKey(t *testing.T) {
	ctx := context.Background()
	dir, o := initWithoutDataKey(t)
	if _, err := keys.Load(ctx, o); !errors.Is(err, keys.ErrDataKeyMissing) {
		t.Fatalf("Load without the ceremony's data key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data.key")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load made a new data key in place of the lost one: %v", err)
	}
}

// initWithoutDataKey runs the key ceremony in a new directory, then deletes its data key.
func initWithoutDataKey(t *testing.T) (string, keys.Options) {
	t.Helper()
	dir := t.TempDir()
	o := opts(dir)
	a, err := keys.Init(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if err := os.Remove(filepath.Join(dir, "data.key")); err != nil {
		t.Fatal(err)
	}
	return dir, o
}
