// Package verify holds the pure verification functions of the Paraphe ledger: signed
// checkpoints (C2SP tlog-checkpoint signed notes), RFC 6962 inclusion and consistency proofs,
// and the recomputation of a tree root from every leaf.
//
// Every function here is a pure function of its arguments: no network, no storage, no clock.
// The package depends on neither Trillian nor Badger, so auditors' tools and
// `paraphe verify` run exactly this code. A nil error means the claim was verified; any other
// result means it was not, and the error says which input failed and why.
package verify
