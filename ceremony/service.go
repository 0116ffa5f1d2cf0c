// Package ceremony runs the signing ceremony: envelopes, documents, fields and signers; the
// rules every signer action must pass; one-time codes; notifications; and the orchestration of
// certificate issuance and PAdES signing.
//
// Guarantees:
//   - A step is acknowledged only once both its state and its ledger events are durable, and
//     after a crash neither exists without the other: the state is written first, in one
//     transaction with the ceremony's copy of the events, and the events are then appended to
//     the ledger. A restarted service appends again every event whose receipt it has not
//     stored (the ledger stores an identical leaf once), before any step runs; a step whose
//     append failed is finished by the next step on the same envelope (see commitStep).
//   - The rules (rules.go) are enforced here, not in the browser: a violation returns an *Error
//     with a machine-readable code and changes nothing, except a wrong or expired code, which is
//     itself a recorded step (otp.failed, otp.locked).
//   - Codes and link tokens are never stored or logged in clear: codes are stored as an
//     HMAC-SHA256 bound to the envelope, the signer and the issuance, keyed with a key kept sealed
//     by Options.Secrets (so the state store alone does not reveal a code); tokens and sessions
//     as SHA-256.
//   - Documents are stored content-addressed and checked against their digest on every read.
package ceremony

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Options configure a Service. DB, DataDir, Ledger, PDF, Issuer and Notifier are required.
type Options struct {
	DB       *badger.DB
	DataDir  string // documents are stored under DataDir/documents
	Ledger   Ledger
	PDF      PDFEngine
	Issuer   CertificateIssuer
	Notifier Notifier
	// BaseURL is the public origin of the appliance, used in links ("https://sign.example.org").
	BaseURL      string
	Organization string // shown to signers and in certificates
	// Brands, when set, gives an envelope the name and logo of its owner's organisation at
	// creation; signers see them instead of Organization (certificates keep Organization).
	Brands BrandSource
	Now    func() time.Time
	Logger *slog.Logger
	Policy Policy // zero: DefaultPolicy
	Limits Limits // zero: DefaultLimits
	// Commit computes commitments; nil means CommitHMAC.
	Commit func(salt []byte, field, value string) string
	// ReceiptWait bounds how long a step's answer waits for its receipt (default 2 s).
	ReceiptWait time.Duration
	// RetryDelays are the pauses between attempts of an email or SMS (default 0.5 s, 2 s).
	RetryDelays []time.Duration
	// SessionTTL is how long a signer's session lasts (default 12 h).
	SessionTTL time.Duration
	// WebhookClient sends webhooks (default: 10 s timeout).
	WebhookClient *http.Client
	// Secrets seals the webhook secrets in the state store. Without it an envelope with a
	// webhook is refused (ErrNoSecrets).
	Secrets Secrets
}

