package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.step.sm/crypto/pemutil"
)

// The data key encrypts the secrets that the appliance keeps in its state store and must use
// again (webhook signing keys, TOTP secrets): they cannot be hashed, so they are sealed.
//
// It is a random AES-256 key, stored in dataKeyName as DER (dataKeyFile) encrypted exactly as
// the software key files are (PBES2: PBKDF2-HMAC-SHA256, 600,000 iterations, AES-256-CBC,
// under the passphrase), in a PEM block of type dataKeyPEMType. It is a file also when the
// certified keys are in an HSM, like the ledger key: the KMS layer (go.step.sm/crypto) offers
// signers and RSA decrypters, not a symmetric AEAD, and an HSM round trip for every webhook and
// sign-in is not worth it for secrets that are themselves online.
const (
	dataKeyName    = "data.key"
	dataKeyPEMType = "PARAPHE ENCRYPTED DATA KEY"
	dataKeySize    = 32 // AES-256
	// dataKeyID is the id of the key made by this version: the first byte of every sealed
	// value, so that a later key can be added without re-sealing what the first one sealed.
	dataKeyID = 1
)

// ErrDataKeyMissing is returned by Load when the data key file that the key ceremony made is
// gone: it must be restored from backup, since a new key cannot open what the old one sealed.
var ErrDataKeyMissing = errors.New("keys: the data key is missing")

// ErrUnsealable is returned by DataKey.Open when a sealed value is truncated, altered, bound to
// other associated data, or sealed under another key.
var ErrUnsealable = errors.New("keys: sealed data cannot be opened (damaged, bound to other data, or sealed with another data key)")

// dataKeyFile is the plaintext of the data key file.
type dataKeyFile struct {
	Version int
	ID      int
	Key     []byte
}

// DataKey seals and opens the appliance's stored secrets with AES-256-GCM. A sealed value is
// the key id (one byte), a random 96-bit nonce, then the GCM ciphertext and its 16-byte tag;
// the key id is authenticated with the associated data. Random nonces keep a key safe for 2³²
// seals, far beyond the secrets an appliance stores. It is safe for concurrent use. The key
// itself is never exported.
type DataKey struct {
	id   byte
	aead cipher.AEAD
}

// SealOverhead is how many bytes Seal adds to a plaintext.
const SealOverhead = 1 + 12 + 16

func newDataKey(id byte, key []byte) (*DataKey, error) {
	if len(key) != dataKeySize || id == 0 {
		return nil, errors.New("keys: malformed data key")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keys: data key: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("keys: data key: %w", err)
	}
	return &DataKey{id: id, aead: aead}, nil
}

// NewEphemeralDataKey returns a random data key that exists only in memory: what it seals
// cannot be opened after the process ends. It serves tests and tools; the appliance's data key
// is Set.DataKey.
func NewEphemeralDataKey() (*DataKey, error) {
	key := make([]byte, dataKeySize)
	defer clear(key)
	rand.Read(key)
	return newDataKey(dataKeyID, key)
}

// associated is the data GCM authenticates besides the ciphertext: the key id, then ad.
func (k *DataKey) associated(ad []byte) []byte {
	return append([]byte{k.id}, ad...)
}

// Seal encrypts plaintext and binds it to associatedData (for instance the id of the record
// that holds the secret): Open succeeds only with the same associated data. The error is
// non-nil only if the system's random source fails.
func (k *DataKey) Seal(plaintext, associatedData []byte) ([]byte, error) {
	out := make([]byte, 1, SealOverhead+len(plaintext))
	out[0] = k.id
	return k.aead.Seal(out, nil, plaintext, k.associated(associatedData)), nil
}

// Open decrypts a value made by Seal with the same associated data. Any failure is
// ErrUnsealable.
func (k *DataKey) Open(sealed, associatedData []byte) ([]byte, error) {
	if len(sealed) < SealOverhead || sealed[0] != k.id {
		return nil, ErrUnsealable
	}
	pt, err := k.aead.Open(nil, nil, sealed[1:], k.associated(associatedData))
	if err != nil {
		return nil, ErrUnsealable
	}
	return pt, nil
}

// encryptDataKey makes the content of a new data key file: a random key, encrypted under pass.
func encryptDataKey(pass []byte) (*DataKey, []byte, error) {
	key := make([]byte, dataKeySize)
	defer clear(key)
	rand.Read(key)
	der, err := asn1.Marshal(dataKeyFile{Version: 1, ID: dataKeyID, Key: key})
	if err != nil {
		return nil, nil, fmt.Errorf("keys: encoding the data key: %w", err)
	}
	defer clear(der)
	block, err := pemutil.EncryptPKCS8PrivateKey(rand.Reader, der, pass, x509.PEMCipherAES256)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: encrypting the data key: %w", err)
	}
	block.Type = dataKeyPEMType
	dk, err := newDataKey(dataKeyID, key)
	if err != nil {
		return nil, nil, err
	}
	return dk, pem.EncodeToMemory(block), nil
}

// createDataKey makes a data key and publishes its file in dir without ever replacing one: the
// file is written under a temporary name, synced, then hard-linked to dataKeyName, which fails
// when the name exists. It returns os.ErrExist (wrapped) in that case.
func createDataKey(dir string, pass []byte) (*DataKey, error) {
	dk, file, err := encryptDataKey(pass)
	if err != nil {
		return nil, err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%x.tmp", dataKeyName, rnd))
	if err := writeNew(tmp, file, 0o600); err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, filepath.Join(dir, dataKeyName)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("keys: %s already exists in %s: %w", dataKeyName, dir, os.ErrExist)
		}
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := os.Remove(tmp); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, err
	}
	return dk, nil
}

// readDataKey decrypts dir/dataKeyName. A missing file is reported as os.ErrNotExist
// (wrapped); a plaintext or foreign file is refused; a failure to decrypt or to parse the
// decrypted bytes is ErrWrongPassphrase.
func readDataKey(dir string, pass []byte) (*DataKey, error) {
	_, block, err := readEncryptedPEM(dir, dataKeyName, dataKeyPEMType, "an encrypted data key")
	if err != nil {
		return nil, err
	}
	wrong := fmt.Errorf("%w: cannot decrypt %s in %s (or the file is damaged)", ErrWrongPassphrase, dataKeyName, dir)
	der, err := pemutil.DecryptPKCS8PrivateKey(block.Bytes, pass)
	if err != nil {
		return nil, wrong
	}
	defer clear(der)
	var f dataKeyFile
	rest, err := asn1.Unmarshal(der, &f)
	defer clear(f.Key)
	if err != nil || len(rest) != 0 || f.Version != 1 || f.ID < 1 || f.ID > 255 || len(f.Key) != dataKeySize {
		return nil, wrong
	}
	return newDataKey(byte(f.ID), f.Key)
}
