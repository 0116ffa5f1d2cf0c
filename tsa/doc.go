// Package tsa is Paraphe's RFC 3161 time-stamp authority, profiled by ETSI EN 319 422.
//
// What it guarantees:
//
//   - Every answer to a request is a DER TimeStampResp. A refusal is a PKIStatus rejection with
//     exactly one failInfo bit (badAlg, badDataFormat, unacceptedPolicy, unacceptedExtension,
//     timeNotAvailable or systemFailure) and a short statusString; a request is never answered
//     with an HTTP error except for a wrong method (405), a wrong content type (415) or an
//     oversized body (413).
//   - A granted token carries the policy (always), accuracy (1 s by default), genTime in UTC,
//     ordering false, the request's nonce echoed byte for byte, the request's messageImprint
//     byte for byte, and a signed ESSCertIDv2 naming the TSU certificate. Only SHA-256, SHA-384
//     and SHA-512 imprints of the right length are stamped; request extensions are never
//     copied into a token and a critical one is refused.
//   - genTime is the clock reading rounded to the precision the encoding uses (whole seconds
//     for an accuracy of one second or more), and no token is issued unless the clock's
//     error bound plus that rounding error stays within the declared accuracy. A clock that
//     NTP cannot vouch for, or whose wall time stepped, stops issuance until it is trusted again.
//   - Serial numbers never repeat: each is a persisted, fsynced boot counter, a per-boot
//     sequence number and 64 random bits, so two TSAs sharing a state directory, or one
//     restarted any number of times, never reuse a serial.
//   - No key material, imprint or nonce is logged.
//
// Tokens are encoded by this package directly (DER, no reflection) because the library's
// encoder picks its own serial number, cannot be told the request's version, and dominates the
// cost per token. Requests are parsed strictly here; github.com/digitorus/timestamp parses
// tokens for verification and serves as the reference parser in the fuzz tests.
package tsa