// Service is the ceremony. It is safe for concurrent use; steps on one envelope are serialised.
type Service struct {
	opt    Options
	holdAt string // CrashHoldEnv, read by New: a crash-test hold point, or ""
	docs   *DocStore
	log    *slog.Logger
	now    func() time.Time
	commit func(salt []byte, field, value string) string
	// codeKey keys the hashes of one-time codes (loadOTPKey).
	codeKey []byte

	// state coalesces concurrent writes into one synced Badger transaction.
	state *groupWriter

	mu      sync.Mutex
	locks   map[string]*envLock
	waiters map[string]chan struct{} // event id → closed when its receipt is stored
	// unappended holds, per envelope, the range of event sequence numbers whose state is
	// written but whose ledger append has not succeeded yet in this process.
	unappended map[string]seqRange

	bg     context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type envLock struct {
	mu     sync.Mutex // one step at a time
	sign   sync.Mutex // one signing or finalization at a time
	invite sync.Mutex // one invitation round at a time
	refs   int
}

// EventRef is what a step's answer says about one of its events: its id and type, and its
// receipt once sequenced (Pending is true until then; fetch it later with Service.Receipt).
type EventRef struct {
	ID      string   `json:"id"`
	Type    string   `json:"type"`
	Pending bool     `json:"pending"`
	Receipt *Receipt `json:"receipt,omitempty"`
}

// New opens the ceremony over opt.DB. It finishes any step a crash interrupted (reconcile)
// before returning, and resumes unfinished signing in the background.
func New(ctx context.Context, opt Options) (*Service, error) {
	switch {
	case opt.DB == nil:
		return nil, errors.New("ceremony: no database")
	case opt.DataDir == "":
		return nil, errors.New("ceremony: no data directory")
	case opt.Ledger == nil:
		return nil, errors.New("ceremony: no ledger")
	case opt.PDF == nil:
		return nil, errors.New("ceremony: no PDF engine")
	case opt.Issuer == nil:
		return nil, errors.New("ceremony: no certificate issuer")
	case opt.Notifier == nil:
		return nil, errors.New("ceremony: no notifier")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Policy == (Policy{}) {
		opt.Policy = DefaultPolicy()
	}
	if opt.Limits == (Limits{}) {
		opt.Limits = DefaultLimits()
	}
	if opt.Commit == nil {
		opt.Commit = CommitHMAC
	}
	if opt.ReceiptWait == 0 {
		opt.ReceiptWait = 2 * time.Second
	}
	if opt.RetryDelays == nil {
		opt.RetryDelays = []time.Duration{500 * time.Millisecond, 2 * time.Second}
	}
	if opt.SessionTTL == 0 {
		opt.SessionTTL = 12 * time.Hour
	}
	if opt.WebhookClient == nil {
		opt.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	if opt.Organization == "" {
		opt.Organization = "Paraphe"
	}
	opt.BaseURL = strings.TrimRight(opt.BaseURL, "/")
	docs, err := NewDocStore(opt.DataDir + "/documents")
	if err != nil {
		return nil, fmt.Errorf("ceremony: %w", err)
	}
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &Service{opt: opt, holdAt: os.Getenv(CrashHoldEnv), docs: docs, log: opt.Logger, now: opt.Now, commit: opt.Commit, state: newGroupWriter(opt.DB),
		locks: map[string]*envLock{}, waiters: map[string]chan struct{}{}, unappended: map[string]seqRange{}, bg: bg, cancel: cancel}
	if err := s.migrateSecrets(); err != nil {
		cancel()
		return nil, err
	}
	if s.codeKey, err = s.loadOTPKey(); err != nil {
		cancel()
		return nil, err
	}
	if err := s.reconcile(ctx); err != nil {
		cancel()
		return nil, err
	}
	return s, nil
}

// Close stops background work and waits for it.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	return nil
}

// Documents is the content-addressed document store.
func (s *Service) Documents() *DocStore { return s.docs }

func (s *Service) machine() *machine {
	return &machine{now: s.now(), policy: s.opt.Policy, newID: randomID, commit: s.commit, codeKey: s.codeKey}
}

func randomID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

func randomSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func (s *Service) lock(id string) (*envLock, func()) {
	s.mu.Lock()
	l := s.locks[id]
	if l == nil {
		l = &envLock{}
		s.locks[id] = l
	}
	l.refs++
	s.mu.Unlock()
	return l, func() {
		s.mu.Lock()
		l.refs--
		if l.refs == 0 {
			delete(s.locks, id)
		}
		s.mu.Unlock()
	}
}

// Envelope returns the current state of an envelope.
func (s *Service) Envelope(ctx context.Context, id string) (*Envelope, error) {
	var e Envelope
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(kEnvelope + id))
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error { _, err := decodeEnvelope(v, &e); return err })
	})
	if isNotFound(err) {
		return nil, notFound(CodeEnvelopeNotFound, "no envelope %q", id)
	}
	if err != nil {
		return nil, fmt.Errorf("ceremony: load envelope %s: %w", id, err)
	}
	return &e, nil
}

// writes are extra keys written in the same transaction as a step's state.
type writes struct {
	set map[string][]byte
	del []string
}

func (w *writes) put(key string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own plain structs are written
	}
	if w.set == nil {
		w.set = map[string][]byte{}
	}
	w.set[key] = b
}

