// Package ledger runs the Paraphe audit ledger: an append-only, verifiable log of ceremony and
// appliance events, built on Trillian v1.8 run in-process (log server, admin server and one
// sequencer, called directly, no network) over a pluggable storage (Trillian's memory storage
// for tests, Badger for the appliance).
//
// The package guarantees that:
//
//   - [Log.Append] returns only once the event's leaf is durably queued (one storage commit,
//     shared by all concurrent callers: group commit), and rejects events that do not validate
//     (unknown type, missing or extra field, personal data not committed);
//   - every appended event is integrated into the Merkle tree, also after a crash and restart,
//     and [Pending.Wait] then yields a receipt: leaf index, leaf hash, inclusion proof and a
//     signed checkpoint that the proof verifies against;
//   - checkpoints are C2SP tlog-checkpoint signed notes, published after integration at most
//     once per CheckpointInterval, each timestamped by the TSA, stored with their whole history
//     and never for a size smaller than a checkpoint already published;
//   - the public read API ([Log.Handler]) answers from the latest published checkpoint only,
//     rejects bad input with 400 and a message, and never panics.
//
// Verification lives in package ledger/verify and event encoding in ledger/event; neither
// depends on Trillian or on storage.
package ledger
