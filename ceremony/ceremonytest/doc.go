// Package ceremonytest provides what the ceremony's tests run against: a real in-memory ledger,
// a small CA, a test PDF engine, minimal PDFs, a real SMTP sink (go-smtp) and a real HTTP SMS
// sink. The PDF engine and the CA stand in for the pades and ca packages until they are wired
// in; the ledger, SMTP and SMS parts are the real protocols.
package ceremonytest