// step runs one ceremony step on envelope id under its lock: fn applies the rules to a copy of
// the state and returns the events that record the change. When fn returns events, they are
// made durable in the ledger and then the state is written; fn's error (a rule answer such as a
// wrong code) is returned after that. When fn returns no events, nothing is written.
func (s *Service) step(ctx context.Context, id string, fn func(e *Envelope, m *machine, w *writes) ([]Event, error)) (*Envelope, []Event, error) {
	l, release := s.lock(id)
	defer release()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := s.appendUnappended(ctx, id); err != nil {
		return nil, nil, err
	}
	e, err := s.Envelope(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	w := &writes{}
	evs, ferr := fn(e, s.machine(), w)
	if ferr != nil {
		if re, ok := ferr.(*Error); ok && re == nil {
			ferr = nil
		}
	}
	if len(evs) == 0 {
		return e, nil, ferr
	}
	if err := s.commitStep(ctx, e, evs, w); err != nil {
		return nil, nil, err
	}
	return e, evs, ferr
}

// seqRange is an inclusive range of event sequence numbers of one envelope.
type seqRange struct{ lo, hi uint64 }

// commitStep makes a step durable. The new state, the writes derived from it and the
// ceremony's records of the events go to Badger in one transaction (shared with concurrent
// steps: one sync for many); then the events are appended to the ledger, in order. Only then
// is the step acknowledged.
//
// Writing the state before the append needs no separate marker: an event record without a
// receipt is itself the proof that the event may not be in the ledger yet. After a crash,
// reconcile appends every such event again before any step runs (the ledger stores an
// identical leaf once), so no state outlives a crash without its events, and no event is
// appended before its state is durable. While the process lives, an append that failed is
// retried by the next step on the envelope (appendUnappended), so the ledger keeps the
// envelope's order. Events are validated against the ledger's schema before anything is
// written, so an append cannot fail for the event's own sake.
func (s *Service) commitStep(ctx context.Context, e *Envelope, evs []Event, w *writes) error {
	for _, ev := range evs {
		le, err := ToLedgerEvent(ev)
		if err == nil {
			err = le.Validate()
		}
		if err != nil {
			return fmt.Errorf("ceremony: %s event of envelope %s: %w", ev.Type, e.ID, err)
		}
	}
	s.derive(e, evs, w)
	state, err := s.encodeEnvelope(e)
	if err != nil {
		return err
	}
	first := e.Events - uint64(len(evs)) + 1
	err = s.state.write(func(txn *badger.Txn) error {
		if err := txn.Set([]byte(kEnvelope+e.ID), state); err != nil {
			return err
		}
		for i, ev := range evs {
			k := eventKey(e.ID, first+uint64(i))
			if err := setJSON(txn, k, eventRecord{Seq: first + uint64(i), Event: ev}); err != nil {
				return err
			}
			if err := txn.Set([]byte(kEventID+ev.ID), []byte(k)); err != nil {
				return err
			}
		}
		for k, v := range w.set {
			if err := txn.Set([]byte(k), v); err != nil {
				return err
			}
		}
		for _, k := range w.del {
			if err := txn.Delete([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ceremony: write state of envelope %s: %w", e.ID, err)
	}
	s.mu.Lock()
	r, ok := s.unappended[e.ID]
	if !ok {
		r.lo = first
	}
	r.hi = e.Events
	s.unappended[e.ID] = r
	s.mu.Unlock()
	s.crashHoldEvents("written", evs)
	if err := s.appendEvents(ctx, e.ID, first, evs); err != nil {
		return err
	}
	s.crashHoldEvents("appended", evs)
	return nil
}

// appendEvents appends events of envelope env, numbered from first, in order, and tracks their
// receipts. Once all are appended, the envelope has no unappended events up to the last one.
func (s *Service) appendEvents(ctx context.Context, env string, first uint64, evs []Event) error {
	pendings := make([]Pending, len(evs))
	for i, ev := range evs {
		p, err := s.opt.Ledger.Append(ctx, ev)
		if err != nil {
			return fmt.Errorf("ceremony: append %s event of envelope %s: %w", ev.Type, env, err)
		}
		pendings[i] = p
	}
	last := first + uint64(len(evs)) - 1
	s.mu.Lock()
	if r, ok := s.unappended[env]; ok && r.hi <= last {
		delete(s.unappended, env)
	}
	s.mu.Unlock()
	for i, ev := range evs {
		s.track(env, first+uint64(i), ev, pendings[i])
	}
	return nil
}

// appendUnappended appends again the events of envelope id whose state was written but whose
// append failed earlier in this process. It runs under the envelope's step lock.
func (s *Service) appendUnappended(ctx context.Context, id string) error {
	s.mu.Lock()
	r, ok := s.unappended[id]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	var evs []Event
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		for seq := r.lo; seq <= r.hi; seq++ {
			var rec eventRecord
			if err := getJSON(txn, eventKey(id, seq), &rec); err != nil {
				return err
			}
			evs = append(evs, rec.Event)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ceremony: read unappended events of %s: %w", id, err)
	}
	s.log.Info("ceremony: appending events of an interrupted step", "envelope", id, "events", len(evs))
	return s.appendEvents(ctx, id, r.lo, evs)
}

// receiptPatience is how long track waits for a receipt before appending the event again.
const receiptPatience = 5 * time.Second

// track waits in the background for an event's receipt and stores it. When the receipt is
// slow to come, the event is appended again (the ledger keeps one leaf): an event appended
// twice before it was sequenced (a retried append) may leave the second caller's wait
// unanswered, while an append of a leaf already sequenced is answered at once. It gives up
// after 5 minutes; reconcile tries again at the next start.
func (s *Service) track(env string, seq uint64, ev Event, p Pending) {
	id := ev.ID
	done := make(chan struct{})
	s.mu.Lock()
	s.waiters[id] = done
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.waiters, id)
			s.mu.Unlock()
			close(done)
		}()
		ctx, cancel := context.WithTimeout(s.bg, 5*time.Minute)
		defer cancel()
		var r Receipt
		for {
			wctx, wcancel := context.WithTimeout(ctx, receiptPatience)
			var err error
			r, err = p.Wait(wctx)
			wcancel()
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				s.log.Warn("ceremony: receipt not obtained", "envelope", env, "event", id, "err", err)
				return
			}
			if again, aerr := s.opt.Ledger.Append(ctx, ev); aerr == nil {
				p = again
			}
		}
		k := eventKey(env, seq)
		err := s.state.write(func(txn *badger.Txn) error {
			var rec eventRecord
			if err := getJSON(txn, k, &rec); err != nil {
				return err
			}
			rec.Receipt = &r
			return setJSON(txn, k, rec)
		})
		if err != nil {
			s.log.Error("ceremony: store receipt", "envelope", env, "event", id, "err", err)
		}
	}()
}

// Receipts returns references to the events, waiting up to wait for their receipts.
func (s *Service) Receipts(ctx context.Context, evs []Event, wait time.Duration) []EventRef {
	if wait < 0 {
		wait = s.opt.ReceiptWait
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	out := make([]EventRef, len(evs))
	for i, ev := range evs {
		out[i] = EventRef{ID: ev.ID, Type: ev.Type, Pending: true}
		s.mu.Lock()
		ch := s.waiters[ev.ID]
		s.mu.Unlock()
		if ch != nil {
			select {
			case <-ch:
			case <-deadline.C:
				continue // still being sequenced: no receipt stored yet, no need to look
			case <-ctx.Done():
				continue
			}
		}
		if r, err := s.Receipt(ctx, ev.ID); err == nil && r != nil {
			out[i].Pending, out[i].Receipt = false, r
		}
	}
	return out
}

// Receipt returns the stored receipt of an event, nil while it is not sequenced.
func (s *Service) Receipt(ctx context.Context, eventID string) (*Receipt, error) {
	rec, err := s.event(eventID)
	if err != nil {
		return nil, err
	}
	return rec.Receipt, nil
}

// EventReceipt returns an event by id with its receipt (nil while not sequenced).
func (s *Service) EventReceipt(ctx context.Context, eventID string) (Event, *Receipt, error) {
	rec, err := s.event(eventID)
	if err != nil {
		return Event{}, nil, err
	}
	return rec.Event, rec.Receipt, nil
}

func (s *Service) event(eventID string) (*eventRecord, error) {
	var rec eventRecord
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(kEventID + eventID))
		if err != nil {
			return err
		}
		k, err := it.ValueCopy(nil)
		if err != nil {
			return err
		}
		return getJSON(txn, string(k), &rec)
	})
	if isNotFound(err) {
		return nil, notFound("event_not_found", "no event %q", eventID)
	}
	if err != nil {
		return nil, fmt.Errorf("ceremony: event %s: %w", eventID, err)
	}
	return &rec, nil
}

