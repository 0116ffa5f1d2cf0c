package keys

import (
	"context"
	"crypto"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"go.step.sm/crypto/kms"
	"go.step.sm/crypto/kms/apiv1"
	"go.step.sm/crypto/kms/softkms"
	"go.step.sm/crypto/pemutil"

	// The PKCS#11 key manager registers itself for "pkcs11:" URIs. It needs cgo: without it a
	// stub registers and kms.New fails at run time with a clear "compiled without cgo" error.
	_ "go.step.sm/crypto/kms/pkcs11"
)

const (
	backendFiles  = "files"
	backendPKCS11 = "pkcs11"
)

// backend holds the keys: certified keys in the HSM when one is configured, otherwise (and for
// the ledger key always) in passphrase-encrypted files in the directory.
type backend struct {
	dir  string
	pass []byte
	soft *softkms.SoftKMS
	hsm  kms.KeyManager // nil without a pkcs11: URI
	// hsmMu serialises key creation in the token: the ceremony makes keys in parallel (for the
	// cost of encrypting files), and SoftHSM2's file store fails now and then
	// (CKR_GENERAL_ERROR) under concurrent key generation.
	hsmMu sync.Mutex
}

func openBackend(ctx context.Context, o *Options) (*backend, error) {
	soft, err := softkms.New(ctx, apiv1.Options{Type: apiv1.SoftKMS})
	if err != nil {
		return nil, fmt.Errorf("keys: softkms: %w", err)
	}
	b := &backend{dir: o.Dir, pass: o.Passphrase, soft: soft}
	if o.KMS != "" {
		km, err := kms.New(ctx, apiv1.Options{Type: apiv1.PKCS11, URI: o.KMS})
		if err != nil {
			// The URI may hold the PIN: never echo it.
			return nil, fmt.Errorf("keys: opening the HSM (%s): %w", redactURI(o.KMS), err)
		}
		b.hsm = km
	}
	return b, nil
}

func (b *backend) kind() string {
	if b.hsm != nil {
		return backendPKCS11
	}
	return backendFiles
}

func (b *backend) close() error {
	if b.hsm != nil {
		return b.hsm.Close()
	}
	return nil
}

// hsmObjectID is the CKA_ID of a role's key: "paraphe" followed by the role's index.
func hsmObjectURI(role string) string {
	idx := 0
	for i, r := range certRoles {
		if r == role {
			idx = i + 1
		}
	}
	id := hex.EncodeToString(append([]byte("paraphe"), byte(idx)))
	return fmt.Sprintf("pkcs11:id=%s;object=paraphe-%s", id, role)
}

// createCertified makes the key of a certified role, in the HSM if there is one.
func (b *backend) createCertified(role string, alg apiv1.SignatureAlgorithm) (crypto.Signer, string, error) {
	if b.hsm == nil {
		return b.createFile(role, alg)
	}
	b.hsmMu.Lock()
	defer b.hsmMu.Unlock()
	name := hsmObjectURI(role)
	if err := b.absentInHSM(role); err != nil {
		return nil, "", err
	}
	if _, err := b.hsm.CreateKey(&apiv1.CreateKeyRequest{Name: name, SignatureAlgorithm: alg}); err != nil {
		if errors.Is(err, apiv1.AlreadyExistsError{}) {
			return nil, "", fmt.Errorf("%w: the HSM token already holds %s", ErrInitialized, name)
		}
		return nil, "", fmt.Errorf("keys: creating the %s key in the HSM: %w", role, err)
	}
	s, err := b.hsm.CreateSigner(&apiv1.CreateSignerRequest{SigningKey: name})
	if err != nil {
		return nil, "", fmt.Errorf("keys: opening the new %s key in the HSM: %w", role, err)
	}
	return s, name, nil
}

// preflight refuses, before anything is created, when the HSM already holds any key the
// ceremony would make.
func (b *backend) preflight() error {
	if b.hsm == nil {
		return nil
	}
	for _, role := range certRoles {
		if err := b.absentInHSM(role); err != nil {
			return err
		}
	}
	return nil
}

