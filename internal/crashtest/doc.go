// Package crashtest holds the appliance's crash test: it builds the real paraphe binary, runs
// `paraphe serve` on a temporary data directory, drives a signing ceremony over HTTP and
// SIGKILLs the process at each step, then checks after every restart that the ceremony resumes
// where it was acknowledged, that the envelope's state and the ledger agree event for event,
// and that the ledger is consistent with the checkpoint seen before the kill.
//
// The package has no code of its own; everything is in its test.
package crashtest