// TimelineEntry is one event of an envelope as the sender sees it.
type TimelineEntry struct {
	Seq     uint64   `json:"seq"`
	Event   Event    `json:"event"`
	Receipt *Receipt `json:"receipt,omitempty"`
}

// Timeline returns every event of an envelope, in order, with receipts where known.
func (s *Service) Timeline(ctx context.Context, id string) ([]TimelineEntry, error) {
	var out []TimelineEntry
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		return scan(txn, kEvent+id+"/", func(_ string, v []byte) error {
			var rec eventRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			out = append(out, TimelineEntry(rec))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ceremony: timeline of %s: %w", id, err)
	}
	return out, nil
}

// derive adds the writes that follow from a step's events: the active index, scheduled expiry
// and reminders, and webhook deliveries.
func (s *Service) derive(e *Envelope, evs []Event, w *writes) {
	for _, ev := range evs {
		switch ev.Type {
		case EvEnvelopeSent:
			w.put(kActive+e.ID, e.ExpiresAt)
			w.put(dueKey(e.ExpiresAt, e.ID, "expire", ""), "")
			for i, r := range e.Reminders {
				w.put(dueKey(e.SentAt.Add(time.Duration(r)), e.ID, "remind", fmt.Sprint(i)), "")
			}
		case EvSignerCompleted, EvSignerRefused, EvEnvelopeCompleted, EvEnvelopeDeclined, EvEnvelopeExpired:
			if e.Webhook != nil {
				s.queueWebhook(e, ev, w)
			}
		}
		if ev.Type == EvEnvelopeCompleted {
			w.put(completedMailKey(e), "") // the completion emails, until they are sent
		}
	}
	if e.Status.Terminal() {
		w.del = append(w.del, kActive+e.ID)
	}
}

// reconcile appends again, after a restart, every event whose receipt was not stored: the
// events of a step interrupted between its state and its append, and events appended but not
// yet sequenced when the process stopped. The ledger stores an identical leaf once.
func (s *Service) reconcile(ctx context.Context) error {
	return s.retrackReceipts(ctx)
}

// retrackReceipts appends again (idempotently) the events whose receipt was not stored before
// a restart, to obtain their receipts.
func (s *Service) retrackReceipts(ctx context.Context) error {
	type missing struct {
		env string
		rec eventRecord
	}
	var todo []missing
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		return scan(txn, kEvent, func(k string, v []byte) error {
			var rec eventRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			if rec.Receipt == nil {
				todo = append(todo, missing{rec.Event.Envelope, rec})
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ceremony: scan events without receipts: %w", err)
	}
	for _, m := range todo {
		p, err := s.opt.Ledger.Append(ctx, m.rec.Event)
		if err != nil {
			return fmt.Errorf("ceremony: re-append event %s: %w", m.rec.Event.ID, err)
		}
		s.track(m.env, m.rec.Seq, m.rec.Event, p)
	}
	return nil
}

// ValidationError lists every problem of a manifest and its files.
type ValidationError struct {
	Problems []Problem
}

func (v *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d problem(s) in the envelope", len(v.Problems))
	for i, p := range v.Problems {
		if i == 3 {
			b.WriteString("; …")
			break
		}
		fmt.Fprintf(&b, "; %s: %s", p.Path, p.Message)
	}
	return b.String()
}

// Inspect validates a PDF with the configured engine and limits.
func (s *Service) Inspect(ctx context.Context, pdf []byte) (PDFInfo, error) {
	info, err := s.opt.PDF.Inspect(ctx, pdf)
	if err != nil {
		return PDFInfo{}, err
	}
	if len(info.Pages) > s.opt.Limits.MaxPages {
		return PDFInfo{}, fmt.Errorf("%d pages; at most %d are accepted", len(info.Pages), s.opt.Limits.MaxPages)
	}
	return info, nil
}

// Create validates a manifest and its PDFs, stores the documents (prepared with every signer's
// fields) and records a draft envelope (envelope.created). Nothing is stored when anything is
// wrong: the error is a *ValidationError listing every problem.
func (s *Service) Create(ctx context.Context, owner string, m *Manifest, files map[string][]byte) (*Envelope, []Event, error) {
	now := s.now()
	infos, probs := m.Validate(files, now, s.opt.Limits, func(b []byte) (PDFInfo, error) { return s.Inspect(ctx, b) })
	if len(probs) > 0 {
		return nil, nil, &ValidationError{Problems: probs}
	}
	if m.Webhook != nil && s.opt.Secrets == nil {
		return nil, nil, fmt.Errorf("ceremony: the envelope's webhook secret cannot be stored: %w", ErrNoSecrets)
	}
	signerIDs := make([]string, len(m.Signers))
	for i, sg := range m.Signers {
		signerIDs[i] = sg.ID
	}
	type prepared struct {
		original, prepared []byte
		info               PDFInfo
	}
	preps := make([]prepared, len(m.Documents))
	var probsPrep []Problem
	for i, d := range m.Documents {
		orig := files[d.File]
		out, err := s.opt.PDF.Prepare(ctx, orig, d.Fields, signerIDs, d.Signatures)
		if err != nil {
			probsPrep = append(probsPrep, Problem{fmt.Sprintf("documents/%d/file", i), "cannot add the fields: " + err.Error()})
			continue
		}
		info, err := s.Inspect(ctx, out)
		if err != nil || len(info.Pages) != len(infos[d.File].Pages) {
			probsPrep = append(probsPrep, Problem{fmt.Sprintf("documents/%d/file", i), fmt.Sprintf("the prepared PDF is not valid: %v", err)})
			continue
		}
		preps[i] = prepared{orig, out, info}
	}
	if len(probsPrep) > 0 {
		return nil, nil, &ValidationError{Problems: probsPrep}
	}
	brand, err := s.brandOf(ctx, owner)
	if err != nil {
		return nil, nil, err
	}
	e := &Envelope{ID: randomID(), Owner: owner, Title: m.Title, Message: m.Message, Order: m.Order, Status: StatusDraft,
		CreatedAt: now, ExpiresAt: m.ExpiresAt.UTC(), Reminders: m.Reminders, Webhook: m.Webhook, Meta: m.Meta, Brand: brand}
	salt := make([]byte, 32)
	if _, err := rand.Read(salt); err != nil {
		return nil, nil, fmt.Errorf("ceremony: salt: %w", err)
	}
	e.Salt = salt
	docData := map[string]string{}
	for i, d := range m.Documents {
		od, err := s.docs.Put(preps[i].original)
		if err != nil {
			return nil, nil, fmt.Errorf("ceremony: %w", err)
		}
		pd, err := s.docs.Put(preps[i].prepared)
		if err != nil {
			return nil, nil, fmt.Errorf("ceremony: %w", err)
		}
		e.Documents = append(e.Documents, Document{ID: d.ID, Name: d.Name, Original: od, Prepared: pd, Current: pd, Pages: preps[i].info.Pages, Fields: d.Fields, Signatures: d.Signatures})
		docData[d.ID] = pd
	}
	for _, sg := range m.Signers {
		sig := Signer{ID: sg.ID, Name: sg.Name, Email: sg.Email, Phone: sg.Phone, Locale: sg.Locale, Order: sg.Order, Status: SignerWaiting}
		for _, d := range e.Documents {
			sig.Read = append(sig.Read, make([]bool, len(d.Pages)))
		}
		e.Signers = append(e.Signers, sig)
	}
	mc := s.machine()
	ev := mc.event(e, EvEnvelopeCreated, "", map[string]any{"documents": docData, "signers": len(e.Signers), "sender": s.commit(salt, "sender", owner)})
	l, release := s.lock(e.ID)
	defer release()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := s.commitStep(ctx, e, []Event{ev}, &writes{}); err != nil {
		return nil, nil, err
	}
	return e, []Event{ev}, nil
}

// signerIndex finds a signer of an envelope or returns a 404 *Error.
func signerIndex(e *Envelope, id string) (int, error) {
	si := e.signer(id)
	if si < 0 {
		return 0, notFound(CodeSignerNotFound, "no signer %q in envelope %s", id, e.ID)
	}
	return si, nil
}

// Send moves a draft envelope to sent and invites the first signers (all of them in parallel
// order). Invitation failures do not undo the send: they are visible in the deliveries and
// retried by Resume.
func (s *Service) Send(ctx context.Context, id string) (*Envelope, []Event, error) {
	e, evs, err := s.step(ctx, id, func(e *Envelope, m *machine, _ *writes) ([]Event, error) {
		evs, rerr := m.send(e)
		return evs, asErr(rerr)
	})
	if err != nil {
		return nil, nil, err
	}
	more, err := s.inviteDue(ctx, id)
	if err != nil {
		s.log.Warn("ceremony: invitations after send", "envelope", id, "err", err)
	}
	if len(more) > 0 {
		e, _ = s.Envelope(ctx, id)
	}
	return e, append(evs, more...), nil
}

// asErr turns a nil *Error into a nil error.
func asErr(e *Error) error {
	if e == nil {
		return nil
	}
	return e
}

// Void cancels an envelope that is not finished; every signer action is refused afterwards and
// every link stops working.
func (s *Service) Void(ctx context.Context, id, reason string) (*Envelope, []Event, error) {
	return s.step(ctx, id, func(e *Envelope, m *machine, _ *writes) ([]Event, error) {
		evs, rerr := m.void(e, reason)
		return evs, asErr(rerr)
	})
}

// Expire marks an envelope expired if its time has come (the scheduler calls it).
func (s *Service) Expire(ctx context.Context, id string) (*Envelope, []Event, error) {
	return s.step(ctx, id, func(e *Envelope, m *machine, _ *writes) ([]Event, error) {
		evs, rerr := m.expire(e)
		return evs, asErr(rerr)
	})
}

// SignedDocument returns the latest version of document docID: with every signature so far,
// and finalized (B-LTA) once the envelope is completed.
func (s *Service) SignedDocument(ctx context.Context, id, docID string) (*Document, []byte, error) {
	e, err := s.Envelope(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range e.Documents {
		if d.ID == docID {
			if d.Current == d.Prepared {
				return nil, nil, conflict(CodeNotSigned, "document %q carries no signature yet", docID)
			}
			b, err := s.docs.Get(d.Current)
			if err != nil {
				return nil, nil, fmt.Errorf("ceremony: %w", err)
			}
			return &d, b, nil
		}
	}
	return nil, nil, notFound(CodeDocumentNotFound, "no document %q in envelope %s", docID, id)
}

// Deliveries returns the notification outcomes of an envelope.
func (s *Service) Deliveries(ctx context.Context, id string) ([]DeliveryRecord, error) {
	var out []DeliveryRecord
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		return scan(txn, kDelivery+id+"/", func(_ string, v []byte) error {
			var d DeliveryRecord
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
			return nil
		})
	})
	return out, err
}

// CertificateRequest asks for a signer certificate bound to the otp.verified leaf.
type CertificateRequest struct {
	Name, Email, Organization string
	PublicKey                 any // crypto.PublicKey
	LeafIndex                 uint64
	LeafHash                  []byte
}

// CertificateIssuer is what the ceremony needs from the CA.
type CertificateIssuer interface {
	// IssueSigner returns the signer's certificate and the chain above it (issuing CA first).
	IssueSigner(ctx context.Context, req CertificateRequest) (*x509.Certificate, []*x509.Certificate, error)
}
