// Package ceremonytest provides what the ceremony's tests run against: a real in-memory ledger,
// a small CA, a test PDF engine, minimal PDFs, a real SMTP sink (go-smtp), a real HTTP SMS
// sink, and a reader of where a PDF's widgets stand. The PDF engine and the CA stand in for
// the pades and ca packages where a test does not need them; the ledger, SMTP and SMS parts
// are the real protocols.
package ceremonytest
