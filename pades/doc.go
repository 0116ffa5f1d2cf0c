// Package pades prepares PDF documents for signing, signs them with PAdES baseline signatures
// (B-T, B-LT, B-LTA) written as incremental updates, and verifies signed PDFs.
//
// Guarantees:
//
//   - Prepare refuses encrypted, truncated, malformed and non-PDF input, decompression bombs,
//     reference loops, excessive nesting and oversized page or field counts with an error that
//     names the problem. It adds every form field of every signer in a single rewrite, before
//     any signature exists, so no later step ever rewrites the file.
//   - Sign, AddLTV and AddDocumentTimestamp only append: the bytes of the input are copied
//     unchanged and every earlier signature stays valid. The ByteRange covers the whole output
//     except the /Contents hex string, and the ranges are hashed by streaming.
//   - Signatures use /SubFilter /ETSI.CAdES.detached with the signed attributes contentType,
//     messageDigest and signingCertificateV2 (never signingTime) and carry a signature
//     timestamp as the unsigned attribute id-aa-timeStampToken.
//   - Verify checks every signature against the certificate that actually produced it (the
//     one its SignerInfo identifies, bound by signingCertificateV2), its timestamp, its chain
//     to the given roots, and classifies every change made after it. It never trusts
//     a certificate only because it is the first one in the CMS bag.
//   - Values drawn into a PDF are text, never PDF syntax.
//
// The PDF reader in this package is lazy and bounded: it reads only the objects it needs,
// never decompresses more than Limits allows, and detects reference loops.
package pades