// absentInHSM checks that no object matches the role's key by id or by label alone: a key
// is never shadowed.
func (b *backend) absentInHSM(role string) error {
	id, label, _ := strings.Cut(strings.TrimPrefix(hsmObjectURI(role), "pkcs11:"), ";")
	for _, probe := range []string{"pkcs11:" + id, "pkcs11:" + label} {
		_, err := b.hsm.GetPublicKey(&apiv1.GetPublicKeyRequest{Name: probe})
		switch {
		case err == nil:
			return fmt.Errorf("%w: the HSM token already holds a key %s (delete it by hand to run the ceremony again)", ErrInitialized, probe)
		case errors.Is(err, apiv1.NotFoundError{}), strings.Contains(err.Error(), "not found"):
		default:
			return fmt.Errorf("keys: looking for %s in the HSM: %w", probe, err)
		}
	}
	return nil
}

// createFile generates a key in memory and writes it, encrypted, to DIR/ROLE.key, which must
// not exist.
func (b *backend) createFile(role string, alg apiv1.SignatureAlgorithm) (crypto.Signer, string, error) {
	res, err := b.soft.CreateKey(&apiv1.CreateKeyRequest{SignatureAlgorithm: alg})
	if err != nil {
		return nil, "", fmt.Errorf("keys: generating the %s key: %w", role, err)
	}
	signer, ok := res.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, "", fmt.Errorf("keys: generated %s key is a %T, not a signer", role, res.PrivateKey)
	}
	block, err := pemutil.Serialize(res.PrivateKey, pemutil.WithPKCS8(true), pemutil.WithPassword(b.pass))
	if err != nil {
		return nil, "", fmt.Errorf("keys: encrypting the %s key: %w", role, err)
	}
	if block.Type != encryptedKeyType {
		return nil, "", fmt.Errorf("keys: the %s key was not encrypted", role)
	}
	name := role + ".key"
	if err := writeNew(filepath.Join(b.dir, name), pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, "", err
	}
	return signer, name, nil
}

const encryptedKeyType = "ENCRYPTED PRIVATE KEY"

// loadCertified opens the signer of a role from its manifest reference.
func (b *backend) loadCertified(ref string) (crypto.Signer, error) {
	if strings.HasPrefix(ref, "pkcs11:") {
		if b.hsm == nil {
			return nil, errors.New("keys: a key is in an HSM but no pkcs11: KMS URI is configured")
		}
		s, err := b.hsm.CreateSigner(&apiv1.CreateSignerRequest{SigningKey: ref})
		if err != nil {
			return nil, fmt.Errorf("keys: opening %s in the HSM: %w", ref, err)
		}
		return s, nil
	}
	return b.loadFile(ref)
}

// loadFile decrypts DIR/NAME. It refuses a plaintext key, and reports any failure to decrypt
// or to parse the decrypted bytes as ErrWrongPassphrase (PKCS#8 padding cannot always tell a
// wrong passphrase from a damaged file; the caller also checks the key against its
// certificate).
func (b *backend) loadFile(name string) (crypto.Signer, error) {
	if name != filepath.Base(name) || name == "." || name == ".." {
		return nil, fmt.Errorf("keys: key reference %q is not a file name in the key directory", name)
	}
	data, _, err := readEncryptedPEM(b.dir, name, encryptedKeyType, "an encrypted private key")
	if err != nil {
		return nil, err
	}
	s, err := b.soft.CreateSigner(&apiv1.CreateSignerRequest{SigningKeyPEM: data, Password: b.pass})
	if err != nil {
		return nil, fmt.Errorf("%w: cannot decrypt %s in %s (or the file is damaged)", ErrWrongPassphrase, name, b.dir)
	}
	return s, nil
}

// writeNew writes a file that must not exist yet, and syncs it.
func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("%w: %s already exists", ErrInitialized, path)
		}
		return fmt.Errorf("keys: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("keys: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("keys: syncing %s: %w", path, err)
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keys: syncing %s: %w", dir, err)
	}
	return nil
}

// redactURI drops the query (pin-value, pin-source) of a KMS URI.
func redactURI(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}

// readEncryptedPEM reads dir/name, which must hold exactly one PEM block, of type typ (what
// says what that is, for the error): a plaintext or foreign file is refused.
func readEncryptedPEM(dir, name, typ, what string) ([]byte, *pem.Block, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, nil, fmt.Errorf("keys: %w", err)
	}
	block, rest := pem.Decode(data)
	if block == nil || len(strings.TrimSpace(string(rest))) != 0 {
		return nil, nil, fmt.Errorf("keys: %s is not a single PEM block", name)
	}
	if block.Type != typ {
		return nil, nil, fmt.Errorf("keys: %s is not %s (PEM type %q); refusing a plaintext or foreign file", name, what, block.Type)
	}
	return data, block, nil
}
