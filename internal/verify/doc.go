// Package verify checks a live Matrix homeserver the way a federation
// tester does: delegation through .well-known, server discovery as the
// Matrix specification orders it, TLS on the federation and client
// endpoints, the federation and client APIs, the registration mode and,
// when credentials are given, a full client round trip.
//
// Run performs one pass of all checks concurrently, each under its own
// timeout, and returns a Report. RunUntilPass repeats Run until every check
// passes or a time window ends. Matrix protocol details (server name
// resolution, signed JSON, client calls) come from maunium.net/go/mautrix.
//
// Network gives tests and operators control over where connections go: a
// curl-style --resolve map, extra trusted roots and a DNS resolver that is
// used for SRV and address lookups.
package verify
