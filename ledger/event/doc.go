// Package event defines the leaves of the Paraphe ledger: one ceremony or appliance event per
// leaf, encoded as canonical JSON (RFC 8785, JSON Canonicalization Scheme).
//
// The package guarantees that:
//
//   - every event it encodes or accepts has a type from the closed list in [Types], carries
//     exactly the fields that type documents (no more, no fewer), and has a 128-bit identifier;
//   - the encoding of an event is a pure function of the event: [Event.Marshal] is canonical,
//     and [Parse] accepts only canonical input, so a leaf hash identifies one event;
//   - personal data (names, emails, phone numbers, IP addresses, field values, reasons) never
//     appears in clear: such fields must be commitments made with [Commit], which [Parse] and
//     [Event.Validate] check syntactically, and which [OpenCommitment] opens against a salt.
//
// The package has no dependency on Trillian or on any storage: auditors' tools and
// `paraphe verify` import it on its own. docs/LEDGER.md documents every type and field.
package event
