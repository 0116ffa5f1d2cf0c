// Package crashtest holds the appliance's crash test: it builds the real paraphe binary, runs
// `paraphe serve` on a temporary data directory, drives a signing ceremony over HTTP and
// SIGKILLs the process at each step, then checks after every restart that the ceremony resumes
// where it was acknowledged, that the envelope's state and the ledger agree event for event,
// and that the ledger is consistent with the checkpoint seen before the kill.
//
// Steps that run without a request to wait for (signing a signer's documents one after the
// other, inviting the next signer, B-LT/B-LTA, the completion emails) are reached by starting
// the process with CRASHTEST_HOLD=POINT (ceremony.CrashHoldEnv): it stops there for good and
// logs "crashtest: holding at POINT", and the test kills it then.
//
// The package has no code of its own; everything is in its test.
package crashtest
